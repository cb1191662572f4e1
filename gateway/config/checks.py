"""Reading one TOML table and checking its values: every problem becomes one line naming file, key and
problem (`ConfigError`)."""

from __future__ import annotations

import difflib
import enum
import ipaddress
import re
from collections.abc import Callable
from datetime import time
from typing import Any
from urllib.parse import urlsplit

from ..addresses import phone_info
from ..model import GLOBAL_SCOPE, ConsentLevel
from ..policy.codes import REGISTRY
from ..policy.settings import DAY_NAMES
from ..secrets import is_secret_hash


class ConfigError(Exception):
    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}" if key else f"{file}: {problem}")


class _Invalid(Exception):
    """A value's problem; the section reading it adds file and key."""


_MISSING = object()
Check = Callable[[Any], Any]


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


class _Section:
    """One TOML table being read: each key is taken with its check; leftovers are unknown keys."""

    def __init__(self, file: str, where: str, data: Any) -> None:
        self.file, self.where = file, where
        if not isinstance(data, dict):
            raise ConfigError(file, where, f"expected a table, got {_type_name(data)}")
        self.data = data
        self.known: list[str] = []

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def take(self, name: str, check: Check, default: Any = _MISSING) -> Any:
        self.known.append(name)
        if name not in self.data:
            if default is _MISSING:
                raise ConfigError(self.file, self.key(name), "required key is missing")
            return default
        try:
            return check(self.data[name])
        except _Invalid as exc:
            raise ConfigError(self.file, self.key(name), str(exc)) from None

    def table(self, name: str) -> _Section:
        self.known.append(name)
        return _Section(self.file, self.key(name), self.data.get(name, {}))

    def done(self) -> None:
        for name in self.data:
            if name not in self.known:
                close = difflib.get_close_matches(name, self.known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(self.file, self.key(name), f"unknown key{hint}")


# -- value checks ----------------------------------------------------------------------------------------


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_type_name(value)}")
    return value


def _nonempty(value: Any) -> str:
    if not _string(value).strip():
        raise _Invalid("must not be empty")
    return value.strip()


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_type_name(value)}")
    return value


def _integer(low: int, high: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"expected an integer, got {_type_name(value)}")
        if not low <= value <= high:
            raise _Invalid(f"{value} is out of range ({low} to {high})")
        return value

    return check


def _list_of(check: Check, *, unique: bool = False) -> Check:
    def checked(value: Any) -> tuple:
        if not isinstance(value, list):
            raise _Invalid(f"expected a list, got {_type_name(value)}")
        items = []
        for i, item in enumerate(value):
            try:
                items.append(check(item))
            except _Invalid as exc:
                raise _Invalid(f"item {i + 1}: {exc}") from None
        if unique and len(set(items)) != len(items):
            raise _Invalid("has duplicate items")
        return tuple(items)

    return checked


def _choice(enum_type: type[enum.Enum]) -> Check:
    def check(value: Any) -> Any:
        try:
            return enum_type(_string(value))
        except ValueError:
            raise _Invalid(f"{value!r} is not one of {', '.join(m.value for m in enum_type)}") from None

    return check


def _consent_level(value: Any) -> ConsentLevel:
    try:
        return ConsentLevel.parse(_string(value))
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _hhmm(value: Any) -> time:
    text = _string(value)
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if (
        not m
        or int(m.group(1)) > 24
        or int(m.group(2)) > 59
        or (int(m.group(1)) == 24 and m.group(2) != "00")
    ):
        raise _Invalid(f"{text!r} is not a time of day (HH:MM, 00:00 to 24:00)")
    hour, minute = int(m.group(1)), int(m.group(2))
    return time.max if hour == 24 else time(hour, minute)


def _days(value: Any) -> frozenset[int]:
    """ "mon-fri", "sat,sun", "sun" or a list of day names."""
    items = [_string(v) for v in value] if isinstance(value, list) else _string(value).split(",")
    days: set[int] = set()
    for item in items:
        first, _, last = item.strip().lower().partition("-")
        try:
            a = DAY_NAMES.index(first[:3])
            b = DAY_NAMES.index(last[:3]) if last else a
        except ValueError:
            raise _Invalid(f"{item!r} is not a day or day range (mon, tue, ..., sun; mon-fri)") from None
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    return frozenset(days)


def _nameserver(value: Any) -> tuple[str, int]:
    """A DNS server to ask: an IP address and port (a resolver is not looked up by name)."""
    host, port = _listen(value)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise _Invalid(f"{host!r} is not an IP address (a DNS server is named by its address)") from None
    return host, port


def _listen(value: Any) -> tuple[str, int]:
    text = _string(value)
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", text)
    if not m:
        raise _Invalid(f"{text!r} is not host:port (e.g. 127.0.0.1:2525 or [::1]:2525)")
    host, port = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    if not 0 < int(port) < 65536:
        raise _Invalid(f"port {port} is out of range (1 to 65535)")
    if m.group(1):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _Invalid(f"{host!r} is not an IPv6 address") from None
    return host, int(port)


