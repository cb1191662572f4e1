"""What both store engines share: the values they take and give (imports, claims, held texts, audit
entries, decision filters), the text form of times, the ids, and the decision's row. The interface
itself is interface.py."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import overload

from ..addresses import address_hash, channel_and_address
from ..model import Category, Channel, Decision, Violation


class StoreError(Exception):
    """The store cannot answer (unreachable, locked, corrupt). Callers must not pass a message without facts."""


# Twilio's Messages fields as a client gave them: each a text, but MediaUrl, which may come several times
# (an MMS album: Twilio takes up to ten)
Fields = dict[str, str | list[str]]


def field_text(fields: Fields, name: str) -> str | None:
    """A field that is one text (To, From, Body, ...): as given, or None when absent."""
    value = fields.get(name)
    return value if isinstance(value, str) or value is None else (value[0] if value else None)


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    skipped: int  # already present
    rejected: int  # rows that were not valid
    errors: tuple[str, ...]  # the first few problems, "line N: why"


@dataclass(frozen=True, slots=True)
class SendClaim:
    """A text about to go out, to be counted against the caps on its number in the same transaction."""

    channel: Channel
    address: str
    sender: str
    category: Category
    at: datetime
    caps: tuple[tuple[int, int], ...] = ()  # (limit, hours); none: recorded without a check
    enforce: bool = True  # monitor mode: recorded even over a cap


@dataclass(frozen=True, slots=True)
class ClaimResult:
    send_id: int | None  # None: a cap is full and nothing was recorded
    recent: tuple[datetime, ...] = ()  # the marketing sends counted, newest first (when refused)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A text the outbox provider took: stored as sent."""

    id: str  # the provider id, "SM" + 32 hex digits, as Twilio's
    at: datetime
    sender: str
    recipient: str
    from_number: str | None
    body: str
    category: Category
    fields: Fields  # every provider field the client gave


@dataclass(frozen=True, slots=True)
class DeferredText:
    """A text held until `send_at` (quiet hours, or the client's own schedule), durable across restarts."""

    id: str  # also its decision's id
    created_at: datetime
    send_at: datetime
    sender: str
    recipient: str
    from_number: str | None
    body: str
    category: Category
    fields: Fields
    api: str  # "v1" or "twilio": the door it came through
    state: str = "pending"  # pending, sending, sent, rejected, failed
    attempts: int = 0
    last_error: str = ""
    claimed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Erasure:
    """What `forget` changed, table by table."""

    decisions: int = 0
    suppressions: int = 0  # entries now stored hashed
    consents: int = 0
    outbox: int = 0
    held: int = 0  # held texts cancelled or scrubbed


