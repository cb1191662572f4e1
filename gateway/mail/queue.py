"""The mail queue (`smtp.queue = true`): 250 once a message is on the disk, relayed right after.

With the queue, the end of DATA is answered as an MTA answers it: the rules have passed, the message (as it
goes upstream, one entry per upstream transaction) is in the spool (spool.py: appended and synced), and
its decisions are in the log as intents (`relaying`, written with the next batch: the entry carries them,
so a power cut loses neither). The relay then goes on without the client:

- the first attempt at once, on the upstream transaction the client's RCPTs opened (so the upstream's
  refusal of a recipient still reaches the client at RCPT, and an upstream that is down still gets the
  client a 451 there);
- the upstream takes it: the decisions become `relayed` (or `monitored`), the entry is done;
- a temporary failure (4xx, the upstream away or slow): `deferred`, with the upstream's words, and tried
  again after `smtp.queue_retry_seconds`, then ever later (as long as the message has waited, at most an
  hour), until `smtp.queue_lifetime_hours` have passed;
- refused for good (5xx), or out of time: `failed`, and a delivery status notification (RFC 3464, dsn.py)
  to the client's envelope sender, itself an entry of the queue (RFC 5321 6.1: an accepted message's
  failure is reported, never dropped; none to the null sender, 4.5.5).

A recipient refused while the others are taken is settled on its own; the entry is done when every one of
its recipients is. A process that stops leaves its entries in its segments; the next one to start (or any
live one, every minute) adopts them, asking the decision log first which recipients were settled already,
so a message the upstream took is not sent again (but for a crash between the upstream's 250 and the
outcome's commit: then it goes twice, as with any MTA).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ..config import Config
from ..decisions import DecisionLog
from ..model import Decision, Verdict
from ..store import Store, StoreError, new_id
from ..store.base import decision_from_row, decision_row
from . import dsn
from .spool import Spool, SpoolError
from .spool_records import Entry, Place
from .upstream import Relay, Reply, Transaction, UpstreamRefused, UpstreamUnavailable

log = logging.getLogger("gateway.mail")

_FINAL = {Verdict.RELAYED.value, Verdict.MONITORED.value, Verdict.FAILED.value}
_MAX_DELAY = 3600.0


class MailQueue:
    def __init__(
        self,
        spool: Spool,
        relay: Relay,
        store: Store,
        record: Callable[[list[Decision]], Awaitable[None]],
        record_soon: Callable[[Sequence[Decision]], None],
        *,
        hostname: str,
        retry_seconds: float,
        lifetime_hours: float,
        at_once: int,
        max_messages: int = 10_000,
    ) -> None:
        self.spool, self.relay, self.store = spool, relay, store
        self._record, self._record_soon = record, record_soon  # outcomes (raises if unwritten); intents
        self.hostname, self.retry, self.lifetime = hostname, retry_seconds, lifetime_hours * 3600
        self._limit = asyncio.Semaphore(max(1, at_once))
        self.max_messages = max_messages
        self._settled: dict[str, set[int]] = {}  # entry id: its recipients settled for good
        self._coming = 0  # entries accepted, not yet on the disk: counted against max_messages already
        self._attempts: set[asyncio.Task] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._accepting: set[asyncio.Task] = set()
        self._unlogged: list[tuple[Entry, Place | None, list[Decision]]] = []  # the log could not take yet
        self._stopping = False

    @property
    def waiting(self) -> int:
        """Entries not done: in flight or waiting for their next attempt."""
        return len(self._settled)

    @property
    def full(self) -> bool:
        """Holding `max_messages`: new mail is refused for now (452, sending.py) rather than kept, so that
        a long outage does not fill the disk and memory."""
        return len(self._settled) + self._coming >= self.max_messages

    # -- taking messages -------------------------------------------------------------------------------

    async def accept(
        self, entries: list[tuple[Entry, bytes]], first: Sequence[Transaction | None] = ()
    ) -> None:
        """The entries on the disk (SpoolError if they cannot be: nothing is acknowledged), their intents
        in the log, and their first attempts begun (on `first[i]`, an upstream transaction already
        holding the envelope, when given). Seen through even if the caller is cancelled meanwhile (its
        client gone): what is on the disk is then relayed all the same, and known to a retry."""
        self._coming += len(entries)  # at once: the copies of a fan-out ask `full` one after another
        task = asyncio.ensure_future(self._accept(entries, first))
        self._accepting.add(task)
        task.add_done_callback(self._accepting.discard)
        task.add_done_callback(_logged)
        await asyncio.shield(task)

    async def _accept(self, entries: list[tuple[Entry, bytes]], first: Sequence[Transaction | None]) -> None:
        try:
            await self.spool.put(entries)
        except SpoolError:
            for tx in first:
                if tx is not None:
                    with contextlib.suppress(UpstreamUnavailable):
                        await tx.abort()
            raise
        finally:
            self._coming -= len(entries)  # on the disk now (counted in _settled below), or not there at all
        self._record_soon(
            [replace(d, verdict=Verdict.RELAYING) for entry, _ in entries for d in intended(entry)]
        )
        for n, (entry, _) in enumerate(entries):
            self._begin(entry, first[n] if n < len(first) else None)

    def notice(self, to: str) -> Entry:
        """A delivery status notification as an entry of its own: from the null sender, to `to`."""
        options = () if to.isascii() else ("SMTPUTF8",)
        return Entry(new_id(), "", [(to, ())], options, [], time.time())

    # -- recovery --------------------------------------------------------------------------------------

    async def adopt(self) -> int:
        """The entries a stopped process left, put into this process's spool and tried at once, but for
        the recipients its spool or the decision log shows settled; the decisions its spool knows
        written into the log. Returns how many entries."""
        await self._relog()
        count = 0
        for orphan in self.spool.adopt():
            if self.full:  # the rest waits for room here, or for another process
                break
            if orphan.decisions:  # (if they cannot be written, the segment stays for the next try)
                await self._record([decision_from_row(row) for row in orphan.decisions])
            for entry, data, settled in orphan.pending:
                if entry.id not in self._settled:  # (not here already: taken over twice)
                    settled |= await self._known(entry)
                    if len(settled) < len(entry.recipients) or not entry.decisions:
                        await self.spool.put([(entry, data)])
                        self.spool.settle(entry, sorted(settled), [], done=False)
                        self._settled[entry.id] = settled
                        self._begin(entry, None, tracked=True)
                        count += 1
                orphan.taken(entry)
        if count:
            log.warning("queue: %d message(s) left by a stopped process taken over", count)
        return count

    async def _relog(self) -> None:
        """Outcomes the decision log could not take when they came, tried again (every minute, with
        `adopt`); their segments stay until it takes them."""
        waiting, self._unlogged = self._unlogged, []
        for n, (_, place, outcomes) in enumerate(waiting):
            try:
                await self._record(outcomes)
            except (StoreError, OSError):
                self._unlogged.extend(waiting[n:])
                return
            self.spool.logged(place)

    async def _known(self, entry: Entry) -> set[int]:
        settled: set[int] = set()
        for n, row in enumerate(entry.decisions):
            try:
                found = await self.store.decision(row["id"])
            except StoreError:
                return settled
            if found is not None and found.verdict.value in _FINAL:
                settled.add(n)
        return settled

    # -- attempts --------------------------------------------------------------------------------------

    def _begin(self, entry: Entry, first: Transaction | None, tracked: bool = False) -> None:
        if not tracked:
            self._settled.setdefault(entry.id, set())
        task = asyncio.get_running_loop().create_task(self._attempt(entry, first))
        self._attempts.add(task)
        task.add_done_callback(self._attempts.discard)
        task.add_done_callback(_logged)

    def _later(self, entry: Entry) -> None:
        if self._stopping:
            return
        waited = time.time() - entry.arrived
        delay = min(max(waited, self.retry), _MAX_DELAY)
        self._timers[entry.id] = asyncio.get_running_loop().call_later(delay, self._again, entry)

    def _again(self, entry: Entry) -> None:
        self._timers.pop(entry.id, None)
        if not self._stopping:
            self._begin(entry, None, tracked=True)

    async def _attempt(self, entry: Entry, first: Transaction | None) -> None:
        settled = self._settled.setdefault(entry.id, set())
        left = [n for n in range(len(entry.recipients)) if n not in settled]
        # a first attempt has its connection already (the client's RCPTs opened it): only the others wait
        # for a turn, at most `upstream_pool_size` at once
        async with self._limit if first is None else contextlib.nullcontext():
            try:
                data = self.spool.read(entry.place) if entry.place else b""
            except (SpoolError, OSError) as exc:
                log.error("queue: entry %s cannot be read back: %s", entry.id, exc)
                answers = {n: Reply(451, f"4.3.0 the queued copy cannot be read: {exc}") for n in left}
            else:
                try:
                    answers = await self._relayed(entry, data, left, first)
                except Exception:  # a fault of the gateway's own: logged, and the entry tried again later
                    log.exception("queue: an attempt at entry %s failed", entry.id)
                    answers = {n: Reply(451, "4.3.0 internal error in the gateway's queue") for n in left}
        await self._outcome(entry, answers)

    async def _relayed(
        self, entry: Entry, data: bytes, left: list[int], first: Transaction | None
    ) -> dict[int, Reply]:
        """Each recipient's answer from one upstream transaction."""
        answers: dict[int, Reply] = {}
        try:
            tx = first
            if tx is None:
                tx = await self.relay.begin(entry.mail_from, entry.options)
                for n in left:
                    address, options = entry.recipients[n]
                    reply = await tx.add_recipient(address, options)
                    if not reply.ok:
                        answers[n] = reply
            taking = [n for n in left if n not in answers]
            if not taking:
                await tx.abort()
                return answers
            reply = await tx.send(data)
        except UpstreamRefused as exc:
            reply, taking = exc.reply, [n for n in left if n not in answers]
        except UpstreamUnavailable as exc:
            reply, taking = (
                Reply(451, f"4.4.1 upstream unavailable: {exc}"),
                [n for n in left if n not in answers],
            )
        for n in taking:
            answers[n] = reply
        return answers

    async def _outcome(self, entry: Entry, answers: dict[int, Reply]) -> None:
        """The decisions the answers make, and the entry done or tried again later. In this order, so
        that a process that dies anywhere in between loses nothing and sends nothing twice (but a notice,
        which may go twice): the notice of refusals queued, what went written in the spool, then in the
        decision log."""
        settled = self._settled.setdefault(entry.id, set())
        expired = time.time() - entry.arrived >= self.lifetime
        outcomes: list[Decision] = []
        now_settled: list[int] = []
        refused: list[tuple[str, int, str]] = []
        intents = intended(entry)
        for n, reply in answers.items():
            intent = intents[n] if n < len(intents) else None
            verdict: Verdict
            if reply.ok:
                verdict = intent.verdict if intent else Verdict.RELAYED
                now_settled.append(n)
            elif reply.code >= 500 or expired:
                verdict = Verdict.FAILED
                now_settled.append(n)
                text = reply.text
                if reply.code < 500:
                    text = f"4.4.7 not taken in {self.lifetime / 3600:g} h: {reply.text}"
                refused.append((entry.recipients[n][0], reply.code, text))
            else:
                verdict = Verdict.DEFERRED
            if intent is not None:
                outcomes.append(replace(intent, verdict=verdict, upstream=reply.line()[:1000]))
        if refused:
            await self._report(entry, refused, delivered=sum(1 for r in answers.values() if r.ok))
        settled.update(now_settled)
        done = len(settled) >= len(entry.recipients)
        try:
            self.spool.settle(entry, now_settled, [decision_row(d, "") for d in outcomes], done)
            if outcomes:
                try:
                    await self._record(outcomes)
                    self.spool.logged(entry.place)
                except (StoreError, OSError) as exc:  # kept in the spool, and tried again (`_relog`)
                    log.error("queue: the outcome of entry %s not in the decision log yet: %s", entry.id, exc)
                    self._unlogged.append((entry, entry.place, outcomes))
            if done:
                self._settled.pop(entry.id, None)
            elif not any(e is entry for e, _, _ in self._unlogged):
                # (an entry with an outcome the log has not taken stays where that outcome is written)
                await self.spool.move(entry, sorted(settled))
        except (SpoolError, OSError) as exc:  # it waits where it is
            log.warning("queue: entry %s: %s", entry.id, exc)
        finally:
            if not done:
                self._later(entry)

    async def _report(self, entry: Entry, refused: list[tuple[str, int, str]], delivered: int) -> None:
        if not entry.notice_to:
            if entry.decisions:
                log.warning(
                    "queue: %d recipient(s) refused for good; no notice to a null sender", len(refused)
                )
            else:
                log.warning("queue: a delivery status notification was refused for good: dropped")
            return
        try:
            original = self.spool.read(entry.place) if entry.place else b""
        except (SpoolError, OSError):
            original = b""
        report = dsn.report(
            hostname=self.hostname,
            sender=entry.notice_to,
            failed=refused,
            delivered=delivered,
            original=original,
            arrived=datetime.fromtimestamp(entry.arrived, UTC),
        )
        notice = self.notice(entry.notice_to)
        try:
            await self.accept([(notice, report)])
        except SpoolError as exc:
            log.error("queue: the notice of %d refused recipient(s) cannot be queued: %s", len(refused), exc)

    # -- stopping --------------------------------------------------------------------------------------

    async def stop(self, wait: float) -> None:
        """Attempts in flight seen through for up to `wait` seconds; what waits stays in the spool."""
        self._stopping = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._accepting:
            await asyncio.wait(list(self._accepting), timeout=wait)
        if self._attempts:
            await asyncio.wait(list(self._attempts), timeout=wait)
        for task in list(self._attempts):
            task.cancel()
        await self.spool.close()


