"""Whether a link's host can work for a reader on the public internet, judged without touching the network
(CAN-SPAM 15 U.S.C. 7704(a)(3)(A)(i): the opt-out mechanism must be "functioning"; a link to a machine no
reader can reach is not one).

A host cannot work when it is:
- missing or not a host name (labels of letters, digits and hyphens, or their IDN forms; at most 253
  characters, each label at most 63), or a single label (`http://intranet/`: no public name);
- an IP address outside the public internet (loopback, private, link-local, shared CGNAT space,
  unspecified, multicast, reserved, documentation ranges): every form a browser reads as an address
  counts, the WHATWG URL standard's numeric IPv4 forms included (`http://2130706433/`, `0x7f.1`);
- a name reserved so that it never resolves publicly: `localhost` (RFC 6761 6.3), `.invalid` (6.4),
  `.local` (RFC 6762), `home.arpa` (RFC 8375), `.onion` (RFC 7686: Tor only), `.internal` (ICANN, 2024),
  `.alt` (RFC 9476);
- port 0.

The names reserved for documentation and testing (`.example`, `example.com`/`.net`/`.org`: RFC 2606 and
RFC 6761 6.5; `.test`: 6761 6.2) never resolve either, but examples, templates and test corpora are
written with them: they count as working unless `policy.allow_example_domains = false`, the production
setting, under which a template's placeholder domain is caught.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_NEVER_PUBLIC = ("localhost", "invalid", "local", "onion", "internal", "alt", "home.arpa")
_EXAMPLES = ("example", "test", "example.com", "example.net", "example.org")
_LABEL = re.compile(r"(?!-)[a-z0-9\-\u00a1-\U0010ffff]{1,63}(?<!-)", re.IGNORECASE)
_NUMBER = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*", re.IGNORECASE)


def _under(host: str, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if host == n or host.endswith("." + n)), None)


def _whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a browser reads in a host whose last label is a number (WHATWG URL, IPv4 parser):
    `127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`. None when the host is not such a number; ValueError
    when it looks like one but is not a valid address (a browser refuses the URL)."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or not _NUMBER.fullmatch(parts[-1]) or len(parts) > 4:
        if parts and _NUMBER.fullmatch(parts[-1]):
            raise ValueError("too many parts for an IPv4 address")
        return None
    numbers = []
    for part in parts:
        if not _NUMBER.fullmatch(part):
            raise ValueError(f"{part!r} is not a number")
        base = 16 if part[:2].lower() == "0x" else 8 if len(part) > 1 and part[0] == "0" else 10
        digits = part[2:] if base == 16 else part
        numbers.append(int(digits, base) if digits else 0)
    *first, last = numbers
    if any(n > 255 for n in first) or last >= 256 ** (5 - len(numbers)):
        raise ValueError("a part is out of range")
    value = last
    for i, n in enumerate(first):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return None
    kind = next(
        (
            name
            for name, flag in (
                ("a loopback", address.is_loopback),
                ("a link-local", address.is_link_local),
                ("the unspecified", address.is_unspecified),
                ("a multicast", address.is_multicast),
                ("a reserved", address.is_reserved),
                ("a private or special-purpose", address.is_private),
            )
            if flag
        ),
        "a special-purpose",
    )
    return f"{address} is {kind} address, not reachable from the internet"


def host_problem(host: str, *, allow_examples: bool = True) -> str | None:
    """Why a link or mail domain `host` (without port) cannot work for a reader, or None when it can."""
    host = host.strip().lower()
    if not host:
        return "the link names no host"
    if host.startswith("[") and host.endswith("]"):
        try:
            return _address_problem(ipaddress.IPv6Address(host[1:-1].split("%", 1)[0]))
        except ValueError:
            return f"{host!r} is not an IPv6 address"
    try:
        numeric = _whatwg_ipv4(host)
    except ValueError as exc:
        return f"{host!r} is not a valid address ({exc})"
    if numeric is not None:
        return _address_problem(numeric)
    name = host.rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"{host!r} is not a valid host name"
    reserved = _under(name, _NEVER_PUBLIC)
    if reserved is not None:
        return f"{host!r} is under {reserved!r}, a name reserved never to resolve on the internet"
    if len(labels) == 1:
        return f"{host!r} is a single-label name, which no reader outside a private network can reach"
    if not allow_examples and (reserved := _under(name, _EXAMPLES)) is not None:
        return f"{host!r} is under {reserved!r}, reserved for documentation and tests"
    return None


def url_problem(url: str, *, allow_examples: bool = True) -> str | None:
    """Why an http(s) link cannot work for a reader (its host, its port), or None when it can."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # ValueError when it is not a number from 0 to 65535
    except ValueError:
        return f"{url[:80]!r} is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"{url[:80]!r} is not an http(s) link"
    host = parts.hostname or ""  # lower-cased, without user, port or an IPv6 address's brackets
    if ":" in host:
        host = f"[{host}]"
    if port == 0:
        return "port 0 cannot be connected to"
    return host_problem(host, allow_examples=allow_examples)