@dataclass(frozen=True, slots=True)
class OptOutRequest:
    """An opt-out request a person must act on (one held for review, one an operator entered late): when
    it was received, when the law wants it honoured by, and when and how it was closed."""

    channel: Channel
    address_hash: str
    address: str | None
    scope: str
    source: str  # where it came from, and the rule its deadline is under
    received_at: datetime
    due_at: datetime
    closed_at: datetime | None = None
    outcome: str = ""  # "" open, "honoured", "dismissed", "erased"
    honour_seconds: float | None = None  # receipt to honour, when honoured
    id: int | None = None

    def overdue(self, at: datetime) -> bool:
        return (self.closed_at or at) > self.due_at


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A change to the suppression list or the consent ledger, and who (or what) made it; written in the
    same transaction as the change, but for an import, whose batches are audited by one entry after them
    (gateway/lists/service.py makes every one)."""

    actor: str  # "console 192.0.2.7", "cli alice", "api ops", "one-click", "sms reply"
    action: str  # suppression.add | suppression.remove | suppression.import | consent.add | consent.revoke | erasure
    channel: Channel | None  # None: several (an import)
    address: str | None  # None once erased, or when only the hash was ever known (the hash stays)
    scope: str
    detail: str = ""
    at: datetime = field(default_factory=lambda: now())
    address_hash: str = ""  # of `address` when that is given


@dataclass(frozen=True, slots=True)
class TextQuery:
    """Filters on a sender's texts, as Twilio's Messages list takes them; every one optional."""

    to: str | None = None
    origin: str | None = None  # the From number
    since: datetime | None = None  # sent at or after
    until: datetime | None = None  # sent before


@dataclass(frozen=True, slots=True)
class TextRecord:
    """A text in the log (its decision, whose `message_id` is the text's sid) and the latest delivery
    status the provider's callbacks reported for it, if any."""

    decision: Decision
    status: str | None = None
    error_code: int | None = None
    status_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DecisionQuery:
    """Filters on the decision log; every one optional."""

    verdict: str | None = None
    channel: str | None = None
    code: str | None = None
    sender: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None  # part of the recipient or the subject/excerpt, any case
    recipient_hash: str | None = None  # one recipient exactly (by the hash, so erased ones match too)

    def where(self, text_match: Callable[[str], tuple[str, list] | None] | None = None) -> tuple[str, list]:
        """The SQL conditions, written with `?` parameters as both engines take them, and their arguments.
        A search for a whole address or number is a lookup by its hash (an index), not a scan; a search
        for part of one goes through the engine's text index (`text_match`) when it has one for it."""
        conditions, args = [], []
        if self.text and self.recipient_hash is None:
            try:
                _, whole = channel_and_address(self.text.strip())
            except ValueError:
                whole = None
            if whole is not None:
                return _replace(self, text=None, recipient_hash=address_hash(whole)).where(text_match)
        for column in ("verdict", "channel", "sender"):
            value = getattr(self, column)
            if value is not None:
                conditions.append(f"{column} = ?")
                args.append(value)
        if self.code is not None:
            conditions.append("(' ' || codes || ' ') LIKE ?")
            args.append(f"% {self.code} %")
        if self.since is not None:
            conditions.append("at >= ?")
            args.append(to_text(self.since))
        if self.until is not None:
            conditions.append("at < ?")
            args.append(to_text(self.until))
        if self.recipient_hash is not None:
            conditions.append("recipient_hash = ?")
            args.append(self.recipient_hash)
        indexed = text_match(self.text) if self.text and text_match else None
        if indexed is not None:
            conditions.append(indexed[0])
            args += indexed[1]
        elif self.text:
            pattern = like_pattern(self.text)
            conditions.append(TEXT_LIKE)
            args += [pattern, pattern]
        return (" AND ".join(conditions) or "1 = 1"), args


# part of a recipient or subject, any case; its two parameters are `like_pattern(text)`
TEXT_LIKE = "(lower(recipient) LIKE ? ESCAPE '\\' OR lower(excerpt) LIKE ? ESCAPE '\\')"


def like_pattern(text: str) -> str:
    """`%text%` for LIKE with backslash as its escape: `text` matched literally (its % and _ too), any case."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True, slots=True)
class SummaryRow:
    day: str  # YYYY-MM-DD, UTC
    sender: str
    channel: str
    verdict: str
    code: str  # "" for decisions without a violation
    count: int


def now() -> datetime:
    return datetime.now(UTC)


@overload
def to_text(at: datetime) -> str: ...
@overload
def to_text(at: None) -> None: ...
@overload
def to_text(at: datetime | None) -> str | None: ...
def to_text(at: datetime | None) -> str | None:
    """Fixed-width UTC ISO 8601, so that text order is time order (None stays None)."""
    return None if at is None else _utc_text(at)


@lru_cache(maxsize=4096)  # imports and batches repeat the same times; isoformat() is not free
def _utc_text(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


@overload
def from_text(text: str) -> datetime: ...
@overload
def from_text(text: None) -> None: ...
@overload
def from_text(text: str | None) -> datetime | None: ...
def from_text(text: str | None) -> datetime | None:
    """A time `to_text` wrote (None for a column left empty)."""
    return None if text is None else datetime.fromisoformat(text)


class _Ids:
    """Ids in the order they are made: the microsecond of the last one plus one when the clock has not
    moved on (several ids a microsecond), then 4 random bytes. The random bytes are drawn from os.urandom
    4 KiB at a time rather than one system call per id; a forked child starts afresh (and with a lock of
    its own), so no two processes hand out the same bytes."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new start: a forked child's own lock, and no random bytes its parent also holds."""
        self._lock = threading.Lock()
        self._pool, self._at, self._last = b"", 0, 0

    def next(self) -> str:
        now = time.time_ns() // 1000
        with self._lock:
            self._last = now = max(now, self._last + 1)
            if self._at + 4 > len(self._pool):
                self._pool, self._at = os.urandom(4096), 0
            chunk = self._pool[self._at : self._at + 4]
            self._at += 4
        return f"{now:013x}{chunk.hex()}"


_IDS = _Ids()
os.register_at_fork(after_in_child=lambda: _IDS.reset())


def new_id() -> str:
    """Time-ordered unique id: 13 hex digits of microseconds, then 8 random hex digits."""
    return _IDS.next()


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """Text any store takes: PostgreSQL refuses NUL in text, neither engine can encode a lone surrogate
    (what a subject's undecodable bytes may leave): NUL dropped, a surrogate made U+FFFD."""
    return (
        _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)
        if _UNSTORABLE.search(text)
        else text
    )


