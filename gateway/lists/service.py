"""Every change to the suppression list and the consent ledger, whichever door it comes through: the
command line, the HTTP API, the ops console, an import, or the opt-out loop (one-click unsubscribe, mail
to the gateway's own addresses, STOP and START texts). Each change is checked here (checks.py), made,
and audited in the same transaction, naming who made it (`actor`: "cli alice", "api ops", "console
192.0.2.7", "one-click", "sms reply", ...); an import, written in batches, is audited by one entry once
they are in. The doors only read their protocol's input, decide who may ask (an ops key, a sender's own
scope), and word the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ..addresses import address_hash
from ..decisions import scrub_journals
from ..model import GLOBAL_SCOPE, Channel, Consent, ConsentBasis, ConsentLevel, Reason, Suppression
from ..policy.deadlines import due
from ..store import Store, StoreError
from ..store.base import AuditEntry, ImportResult, OptOutRequest
from ..store.group import GroupCommit
from . import checks
from .checks import ListsError
from .csvfile import ImportDefaults, read_suppressions

log = logging.getLogger("gateway.lists")


@dataclass(frozen=True)
class OptOut:
    """An opt-out the gateway received: by address, or by the hash a signed token carries."""

    channel: Channel
    scope: str  # a sender, or global; an unknown sender widens to global (an opt-out is never dropped)
    reason: Reason
    source: str
    address: str | None = None  # normalized; None when only the hash is known
    hash: str | None = None


class Lists:
    def __init__(self, store: Store, senders: Collection[str], state_dir: str | Path | None = None) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else None  # where decision journals wait
        self._optouts: GroupCommit[tuple[Suppression, AuditEntry | None], bool] = GroupCommit(
            store.add_suppressions
        )
        self.store = store
        self.senders = frozenset(senders)
        # each sender's regimes (a config's senders map to their settings), for opt-out deadlines
        self.regimes: dict[str, frozenset[str]] = {
            name: getattr(getattr(sender, "settings", None), "regimes", frozenset())
            for name, sender in (senders.items() if isinstance(senders, Mapping) else ())
        }

    def scope(self, value: object) -> str:
        return checks.scope(value, self.senders)

    # -- suppressions ----------------------------------------------------------------------------------

    async def suppress(
        self,
        actor: str,
        address: object,
        *,
        channel: object = None,
        scope: object = GLOBAL_SCOPE,
        reason: object = None,
        source: object = None,
        expires_at: object = None,
        received_at: object = None,
        now: datetime | None = None,
    ) -> tuple[Suppression, bool]:
        """Suppress an address (reason `manual` unless given): the entry, and whether it was new. With
        `received_at`, the person's request reached someone then: it goes on the deadline clock, honoured
        now (late, if its deadline has passed)."""
        now = now or datetime.now(UTC)
        received = checks.when(received_at, "received_at")
        if received is not None and received > now:
            raise ListsError("BAD_TIME", "received_at is in the future")
        chosen, normalized = checks.address(address, channel)
        why = checks.reason(reason, Reason.MANUAL) or Reason.MANUAL
        if why in checks.PERMANENT_REASONS:
            raise ListsError(
                "BAD_REASON",
                "an erasure is made by `gateway forget` (or POST /v1/forget), which also deletes "
                "the person's data",
            )
        expires = checks.when(expires_at, "expires_at")
        if expires is not None and expires <= now:
            raise ListsError("BAD_TIME", "expires_at must be in the future")
        where = self.scope(scope)
        said = checks.text(source, "source", checks.MAX_SOURCE)
        entry = Suppression(chosen, address_hash(normalized), normalized, where, why, said, now, expires)
        detail = f"reason {why.value}, source {said or '-'}" + (
            f", expires {expires.isoformat()}" if expires else ""
        )
        added = await self.store.add_suppression(
            entry, AuditEntry(actor, "suppression.add", chosen, normalized, where, detail, now)
        )
        if why in (Reason.UNSUBSCRIBE, Reason.STOP, Reason.MANUAL, Reason.DNC):
            await self._honoured(entry)
        if received is not None:
            await self.request_received(chosen, normalized, where, f"entered by {actor}", received, now)
        return entry, added

    async def lift(
        self,
        actor: str,
        address: object,
        *,
        channel: object = None,
        scope: object = GLOBAL_SCOPE,
        reason: object = None,
        note: object = None,
    ) -> int:
        """Remove an address's suppressions in one scope (those of `reason` only, when given): how many.
        An erasure is never lifted (`ListsError`, kind `permanent`)."""
        chosen, normalized = checks.address(address, channel)
        where = self.scope(scope)
        only = checks.reason(reason)
        if only is not None and (refused := checks.lifting_refused(only)):
            raise ListsError("PERMANENT", refused, kind="permanent")
        why = checks.text(note, "note", checks.MAX_NOTE)
        present = [s async for s in self.store.suppressions(chosen, where, normalized)]
        for entry in present:
            if (only is None or entry.reason is only) and (refused := checks.lifting_refused(entry.reason)):
                raise ListsError("PERMANENT", refused, kind="permanent")
        detail = f"reason {only.value if only else 'any'}" + (f"; {why}" if why else "")
        return await self.store.remove_suppressions(
            chosen,
            normalized,
            where,
            only.value if only else None,
            AuditEntry(actor, "suppression.remove", chosen, normalized, where, detail),
        )

    async def import_csv(
        self,
        actor: str,
        stream: TextIO,
        *,
        channel: object = None,
        scope: object = GLOBAL_SCOPE,
        reason: object = None,
        source: object = None,
    ) -> ImportResult:
        """A CSV of entries (csvfile.py), streamed: rows lacking a value take these. Rows that are not
        valid are counted and reported by line; the rest go in."""
        defaults = ImportDefaults(
            channel=checks.channel(channel),
            scope=self.scope(scope),
            reason=checks.reason(reason, Reason.UNSUBSCRIBE) or Reason.UNSUBSCRIBE,
            source=checks.text(source, "source", checks.MAX_SOURCE) or "import",
            at=datetime.now(UTC),
            known_scopes=self.senders,
        )
        try:
            result = await self.store.import_suppressions(read_suppressions(stream, defaults))
        except StoreError as exc:  # its batches so far are in: the trail says so (if the store still answers)
            with contextlib.suppress(StoreError):
                await self.store.add_audit(
                    AuditEntry(
                        actor, "suppression.import", defaults.channel, None, defaults.scope, f"{exc}"[:500]
                    )
                )
            raise
        detail = (
            f"{result.added} added, {result.skipped} already present, {result.rejected} rejected; "
            f"source {defaults.source}"
        )
        await self.store.add_audit(
            AuditEntry(actor, "suppression.import", defaults.channel, None, defaults.scope, detail)
        )
        return result

    # -- consent -----------------------------------------------------------------------------------------

    async def record_consent(
        self,
        actor: str,
        address: object,
        *,
        channel: object = None,
        scope: object,
        level: object,
        source: object = None,
        evidence: object = None,
        obtained_at: object = None,
        expires_at: object = None,
        basis: object = None,
        now: datetime | None = None,
    ) -> Consent:
        """Record consent (level `none` records a refusal) and what it rests on (a purchase, an inquiry...:
        model.ConsentBasis); the record with its id."""
        now = now or datetime.now(UTC)
        chosen, normalized = checks.address(address, channel)
        where = self.scope(scope)
        given = checks.level(level)
        rests_on = checks.basis(basis)
        if rests_on is not ConsentBasis.GIVEN and given > ConsentLevel.IMPLIED:
            raise ListsError(
                "BAD_BASIS",
                f"a consent resting on {rests_on.value} is implied; record an express one with basis given",
            )
        said = checks.text(source, "source", checks.MAX_SOURCE)
        proof = checks.text(evidence, "evidence", checks.MAX_EVIDENCE, lines=True)
        obtained = checks.when(obtained_at, "obtained_at") or now
        expires = checks.when(expires_at, "expires_at")
        if obtained > now:
            raise ListsError("BAD_TIME", "obtained_at is in the future")
        if expires is not None and expires <= obtained:
            raise ListsError("BAD_TIME", "expires_at must be after obtained_at")
        record = Consent(
            chosen, address_hash(normalized), normalized, where, given, said, proof, obtained, expires,
            basis=rests_on,
        )  # fmt: skip
        detail = f"level {given.label}, source {said or '-'}" + (f", basis {rests_on}" if rests_on else "")
        cid = await self.store.add_consent(
            record, AuditEntry(actor, "consent.add", chosen, normalized, where, detail, now)
        )
        return replace(record, id=cid)

    async def revoke_consent(
        self,
        actor: str,
        address: object,
        *,
        channel: object = None,
        scope: object = None,
        at: object = None,
        note: object = None,
    ) -> int:
        """Revoke what is recorded (the ledger keeps it, revoked), in one scope or, with None, in every
        scope: how many records."""
        chosen, normalized = checks.address(address, channel)
        where = None if scope is None else self.scope(scope)
        when = checks.when(at, "at") or datetime.now(UTC)
        why = checks.text(note, "note", checks.MAX_NOTE)
        audit = AuditEntry(actor, "consent.revoke", chosen, normalized, where or "every scope", why)
        return await self.store.revoke_consents(chosen, normalized, where, when, audit)

    # -- erasure -------------------------------------------------------------------------------------------

    async def erase(self, actor: str, address: object, *, channel: object = None) -> dict[str, object]:
        """The address's personal data out of the store, the address kept suppressed by its hash: what was
        erased, table by table (as `gateway forget` prints it and POST /v1/forget answers)."""
        chosen, normalized = checks.address(address, channel)
        now = datetime.now(UTC)
        ahash = address_hash(normalized)
        audit = AuditEntry(actor, "erasure", chosen, None, GLOBAL_SCOPE, "", now, address_hash=ahash)
        done = await self.store.forget(chosen, normalized, now, audit)
        journaled = 0
        if self.state_dir is not None and self.state_dir.is_dir():  # decisions the store has not got yet
            journaled = await asyncio.to_thread(scrub_journals, self.state_dir, normalized)
        return {
            "channel": chosen.value,
            "erased": True,
            "decisions": done.decisions,
            "suppressions_hashed": done.suppressions,
            "consents": done.consents,
            "outbox": done.outbox,
            "held_texts": done.held,
            "journaled": journaled,
        }

    # -- the opt-out loop ----------------------------------------------------------------------------------

    async def opt_out(self, actor: str, request: OptOut, now: datetime | None = None) -> bool:
        """An opt-out the gateway received: suppressed at once (and any request of the address waiting on
        the deadline clock closed as honoured). Whether it was new."""
        entry, audit = self._opt_out_entry(actor, request, now)
        added = (await self._optouts.submit_many([(entry, audit)]))[0]
        await self._honoured(entry)
        return added

    async def _honoured(self, entry: Suppression) -> None:
        """The deadline clock's open requests of a suppressed address, closed as honoured; the opt-out itself
        is already safe, so a failure here is logged, not the caller's."""
        try:
            await self.store.close_optout_requests(
                entry.channel, entry.address_hash, entry.scope, "honoured", entry.created_at
            )
        except StoreError as exc:
            log.warning("an opt-out request left open on the deadline clock: %s", exc)

    async def dismiss_request(self, actor: str, request_id: object) -> bool:
        """Close an open request as not genuine (the console's Dismiss), audited: whether it was open."""
        if not isinstance(request_id, int) or not 0 < request_id < 2**63:
            raise ListsError("BAD_REQUEST", "no such request")
        request = await self.store.optout_request(request_id)
        if request is None:
            raise ListsError("BAD_REQUEST", "no such request")
        at = datetime.now(UTC)
        audit = AuditEntry(
            actor, "request.dismiss", request.channel, request.address, request.scope,
            f"opt-out request #{request_id} of {request.received_at:%Y-%m-%d %H:%M} dismissed as not genuine",
            at, request.address_hash,
        )  # fmt: skip
        return await self.store.dismiss_optout_request(request_id, at, audit)

    async def opt_outs(self, actor: str, requests: Iterable[OptOut]) -> list[bool]:
        """Several opt-outs (a bounce report names many recipients): each that names a valid address is
        taken; one that does not is logged and left out, and does not stop the others. All of them go in
        one transaction, with whatever other opt-outs arrive meanwhile (a group commit, off the event loop)."""
        now = datetime.now(UTC)
        entries = []
        for n, request in enumerate(requests, 1):
            try:
                entries.append(self._opt_out_entry(actor, request, now))
            except ListsError as exc:
                log.warning("%s: an opt-out left out: %s", actor, exc.message)
            if n % 200 == 0:
                await asyncio.sleep(0)  # thousands of addresses checked: others' requests between
        return await self._optouts.submit_many(entries) if entries else []

    def _opt_out_entry(
        self, actor: str, request: OptOut, now: datetime | None
    ) -> tuple[Suppression, AuditEntry]:
        now = now or datetime.now(UTC)
        where = request.scope if request.scope in self.senders else GLOBAL_SCOPE
        if request.address is not None:
            chosen, normalized = checks.address(request.address, request.channel)
            ahash = address_hash(normalized)
        else:
            chosen, normalized, ahash = request.channel, None, checks.hashed_address(request.hash)
        source = checks.cleaned(request.source, checks.MAX_SOURCE)
        entry = Suppression(chosen, ahash, normalized, where, request.reason, source, now)
        audit = AuditEntry(
            actor, "suppression.add", chosen, normalized, where, f"reason {request.reason.value}", now, ahash
        )
        return entry, audit

    async def note_unverified(
        self, actor: str, action: str, detail: str, address: str | None = None, scope: str = GLOBAL_SCOPE
    ) -> None:
        """An opt-out signal that changed nothing because nothing vouched for it (`report.unverified`), or
        a person's request kept for review (`request.unverified`: the console can confirm it). The address,
        when one is kept, is normalized and hashed, so that erasure finds it."""
        normalized, ahash = None, ""
        if address is not None:
            _, normalized = checks.address(address, Channel.EMAIL)
            ahash = address_hash(normalized)
        where = scope if scope in self.senders else GLOBAL_SCOPE
        detail = checks.cleaned(detail, checks.MAX_SOURCE)
        now = datetime.now(UTC)
        entry = AuditEntry(actor, action, Channel.EMAIL, normalized, where, detail, now, ahash)
        await self.store.add_audit(entry)
        if action == "request.unverified" and normalized is not None:
            await self.request_received(
                Channel.EMAIL, normalized, where, f"mail not authenticated: {detail}", now
            )

    async def request_received(
        self,
        channel: Channel,
        address: str,
        scope: str,
        source: str,
        received: datetime,
        honoured: datetime | None = None,
    ) -> OptOutRequest:
        """An opt-out request a person must act on, on the deadline clock (policy/deadlines.py): held for
        review (open), or entered by an operator after it arrived (`honoured` then: closed at once)."""
        deadline, rule = due(received, channel, self.regimes.get(scope, frozenset()))
        request = OptOutRequest(
            channel, address_hash(address), address, scope, checks.cleaned(f"{source}; due under {rule}",
            checks.MAX_SOURCE), received, deadline, honoured, "honoured" if honoured else "",
            (honoured - received).total_seconds() if honoured else None,
        )  # fmt: skip
        return replace(request, id=await self.store.add_optout_request(request))

    async def opt_back_in(
        self, actor: str, channel: Channel, address: str, scope: str, reason: Reason
    ) -> int:
        """The recipient asked to receive again (START): their own `reason` entries in `scope` lifted,
        nothing else (an opt-out by other means, a bounce or an erasure stays)."""
        if reason in checks.PERMANENT_REASONS:
            raise ListsError("PERMANENT", "an erasure cannot be undone", kind="permanent")
        chosen, normalized = checks.address(address, channel)
        where = self.scope(scope)
        return await self.store.remove_suppressions(
            chosen,
            normalized,
            where,
            reason.value,
            AuditEntry(
                actor, "suppression.remove", chosen, normalized, where, f"reason {reason.value}; opted in"
            ),
        )
