"""What the suppression list and the consent ledger accept, whichever door a change comes through (the
command line, the HTTP API, the ops console, an import, the opt-out loop). Each check returns the value
as stored, or raises `ListsError` saying what is wrong in words a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime

from ..addresses import channel_and_address, looks_hashed
from ..model import GLOBAL_SCOPE, Channel, ConsentBasis, ConsentLevel, Reason
from ..times import YEARS, instant

MAX_ADDRESS = 320
MAX_SOURCE = 200
MAX_EVIDENCE = 2000
MAX_NOTE = 500

# Suppressions no one lifts by hand: an erasure request (GDPR Art. 17, CCPA deletion) is kept, hashed, for
# good, so the person is never messaged again (and their data never comes back).
PERMANENT_REASONS = frozenset({Reason.ERASED})


class ListsError(ValueError):
    """A change the lists refuse. `kind` says how a door reports it: `invalid` input (HTTP 400, exit 2),
    or a `permanent` entry that may not be lifted (HTTP 409, exit 1). `code` names it for the HTTP API."""

    def __init__(self, code: str, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.code, self.message, self.kind = code, message, kind


def channel(value: object) -> Channel | None:
    """A channel named by a client ("email", "sms"), or None when it is left to the address."""
    if value is None or value == "":
        return None
    if isinstance(value, Channel):
        return value
    if value not in ("email", "sms"):
        raise ListsError("BAD_CHANNEL", "channel must be 'email' or 'sms'")
    return Channel(value)


def address(text: object, chosen: object = None) -> tuple[Channel, str]:
    """The channel and normalized form of an email address or E.164 number (the channel from the address
    when none is given: email if it has an @)."""
    if not isinstance(text, str) or not text.strip():
        raise ListsError("MISSING_ADDRESS", "an address is required: an email address or an E.164 number")
    if len(text) > MAX_ADDRESS:
        raise ListsError("INVALID_ADDRESS", f"an address has at most {MAX_ADDRESS} characters")
    picked = channel(chosen)
    try:
        return channel_and_address(text.strip(), picked.value if picked else None)
    except ValueError as exc:
        raise ListsError("INVALID_ADDRESS", str(exc)) from None


def hashed_address(text: object) -> str:
    """An address known only by its SHA-256 (64 lower-case hex digits), as erased entries are kept."""
    value = text.strip().lower() if isinstance(text, str) else ""
    if not looks_hashed(value):
        raise ListsError("INVALID_ADDRESS", "an address hash is 64 hex digits (SHA-256 of the address)")
    return value


def scope(value: object, known: Collection[str]) -> str:
    """`global` or a configured sender's name."""
    if not isinstance(value, str) or (value != GLOBAL_SCOPE and value not in known):
        names = ", ".join(sorted(known)) or "none configured"
        raise ListsError(
            "BAD_SCOPE", f"unknown sender {value!r}: a scope is 'global' or a configured sender ({names})"
        )
    return value


def reason(value: object, default: Reason | None = None) -> Reason | None:
    if value is None or value == "":
        return default
    if isinstance(value, Reason):
        return value
    try:
        return Reason(str(value).strip().lower())
    except ValueError:
        raise ListsError(
            "BAD_REASON", f"reason {value!r} is not one of {', '.join(r.value for r in Reason)}"
        ) from None


def level(value: object) -> ConsentLevel:
    """A consent level; `none` is one (a recorded refusal, e.g. unticked on an order form)."""
    if isinstance(value, ConsentLevel):
        return value
    if not isinstance(value, str):
        raise ListsError(
            "BAD_LEVEL", "a consent level is required: " + ", ".join(lv.label for lv in ConsentLevel)
        )
    try:
        return ConsentLevel.parse(value)
    except ValueError as exc:
        raise ListsError("BAD_LEVEL", str(exc)) from None


def basis(value: object) -> ConsentBasis:
    """What a consent rests on: given (the default), purchase, inquiry, soft_opt_in, published."""
    if value is None or isinstance(value, ConsentBasis):
        return value or ConsentBasis.GIVEN
    if not isinstance(value, str):
        raise ListsError(
            "BAD_BASIS", "a consent basis is a word: given, purchase, inquiry, soft_opt_in, published"
        )
    try:
        return ConsentBasis.parse(value)
    except ValueError as exc:
        raise ListsError("BAD_BASIS", str(exc)) from None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def text(value: object, name: str, limit: int, *, lines: bool = False) -> str:
    """A short text a person wrote (source, evidence, note): trimmed, at most `limit` characters, no
    control characters; on one line unless `lines`."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ListsError("BAD_REQUEST", f"{name} must be text")
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip() if lines else " ".join(value.split())
    if len(value) > limit:
        raise ListsError("BAD_REQUEST", f"{name} has {len(value)} characters; at most {limit}")
    if _CONTROL.search(value) or (not lines and "\n" in value):
        raise ListsError("BAD_REQUEST", f"{name} has control characters")
    return value


def cleaned(value: str, limit: int) -> str:
    """Text a machine made from what a stranger sent (the Status line of a bounce report, the words of a
    STOP text): on one line, without control characters, cut to `limit`. Never refused: the opt-out it
    describes must not be lost over its wording."""
    return _CONTROL.sub("", " ".join(value.split()))[:limit]


def when(value: object, name: str) -> datetime | None:
    """An ISO 8601 time (no offset means UTC), in UTC; None when not given."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, datetime):
            return instant(value.isoformat())
        return instant(str(value))
    except ValueError:
        raise ListsError(
            "BAD_TIME",
            f"{name} {value!r} is not an ISO 8601 time in {YEARS} (e.g. 2026-05-01T14:30:00-04:00)",
        ) from None


def lifting_refused(entry_reason: Reason) -> str | None:
    """Why a suppression with this reason may not be removed, or None if it may."""
    if entry_reason in PERMANENT_REASONS:
        return "An erasure cannot be undone: the person asked for their data to be deleted."
    return None