def _cidr(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(_string(value), strict=False)
    except ValueError:
        raise _Invalid(f"{value!r} is not a CIDR network (e.g. 10.0.0.0/8)") from None


def _matching(pattern: str, problem: str) -> Check:
    """A string that matches `pattern` in full; `problem` says what it should have been."""
    compiled = re.compile(pattern)

    def check(value: Any) -> str:
        text = _string(value)
        if not compiled.fullmatch(text):
            raise _Invalid(f"{text!r} {problem}")
        return text

    return check


_env_name = _matching(r"[A-Za-z_][A-Za-z0-9_]*", "is not an environment variable name")
_account_sid = _matching(r"AC[0-9a-fA-F]{32}", "is not a Twilio account SID (AC followed by 32 hex digits)")
_api_key_sid = _matching(r"SK[0-9a-fA-F]{32}", "is not a Twilio API key SID (SK followed by 32 hex digits)")
_service_sid = _matching(
    r"MG[0-9a-fA-F]{32}", "is not a Twilio messaging service SID (MG followed by 32 hex digits)"
)
_dkim_selector = _matching(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    "is not a DKIM selector (DNS labels)",
)
_area_code = _matching(r"[2-9]\d\d", 'is not a North American area code (three digits, e.g. "305")')


def _secret_hash(value: Any) -> str:
    text = _string(value)
    if not is_secret_hash(text):
        raise _Invalid("is not a scrypt hash (make one with: gateway hash-secret)")
    return text


def _url(schemes: tuple[str, ...]) -> Check:
    def check(value: Any) -> str:
        text = _string(value)
        parts = urlsplit(text)
        if parts.scheme not in schemes or not parts.netloc:
            raise _Invalid(f"{text!r} is not a {'/'.join(schemes)} URL")
        return text.rstrip("/")

    return check


def _database(value: Any) -> str:
    text = _string(value)
    if text.startswith("sqlite:///") and len(text) > len("sqlite:///"):
        return text
    if re.match(r"postgres(?:ql)?://", text):
        return text
    raise _Invalid(f"{text!r} is not a database URL (sqlite:///var/gateway.db or postgresql://user@host/db)")


def _upstream(value: Any) -> str:
    text = _string(value)
    if text.startswith("maildir:") and len(text) > len("maildir:"):
        return text
    parts = urlsplit(text)
    if parts.scheme in ("smtp", "smtps") and parts.hostname:
        try:
            _ = parts.port  # raises ValueError for a port that is not a number in range
        except ValueError:
            raise _Invalid(f"{text!r} has a bad port") from None
        return text
    raise _Invalid(f"{text!r} is not an upstream (maildir:PATH, smtp://host:port or smtps://host:port)")


def _domain(value: Any) -> str:
    text = _string(value).strip().lower().rstrip(".")
    if not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}", text):
        raise _Invalid(f"{value!r} is not a domain name")
    return text


def _domain_or_localhost(value: Any) -> str:
    text = _string(value)
    return text if text == "localhost" else _domain(text)


def _mailbox(value: Any) -> str:
    text = _string(value).strip()
    if not re.fullmatch(r"[^@\s<>]+@(?:[a-z0-9-]+\.)*[a-z0-9-]+", text, re.IGNORECASE):
        raise _Invalid(f"{text!r} is not an email address")
    return text


def _e164(value: Any) -> str:
    text = _string(value)
    if phone_info(text) is None:
        raise _Invalid(f"{text!r} is not a valid phone number in E.164 form (+15005550006)")
    return text


def _regex(value: Any) -> str:
    text = _string(value)
    try:
        re.compile(text)
    except re.error as exc:
        raise _Invalid(f"{text!r} is not a valid regular expression: {exc}") from None
    return text


def _sender_name(value: Any) -> str:
    text = _string(value)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", text) or text == GLOBAL_SCOPE:
        raise _Invalid(f"{text!r} must be lower-case letters, digits, '_', '.' or '-' (and not 'global')")
    return text


def _email_consent(value: Any) -> ConsentLevel | None:
    if isinstance(value, bool):
        return ConsentLevel.IMPLIED if value else None
    return _consent_level(value)


def _violation_code(value: Any) -> str:
    text = _string(value)
    if text not in REGISTRY:
        raise _Invalid(f"{text!r} is not a violation code (one of {', '.join(REGISTRY)})")
    return text


def _choice_str(options: tuple[str, ...]) -> Check:
    def check(value: Any) -> str:
        if _string(value) not in options:
            raise _Invalid(f"{value!r} is not one of {', '.join(options)}")
        return value

    return check


def _banner(value: Any) -> str:
    text = _nonempty(value)
    if len(text) > 200 or not all(" " <= c <= "~" for c in text):
        raise _Invalid("printable ASCII on one line, at most 200 characters")
    return text
