"""The store interface every engine implements, and the conversions they share.

Async throughout so that a networked engine (PostgreSQL) fits behind it; the embedded SQLite engine
answers from the calling thread, its queries being a few microseconds each.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

from ..addresses import address_hash, channel_and_address
from ..model import Category, Channel, Consent, Decision, RecipientFacts, Suppression, Violation


class StoreError(Exception):
    """The store cannot answer (unreachable, locked, corrupt). Callers must not pass a message without facts."""


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
    fields: dict[str, str]  # every provider field the client gave


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
    fields: dict[str, str]
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
class AuditEntry:
    """A change to the suppression list or the consent ledger, and who (or what) made it; written in the
    same transaction as the change (gateway/lists/service.py makes every one)."""

    actor: str  # "console 192.0.2.7", "cli alice", "api ops", "one-click", "sms reply"
    action: str  # suppression.add | suppression.remove | suppression.import | consent.add | consent.revoke | erasure
    channel: Channel | None  # None: several (an import)
    address: str | None  # None once erased, or when only the hash was ever known (the hash stays)
    scope: str
    detail: str = ""
    at: datetime = field(default_factory=lambda: now())
    address_hash: str = ""  # of `address` when that is given


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


@lru_cache(maxsize=4096)  # imports and batches repeat the same times; isoformat() is not free
def to_text(at: datetime | None) -> str | None:
    """Fixed-width UTC ISO 8601, so that text order is time order."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class _Ids:
    """Ids in the order they are made: the microsecond of the last one plus one when the clock has not
    moved on (several ids a microsecond), then 4 random bytes. The random bytes are drawn from os.urandom
    4 KiB at a time rather than one system call per id; a forked child starts afresh (and with a lock of
    its own), so no two processes hand out the same bytes."""

    def __init__(self) -> None:
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
os.register_at_fork(after_in_child=_IDS.__init__)


def new_id() -> str:
    """Time-ordered unique id: 13 hex digits of microseconds, then 8 random hex digits."""
    return _IDS.next()


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
        "excerpt": d.excerpt,
        "size": d.size,
        "upstream": d.upstream,
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
    )


class DecisionPages:
    """`iter_decisions` for an engine, from its `decisions` pages."""

    async def iter_decisions(
        self, query: DecisionQuery | None = None, batch: int = 1000
    ) -> AsyncIterator[Decision]:
        before = None
        while True:
            page = await self.decisions(batch, query, before)
            for decision in page:
                yield decision
            if len(page) < batch:
                return
            before = page[-1].id
            await asyncio.sleep(0)  # a long export shares the loop


class Store(Protocol):
    """What the pipeline, the doors and the CLI need from a store, whatever the engine."""

    async def facts(
        self, channel: Channel, sender: str, addresses: Sequence[str], at: datetime, history_hours: int = 0
    ) -> dict[str, RecipientFacts]:
        """Everything known about these recipients for this sender, in one batched read."""
        ...

    async def add_suppression(self, entry: Suppression, audit: AuditEntry | None = None) -> bool:
        """True if it was new. With `audit`: the entry is written with the change, if there was one (so
        for every method below that takes one)."""
        ...

    async def remove_suppressions(
        self,
        channel: Channel,
        address: str,
        scope: str | None,
        reason: str | None = None,
        audit: AuditEntry | None = None,
    ) -> int: ...

    def suppressions(
        self, channel: Channel | None = None, scope: str | None = None, address: str | None = None
    ) -> AsyncIterator[Suppression]: ...

    async def import_suppressions(self, rows: Iterable[Suppression | str]) -> ImportResult:
        """Stream entries in; a str in the stream is a rejected row's error message, counted and kept."""
        ...

    async def add_consent(self, consent: Consent, audit: AuditEntry | None = None) -> int: ...

    async def revoke_consents(
        self, channel: Channel, address: str, scope: str | None, at: datetime, audit: AuditEntry | None = None
    ) -> int: ...

    async def add_audit(self, entry: AuditEntry) -> None:
        """An audit entry on its own (for a change made in several transactions, such as an import)."""
        ...

    async def audit_log(
        self, channel: Channel | None = None, address: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Newest first; one address's, or everyone's."""
        ...

    async def consents(self, channel: Channel, address: str, scope: str | None = None) -> list[Consent]: ...

    async def record_decisions(
        self,
        decisions: Sequence[Decision],
        replace: bool = False,
        *,
        outbox: Sequence[OutboxMessage] = (),
        sends: Sequence[SendClaim] = (),
        durable: bool = True,
    ) -> None:
        """In one transaction, with the texts the outbox provider took and the sends to count (uncapped
        ones: capped ones were counted by `claim_sends`); `replace` makes a replay harmless. Not
        `durable`: committed to the log without waiting for the disk (safe from a gateway crash, not
        from a power cut)."""
        ...

    async def decisions(
        self, limit: int = 100, query: DecisionQuery | None = None, before_id: str | None = None
    ) -> list[Decision]:
        """Newest first; `before_id` continues a page (ids grow with time, so rows written meanwhile never
        shift a page)."""
        ...

    async def decision(self, decision_id: str) -> Decision | None: ...

    def iter_decisions(
        self, query: DecisionQuery | None = None, batch: int = 1000
    ) -> AsyncIterator[Decision]:
        """Every matching decision, newest first, read in batches: flat memory for any number."""
        ...

    async def summary(self, since: datetime | None = None, sender: str | None = None) -> list[SummaryRow]:
        """Counts per day, sender, channel, verdict and violation code."""
        ...

    async def record_send(
        self, channel: Channel, address: str, sender: str, category: Category, at: datetime
    ) -> None: ...

    async def claim_sends(self, claims: Sequence[SendClaim]) -> list[ClaimResult]:
        """In one write transaction, in order: count each claim's recent marketing sends against its caps
        and record it if there is room. Atomic across processes and instances: no two claims both take
        the last place under a cap."""
        ...

    async def release_send(self, send_id: int) -> None:
        """Un-count a claimed send whose text did not go out (the provider failed)."""
        ...

    async def outbox(self, limit: int = 100) -> list[OutboxMessage]: ...

    async def add_deferred(self, text: DeferredText) -> None:
        """Durably."""
        ...

    async def claim_deferred(self, at: datetime, limit: int) -> list[DeferredText]:
        """Take up to `limit` pending texts due by `at`, marking them `sending`; each is taken once, by
        one process of one instance."""
        ...

    async def finish_deferred(
        self, text_id: str, state: str, error: str = "", send_at: datetime | None = None
    ) -> None:
        """Set a deferred text's state; `pending` with a new `send_at` holds it again."""
        ...

    async def deferred(self, state: str | None = None, limit: int = 100) -> list[DeferredText]: ...

    async def next_deferred_at(self) -> datetime | None:
        """When the earliest pending text is due."""
        ...

    async def forget(
        self, channel: Channel, address: str, at: datetime, audit: AuditEntry | None = None
    ) -> Erasure:
        """Erasure: the address's personal data out of every table (decisions keep the hash, excerpts and
        bodies go), suppressions kept but hashed, and an `erased` suppression so it stays blocked; then
        the old page images are overwritten, so no copy of the address is left in the database file."""
        ...

    async def purge_before(self, before: datetime) -> int:
        """Retention: delete decisions (and sent outbox texts, finished held texts) older than `before`."""
        ...

    async def schema_version(self) -> int: ...

    async def close(self) -> None: ...
