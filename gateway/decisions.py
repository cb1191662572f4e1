"""The decision log: every message's verdict per recipient, durable before the client hears 250.

Group commit: decisions from concurrent messages wait together and share one store transaction (one
fsync), so durability costs a fraction of a write per message. When the store cannot take them, they go
to an fsynced journal file instead (the message was already delivered: it must not be retried) and are
moved into the store once it answers again, or on the next start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from .model import Decision
from .store import Store, StoreError
from .store.base import decision_from_row, decision_row

log = logging.getLogger("gateway.decisions")


class DecisionLog:
    def __init__(self, store: Store, journal: str | Path) -> None:
        self.store = store
        self.journal = Path(journal)
        self._pending: list[tuple[Sequence[Decision], asyncio.Future[None] | None]] = []
        self._task: asyncio.Task[None] | None = None

    async def record(self, decisions: Sequence[Decision]) -> None:
        """Returns once the decisions are durable (in the store, or in the journal)."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((decisions, future))
        self._kick()
        await future

    def record_soon(self, decisions: Sequence[Decision]) -> None:
        """For refusals, which acknowledge nothing: written with the next batch, nobody waits."""
        self._pending.append((decisions, None))
        self._kick()

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            decisions = [d for ds, _ in batch for d in ds]
            try:
                await self.store.record_decisions(decisions)
            except StoreError as exc:
                log.error("store unavailable, %d decisions journaled: %s", len(decisions), exc)
                try:
                    await asyncio.to_thread(self._journal, decisions)
                except OSError as jexc:
                    for _, fut in batch:
                        if fut is not None and not fut.done():
                            fut.set_exception(jexc)
                    continue
            for _, fut in batch:
                if fut is not None and not fut.done():
                    fut.set_result(None)

    def _journal(self, decisions: Sequence[Decision]) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a", encoding="utf-8") as f:
            for d in decisions:
                f.write(json.dumps(decision_row(d, "")) + "\n")
            f.flush()
            os.fsync(f.fileno())

    async def replay_journal(self) -> int:
        """Move journaled decisions into the store; the journal goes only once they are in."""
        if not self.journal.exists():
            return 0
        rows = [json.loads(line) for line in self.journal.read_text(encoding="utf-8").splitlines() if line.strip()]
        if rows:
            await self.store.record_decisions([decision_from_row(r) for r in rows], replace=True)
        self.journal.unlink()
        return len(rows)

    async def flush(self) -> None:
        while self._task is not None and not self._task.done():
            await self._task
