"""Sends held texts when their time comes: polls the store for due texts and claims them atomically, so
with several processes or instances each text goes once.

A text found still `sending` long after it was claimed belongs to a process that stopped mid-send: the
provider may or may not have taken it, so it is marked failed ("outcome unknown") rather than sent again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from ..store import Store, StoreError
from .service import SentButNotRecorded, SmsService

log = logging.getLogger("gateway.sms")

STALE_AFTER = timedelta(minutes=10)


class HeldTexts:
    def __init__(self, service: SmsService, store: Store, poll_seconds: float = 1.0, batch: int = 20) -> None:
        self.service, self.store, self.poll, self.batch = service, store, poll_seconds, batch
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        last_sweep = None
        while not self._stop.is_set():
            now = datetime.now(UTC)
            try:
                if last_sweep is None or now - last_sweep > timedelta(minutes=1):
                    await self._sweep_stale(now)
                    last_sweep = now
                await self.run_due(now)
            except StoreError as exc:
                log.warning("held texts: store unavailable: %s", exc)
            except Exception:  # never let the loop die: log and go on at the next tick
                log.exception("held texts: unexpected error")
            try:
                await asyncio.wait_for(self._stop.wait(), self.poll)
            except TimeoutError:
                pass

    async def run_due(self, now: datetime) -> int:
        """Send every held text due by `now`; how many were taken."""
        taken = 0
        while not self._stop.is_set():
            due = await self.store.next_deferred_at()
            if due is None or due > now:
                return taken
            texts = await self.store.claim_deferred(now, self.batch)
            if not texts:
                return taken
            taken += len(texts)
            await asyncio.gather(*(self._send(text) for text in texts))
        return taken

    async def _send(self, text) -> None:
        try:
            outcome = await self.service.send_held(text)
            log.info("held text %s: %s", text.id, outcome.verdict.value)
        except SentButNotRecorded as exc:  # left "sending": the sweep marks it, it is never sent twice
            log.error("held text %s: %s", text.id, exc)
        except StoreError as exc:  # failed before anything was sent: back in the queue for the next tick
            log.warning("held text %s waits: store unavailable: %s", text.id, exc)
            await self.store.finish_deferred(text.id, "pending", str(exc))

    async def _sweep_stale(self, now: datetime) -> None:
        for text in await self.store.deferred(state="sending", limit=1000):
            if text.claimed_at is not None and now - text.claimed_at > STALE_AFTER:
                await self.service.give_up(
                    text,
                    now,
                    "outcome unknown: the gateway stopped while sending it; "
                    "not sent again, to avoid a duplicate",
                )