def make_queue(config: Config, relay: Relay, store: Store, decisions: DecisionLog) -> MailQueue:
    """The queue `gateway serve` runs with `smtp.queue`: its spool under `<state_dir>/queue`, its outcomes
    into the decision log without a flush of their own (the spool holds them until the log has them)."""
    smtp = config.smtp

    async def outcomes(found: list[Decision]) -> None:
        await decisions.record(found, replace=True, durable=False)

    return MailQueue(
        Spool(Path(config.state_dir) / "queue"), relay, store, outcomes, decisions.record_soon,
        hostname=smtp.hostname, retry_seconds=smtp.queue_retry_seconds,
        lifetime_hours=smtp.queue_lifetime_hours, at_once=smtp.upstream_pool_size,
        max_messages=smtp.queue_max_messages,
    )  # fmt: skip


def entry_for(
    mail_from: str,
    recipients: Sequence[tuple[str, Sequence[str]]],
    options: Sequence[str],
    intended: Sequence[Decision],
    notice_to: str,
) -> Entry:
    """An entry for `intended` (one decision per recipient, same order, as each becomes once relayed):
    written as intents (`relaying`), the verdict each becomes kept beside (`then`)."""
    rows = []
    for d in intended:
        row = decision_row(replace(d, verdict=Verdict.RELAYING), "")
        row["then"] = d.verdict.value
        rows.append(row)
    entry = Entry(
        new_id(),
        mail_from,
        [(a, tuple(o)) for a, o in recipients],
        tuple(options),
        rows,
        time.time(),
        notice_to,
    )
    entry.intents = list(intended)
    return entry


def intended(entry: Entry) -> list[Decision]:
    """What each recipient's decision becomes once relayed: as the entry was made, or read back from its
    rows (an entry taken over from a stopped process)."""
    if not entry.intents and entry.decisions:
        entry.intents = [
            replace(decision_from_row(row), verdict=Verdict(row.get("then", Verdict.RELAYED.value)))
            for row in entry.decisions
        ]
    return entry.intents


def _logged(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("queue: an attempt ended in an error", exc_info=task.exception())
