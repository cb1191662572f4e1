"""The last step of a message the rules let through: relaying it so that the log always knows what went.

In order, for one message and its accepted recipients:

1. the disk reserve (`gateway.disk_reserve_mb`, reserve.py): below it, 451 before anything is relayed;
2. retries (`smtp.retry_window_hours`): recipients the sender's message (same Message-ID) was already
   relayed to within the window are not sent it again; when that is all of them, the client hears 250
   without a second delivery; a message without a Message-ID cannot be told from a new one and goes;
3. the intent: each recipient's decision, verdict `relaying`, durable (in the store, or the journal when
   the store is down) before the upstream's final dot. If it cannot be written, 451, nothing relayed.
4. the upstream's answer, then the decision replaced by the outcome (`relayed`, `failed`...), committed
   before the client hears 250. That commit need not wait for its own disk flush: the intent already
   is on the disk, and the next commit's flush carries it (a process crash loses nothing; a power cut
   may leave the intent, which then reads `unknown`). An outcome that cannot be written even to the
   journal (a disk that filled meanwhile) does not turn an accepted message into a 451, which would
   make the client send it again: the client hears 250 and the outcome is tried again every few seconds.

A process that dies between 3 and 4 leaves intents: `settle_intents` turns them into verdict `unknown`
(the upstream may or may not have the message) at the next start, and every few minutes for intents
older than any live relay can be. So no message reaches the upstream without a decision in the log.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..config import Config
from ..decisions import DecisionLog
from ..model import Decision, Verdict
from ..store import Store, StoreError
from .actions import UPSTREAM_DOWN, Action
from .holding import Held
from .queue import MailQueue, entry_for
from .reserve import DiskReserve
from .spool import SpoolError
from .upstream import OutcomeUnknown, Transaction, UpstreamUnavailable

log = logging.getLogger("gateway.mail")

STORAGE_LOW = Action(451, "4.3.1 Gateway storage low, try again later")
ALREADY_RELAYED = Action(250, "2.0.0 Already relayed (a retry of the same message): not sent again")
QUEUE_FULL = Action(452, "4.3.1 The gateway's queue is full, try again later")
IN_FLIGHT = Action(451, "4.3.0 The same message is being relayed right now, try again later")
_ENHANCED = re.compile(r"^\d\.\d{1,3}\.\d{1,3}\s+")
_RETRY_SECONDS = 5.0


UNKNOWN_OUTCOME = "outcome unknown: the gateway stopped while the upstream had the message"


@dataclass(frozen=True)
class Safekeeping:
    """What makes relaying safe beyond the decision log: the disk reserve of this process."""

    reserve: DiskReserve | None = None


class Sending:
    def __init__(self, config: Config, store: Store, decisions: DecisionLog, keeping: Safekeeping) -> None:
        self.config, self.store, self.decisions, self.keeping = config, store, decisions, keeping
        self.window = timedelta(hours=config.smtp.retry_window_hours)
        self._unwritten: list[Decision] = []
        self._retrying: asyncio.Task | None = None
        self._relaying: set[asyncio.Future[Action]] = set()  # relays past their intent, seen through
        self.queue: MailQueue | None = None  # smtp.queue: 250 once on the disk, relayed after (queue.py)

    async def send(
        self,
        upstream: Transaction,
        outgoing: bytes,
        intended: Sequence[Decision],
        now: datetime,
        notice_to: str = "",
    ) -> Action:
        """`intended`: the message's decisions if the upstream takes it (one per recipient, ids fixed).
        `notice_to`: the client's envelope sender, who hears of a queued message's failure (queue.py)."""
        low = self.keeping.reserve.low() if self.keeping.reserve else None
        if low:
            log.error("not relaying: %s", low)
            await upstream.abort()
            self._failed_soon(intended, f"not relayed: {low}")
            return STORAGE_LOW
        try:
            intended = await self._not_yet_relayed(upstream, intended, now)
        except _InFlight:
            await upstream.abort()
            return IN_FLIGHT
        if not intended:
            await upstream.abort()
            return ALREADY_RELAYED
        if self.queue is not None and isinstance(upstream, Held):
            if self.queue.full:
                await upstream.abort()
                return QUEUE_FULL
            return await self._queued(upstream, outgoing, intended, notice_to)
        # From the intent on, the message may reach the upstream: it is seen through to its outcome even if
        # the client goes away (a client that closes right after its final dot), or the session times out,
        # meanwhile (shielded; a stop waits for it). An intent left behind by a cancelled session would
        # answer the client's retry "in flight" until the sweep called it `unknown`, minutes later.
        relaying = asyncio.ensure_future(self._intend_and_relay(upstream, outgoing, intended))
        self._relaying.add(relaying)
        relaying.add_done_callback(self._relaying.discard)
        relaying.add_done_callback(_seen_through)
        return await asyncio.shield(relaying)

    async def _intend_and_relay(
        self, upstream: Transaction, outgoing: bytes, intended: Sequence[Decision]
    ) -> Action:
        try:
            await self.decisions.record([replace(d, verdict=Verdict.RELAYING) for d in intended])
        except (StoreError, OSError) as exc:  # neither the store nor the journal can take it
            log.error("not relaying: the intent cannot be written: %s", exc)
            await upstream.abort()
            return STORAGE_LOW
        return await self._relay(upstream, outgoing, intended)

    async def _queued(
        self, upstream: Held, outgoing: bytes, intended: Sequence[Decision], notice_to: str
    ) -> Action:
        """On the queue's disk, then relayed without the client (queue.py)."""
        assert self.queue is not None
        entry = entry_for(upstream.mail_from, upstream.recipients, upstream.options, intended, notice_to)
        try:
            await self.queue.accept([(entry, outgoing)], [upstream])
        except SpoolError as exc:
            log.error("not queued: %s", exc)
            await upstream.abort()
            return STORAGE_LOW
        return Action(250, f"2.0.0 Queued as {entry.id}")

    async def _relay(self, upstream: Transaction, outgoing: bytes, intended: Sequence[Decision]) -> Action:
        try:
            reply = await upstream.send(outgoing)
        except UpstreamUnavailable as exc:
            log.warning("upstream unavailable at DATA: %s", exc)
            # after the final dot the upstream may have the message: its decision says so (`unknown`)
            verdict = Verdict.UNKNOWN if isinstance(exc, OutcomeUnknown) else Verdict.FAILED
            await self._settled(
                [replace(d, verdict=verdict, upstream=f"unavailable: {exc}") for d in intended]
            )
            return UPSTREAM_DOWN
        if not reply.ok:
            await self._settled([replace(d, verdict=Verdict.FAILED, upstream=reply.line()) for d in intended])
            return Action(reply.code, reply.text)
        await self._settled([replace(d, upstream=reply.line()) for d in intended])
        return Action(250, f"2.0.0 Accepted upstream: {_ENHANCED.sub('', reply.text, count=1)}")

    async def _not_yet_relayed(
        self, upstream: Transaction, intended: Sequence[Decision], now: datetime
    ) -> Sequence[Decision]:
        """The recipients this message has not been relayed to within the window (all, without a
        Message-ID); the upstream transaction narrowed to them. _InFlight when it is being relayed to one
        of them right now (an earlier attempt still waits for the upstream, or died and is not settled)."""
        first = intended[0] if intended else None
        if first is None or not first.message_id or not self.window:
            return intended
        try:
            seen = await self.store.relayed(
                first.sender,
                first.message_id,
                first.digest,
                [d.recipient for d in intended],
                now - self.window,
            )
        except StoreError as exc:  # cannot tell: it goes (a duplicate is better than a loss)
            log.warning("retries not looked up (store unavailable): %s", exc)
            return intended
        if Verdict.RELAYING.value in seen.values() and self.queue is None:
            raise _InFlight  # (queued, `relaying` is a message accepted: not queued again)
        if not seen:
            return intended
        log.info(
            "message <%s> already relayed to %d of its recipients: not again", first.message_id, len(seen)
        )
        left = [d for d in intended if d.recipient not in seen]
        if left and isinstance(upstream, Held):
            await upstream.narrow({d.recipient for d in left})
        elif left:  # an upstream that cannot drop recipients: the whole message goes again
            return intended
        return left

    async def _settled(self, decisions: list[Decision]) -> None:
        """Each intent replaced by its outcome; if even the journal cannot take them, tried again later."""
        try:
            await self.decisions.record(decisions, replace=True, durable=False)
        except Exception as exc:  # the upstream has answered: never a reason to answer 451 (a resend)
            log.error("%d outcome(s) not written yet, tried again soon: %s", len(decisions), exc)
            self._unwritten.extend(decisions)
            if self._retrying is None or self._retrying.done():
                self._retrying = asyncio.get_running_loop().create_task(self._write_later())

    async def _write_later(self) -> None:
        while self._unwritten:
            await asyncio.sleep(_RETRY_SECONDS)
            batch, self._unwritten = self._unwritten, []
            try:
                await self.decisions.record(batch, replace=True)
            except Exception as exc:
                self._unwritten = batch + self._unwritten
                log.warning("%d outcome(s) still not written: %s", len(self._unwritten), exc)
                continue
            log.info("%d outcome(s) written at last", len(batch))

    def _failed_soon(self, intended: Sequence[Decision], why: str) -> None:
        self.decisions.record_soon([replace(d, verdict=Verdict.FAILED, upstream=why) for d in intended])

    async def flush(self, wait: float = 60.0) -> None:
        """At a stop: relays past their intent seen through (up to `wait` seconds), and one last try for
        outcomes not written yet (their intents read `unknown` otherwise)."""
        if self._relaying:
            await asyncio.wait(list(self._relaying), timeout=wait)
        if self._retrying is not None:
            self._retrying.cancel()
        if self._unwritten:
            try:
                await self.decisions.record(self._unwritten, replace=True)
            except (StoreError, OSError) as exc:
                log.error(
                    "%d outcome(s) left as intents (they will read unknown): %s", len(self._unwritten), exc
                )


def digest(subject: str, raw: bytes) -> str:
    """What tells a client's retry (the same message sent again) from another message that reuses its
    Message-ID: its subject and body, hashed (headers such as Date may be made anew for a retry)."""
    h = hashlib.sha256(subject.encode("utf-8", "replace") + b"\0")
    end = raw.find(b"\r\n\r\n")
    h.update(memoryview(raw)[end + 4 :] if end >= 0 else b"")
    return h.hexdigest()[:32]


class _InFlight(Exception):
    """The message is being relayed to one of its recipients right now."""


def _seen_through(relaying: asyncio.Future) -> None:
    if not relaying.cancelled() and relaying.exception() is not None:  # retrieved: logged, not lost
        log.error("relaying ended in an error", exc_info=relaying.exception())


async def settle_intents(store: Store, older_than: datetime) -> int:
    """Intents (verdict `relaying`) made before `older_than`, whose process is gone, as verdict `unknown`."""
    count = await store.settle_intents(older_than, UNKNOWN_OUTCOME)
    if count:
        log.warning("%d message(s) relayed or not when a gateway process stopped: decisions 'unknown'", count)
    return count