def decision_row(d: Decision, recipient_hash: str) -> dict:
    return {
        "id": d.id,
        "at": to_text(d.at),
        "channel": d.channel.value,
        "sender": d.sender,
        "recipient": d.recipient,
        "recipient_hash": recipient_hash,
        "category": d.category.value,
        "verdict": d.verdict.value,
        "codes": " ".join(dict.fromkeys(v.code for v in d.violations)),
        "violations": json.dumps([v.as_dict() for v in d.violations]),
        "excerpt": storable(d.excerpt),
        "size": d.size,
        "upstream": storable(d.upstream),
        "message_id": storable(d.message_id),
        "digest": d.digest,
        "origin": storable(d.origin),
        "detail": storable(d.detail).replace("\\u0000", ""),  # (JSON's NUL: PostgreSQL's jsonb refuses it)
    }


def decision_from_row(row: dict) -> Decision:
    from ..model import Verdict

    return Decision(
        id=row["id"],
        at=from_text(row["at"]),
        channel=Channel(row["channel"]),
        sender=row["sender"],
        recipient=row["recipient"],
        category=Category(row["category"]),
        verdict=Verdict(row["verdict"]),
        violations=tuple(
            Violation(v["code"], v["message"], v.get("recipient"))
            for v in json.loads(row["violations"] or "[]")
        ),
        excerpt=row["excerpt"] or "",
        size=row["size"] or 0,
        upstream=row["upstream"] or "",
        message_id=row.get("message_id") or "",  # (absent from journals written before version 5)
        digest=row.get("digest") or "",
        origin=row.get("origin") or "",  # (absent from journals written before version 8)
        detail=row.get("detail") or "",
    )


def dnc_number(e164: str) -> str:
    """How the Do-Not-Call tables keep a North American number: its ten digits, as the registries list it."""
    return e164.removeprefix("+1")


def text_record(row: dict) -> TextRecord:
    """A row of `queries.text`/`queries.texts`: the decision's columns and the callback's (cb_*)."""
    error = row.get("cb_error")
    return TextRecord(
        decision_from_row(row),
        row.get("cb_status"),
        int(error) if error is not None else None,
        from_text(row.get("cb_at")),
    )


# Free text that may quote an address someone asked to have erased (a note, the words of a STOP text, a
# consent's evidence): erasure blanks it in the person's own rows and takes the address out of any other.
FREE_TEXT = (
    ("suppressions", "source"),
    ("optout_requests", "source"),
    ("consents", "source"),
    ("consents", "evidence"),
    ("audit", "detail"),
)


# An erased person's requests on the deadline clock: no address, no source (it may quote them), an open one
# closed as erased (the person is suppressed for good by the erasure itself).
ERASE_OPTOUT_REQUESTS = (
    "UPDATE optout_requests SET address = NULL, source = '', closed_at = COALESCE(closed_at, ?), "
    "outcome = CASE WHEN outcome = '' THEN 'erased' ELSE outcome END WHERE channel = ? AND address_hash = ?"
)


def without(text: str, address: str) -> str:
    """`text` with every occurrence of `address` (any case) made `[erased]`."""
    return re.sub(re.escape(address), "[erased]", text, flags=re.IGNORECASE)


def erased_row(row: dict) -> dict:
    """A decision row as erasure leaves one: the recipient by hash, no excerpt, no upstream answer, no
    text's body, the violations' codes without their messages (which may quote the address)."""
    recipient = str(row.get("recipient", ""))
    if recipient.startswith("sha256:"):
        return row
    ahash = row.get("recipient_hash") or address_hash(recipient)
    found = json.loads(row.get("violations") or "[]")
    codes = json.dumps([{"code": v.get("code", ""), "message": ""} for v in found])
    return {
        **row,
        "recipient": f"sha256:{ahash}",
        "excerpt": "",
        "upstream": "",
        "violations": codes,
        "detail": erased_detail(row.get("detail") or ""),
    }


ERASED_DETAIL_KEYS = ("body", "error_message", "evidence")  # what a detail may quote of the person


def erased_detail(text: str) -> str:
    """A text's detail without its body and the provider's error message (which may quote the number);
    its status, times and media count stay."""
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return ""
    if not isinstance(found, dict):
        return ""
    return json.dumps({k: v for k, v in found.items() if k not in ERASED_DETAIL_KEYS}) if found else ""


def erased_values(columns: Sequence[str], values: tuple) -> tuple:
    """`erased_row` for a row given as values in `columns` order."""
    row = erased_row(dict(zip(columns, values)))
    return tuple(row[c] for c in columns)
