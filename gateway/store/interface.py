"""The store interface every engine implements, in the parts a reader can hold in mind: the lists (facts,
suppressions, consents, audit), the decision log, and the SMS door's tables. Each engine is one class for
the lists, holding a decision log and a texts part of its own (composition: the parts share the engine's
connection, not each other's attributes); `StoreParts` forwards the `Store` methods of those two parts.

Async throughout so that a networked engine (PostgreSQL) fits behind it; the embedded SQLite engine
answers reads from the calling thread, its queries being a few microseconds each.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from typing import Protocol

from ..model import Category, Channel, Consent, Decision, DncFacts, RecipientFacts, Suppression
from .base import (
    AuditEntry,
    ClaimResult,
    DecisionQuery,
    DeferredText,
    Erasure,
    ImportResult,
    OptOutRequest,
    OutboxMessage,
    SendClaim,
    SummaryRow,
    TextQuery,
    TextRecord,
)
from .optout_requests import OptOutStats


class ListsPart(Protocol):
    """Facts about recipients, the suppression list, the consent ledger and the audit trail."""

    async def facts(
        self, channel: Channel, sender: str, addresses: Sequence[str], at: datetime, history_hours: int = 0
    ) -> dict[str, RecipientFacts]:
        """Everything known about these recipients for this sender, in one batched read."""
        ...

    async def add_suppression(self, entry: Suppression, audit: AuditEntry | None = None) -> bool:
        """True if it was new. With `audit`: the entry is written with the change, if there was one (so
        for every method below that takes one)."""
        ...

    async def add_suppressions(self, entries: Sequence[tuple[Suppression, AuditEntry | None]]) -> list[bool]:
        """Many at once, in one transaction (one disk flush): for each, whether it was new; the audit
        entry of each new one with it."""
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

    async def import_dnc(self, name: str, rows: Iterable[str], as_of: date, at: datetime) -> ImportResult:
        """Replace the copy held of one Do-Not-Call list (`rows`: ten-digit numbers as `Accepted`, or error
        strings) in one transaction; the copy's as-of date kept with it."""
        ...

    async def dnc_facts(self, number: str) -> DncFacts:
        """The Do-Not-Call lists an E.164 number is on, every list's copy date, and the dates the
        Reassigned Numbers Database said it was disconnected since."""
        ...

    async def import_rnd(self, rows: Iterable, source: str, digest: str, at: datetime) -> ImportResult:
        """Reassigned Numbers Database answers ((ten digits, queried date as text, answer) rows, or error
        strings), in one transaction with a receipt of the import (its file, digest and counts)."""
        ...

    async def revoke_consents(
        self, channel: Channel, address: str, scope: str | None, at: datetime, audit: AuditEntry | None = None
    ) -> int: ...

    async def first_time(self, kind: str, key: str, at: datetime) -> bool:
        """Whether `key` of this kind (a webhook's MessageSid, a signed-out session) is new: recorded now,
        so one caller of all the instances sharing the store gets True."""
        ...

    async def seen(self, kind: str, key: str) -> bool: ...

    async def forget_seen(self, kind: str, before: datetime) -> int:
        """Keys of this kind recorded before `before` forgotten (their window is over)."""
        ...

    async def add_audit(self, entry: AuditEntry) -> None:
        """An audit entry on its own (for a change made in several transactions, such as an import)."""
        ...

    async def audit_log(
        self,
        channel: Channel | None = None,
        address: str | None = None,
        limit: int = 100,
        actions: Sequence[str] = (),
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Newest first; one address's, or everyone's; of these actions only, when named."""
        ...

    async def consents(self, channel: Channel, address: str, scope: str | None = None) -> list[Consent]: ...

    async def add_optout_request(self, request: OptOutRequest) -> int:
        """An opt-out request that waits for a person (or one closed as it is entered): its id."""
        ...

    async def close_optout_requests(
        self, channel: Channel, address_hash: str, scope: str, outcome: str, at: datetime
    ) -> int:
        """Close an address's open requests in `scope` (all of them for the global scope): how many."""
        ...

    async def dismiss_optout_request(self, request_id: int, at: datetime, audit: AuditEntry) -> bool: ...

    async def optout_requests(self, state: str, limit: int, offset: int = 0) -> list[OptOutRequest]:
        """`open` ones by deadline, soonest first; `closed` ones, latest first; or `all`, newest first."""
        ...

    async def optout_request(self, request_id: int) -> OptOutRequest | None: ...

    async def optout_request_stats(self, now: datetime) -> OptOutStats: ...


class DecisionLogPart(Protocol):
    """Every message's decisions: written, read back by filter and page, counted, erased, expired."""

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

    async def sent_as(
        self, senders: Sequence[str], message_id: str, since: datetime
    ) -> list[tuple[str, str, str, str, str]]:
        """(decision id, sender, recipient, recipient hash, category) for each recipient a message (by
        Message-ID, from one of these senders) went upstream to since `since`: what a bounce or complaint
        may refer to."""
        ...

    async def settle_intents(self, before: datetime, upstream: str) -> int:
        """Decisions still `relaying` from before `before` become `unknown`, with `upstream` as their
        upstream answer: how many."""
        ...

    async def relayed(
        self, sender: str, message_id: str, digest: str, recipients: Sequence[str], since: datetime
    ) -> dict[str, str]:
        """The recipients the sender's message (by Message-ID and digest) was relayed to since `since`, or
        is being relayed to, with that verdict: a client's retry of what already went upstream."""
        ...

    def iter_decisions(
        self, query: DecisionQuery | None = None, batch: int = 1000
    ) -> AsyncIterator[Decision]:
        """Every matching decision, newest first, read in batches: flat memory for any number."""
        ...

    async def summary(self, since: datetime | None = None, sender: str | None = None) -> list[SummaryRow]:
        """Counts per day, sender, channel, verdict and violation code."""
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


class TextsPart(Protocol):
    """The SMS door's tables: sends counted against caps, the outbox, texts held for later."""

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

    async def text(self, sender: str, sid: str) -> TextRecord | None:
        """One of the sender's texts by the sid its client was given (Twilio's Message fetch)."""
        ...

    async def list_texts(
        self, sender: str, query: TextQuery, limit: int, before_id: str | None = None
    ) -> list[TextRecord]:
        """A page of the sender's texts, newest first (Twilio's Messages list)."""
        ...

    async def record_text_status(
        self, sid: str, status: str, rank: int, error_code: int | None, at: datetime
    ) -> None:
        """The provider's status for its message `sid`, unless a higher-ranked one is stored already."""
        ...


class Store(ListsPart, DecisionLogPart, TextsPart, Protocol):
    """What the pipeline, the doors and the CLI need from a store, whatever the engine."""

    async def schema_version(self) -> int: ...

    async def close(self) -> None: ...


class DecisionPages(ABC):
    """`iter_decisions` for an engine's decision log, from its `decisions` pages."""

    @abstractmethod
    async def decisions(
        self, limit: int = 100, query: DecisionQuery | None = None, before_id: str | None = None
    ) -> list[Decision]: ...

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


class StoreParts:
    """The `Store` methods of an engine's decision log (`log`) and SMS tables (`texts`), forwarded."""

    log: DecisionLogPart
    texts: TextsPart

    async def record_decisions(
        self,
        decisions: Sequence[Decision],
        replace: bool = False,
        *,
        outbox: Sequence[OutboxMessage] = (),
        sends: Sequence[SendClaim] = (),
        durable: bool = True,
    ) -> None:
        await self.log.record_decisions(decisions, replace, outbox=outbox, sends=sends, durable=durable)

    async def decisions(
        self, limit: int = 100, query: DecisionQuery | None = None, before_id: str | None = None
    ) -> list[Decision]:
        return await self.log.decisions(limit, query, before_id)

    async def decision(self, decision_id: str) -> Decision | None:
        return await self.log.decision(decision_id)

    async def relayed(
        self, sender: str, message_id: str, digest: str, recipients: Sequence[str], since: datetime
    ) -> dict[str, str]:
        return await self.log.relayed(sender, message_id, digest, recipients, since)

    async def sent_as(
        self, senders: Sequence[str], message_id: str, since: datetime
    ) -> list[tuple[str, str, str, str, str]]:
        return await self.log.sent_as(senders, message_id, since)

    async def settle_intents(self, before: datetime, upstream: str) -> int:
        return await self.log.settle_intents(before, upstream)

    def iter_decisions(
        self, query: DecisionQuery | None = None, batch: int = 1000
    ) -> AsyncIterator[Decision]:
        return self.log.iter_decisions(query, batch)

    async def summary(self, since: datetime | None = None, sender: str | None = None) -> list[SummaryRow]:
        return await self.log.summary(since, sender)

    async def forget(
        self, channel: Channel, address: str, at: datetime, audit: AuditEntry | None = None
    ) -> Erasure:
        return await self.log.forget(channel, address, at, audit)

    async def purge_before(self, before: datetime) -> int:
        return await self.log.purge_before(before)

    async def record_send(
        self, channel: Channel, address: str, sender: str, category: Category, at: datetime
    ) -> None:
        await self.texts.record_send(channel, address, sender, category, at)

    async def claim_sends(self, claims: Sequence[SendClaim]) -> list[ClaimResult]:
        return await self.texts.claim_sends(claims)

    async def release_send(self, send_id: int) -> None:
        await self.texts.release_send(send_id)

    async def outbox(self, limit: int = 100) -> list[OutboxMessage]:
        return await self.texts.outbox(limit)

    async def add_deferred(self, text: DeferredText) -> None:
        await self.texts.add_deferred(text)

    async def claim_deferred(self, at: datetime, limit: int) -> list[DeferredText]:
        return await self.texts.claim_deferred(at, limit)

    async def finish_deferred(
        self, text_id: str, state: str, error: str = "", send_at: datetime | None = None
    ) -> None:
        await self.texts.finish_deferred(text_id, state, error, send_at)

    async def deferred(self, state: str | None = None, limit: int = 100) -> list[DeferredText]:
        return await self.texts.deferred(state, limit)

    async def next_deferred_at(self) -> datetime | None:
        return await self.texts.next_deferred_at()

    async def text(self, sender: str, sid: str) -> TextRecord | None:
        return await self.texts.text(sender, sid)

    async def list_texts(
        self, sender: str, query: TextQuery, limit: int, before_id: str | None = None
    ) -> list[TextRecord]:
        return await self.texts.list_texts(sender, query, limit, before_id)

    async def record_text_status(
        self, sid: str, status: str, rank: int, error_code: int | None, at: datetime
    ) -> None:
        await self.texts.record_text_status(sid, status, rank, error_code, at)
