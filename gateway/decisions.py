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
from .store.group import GroupCommit

log = logging.getLogger("gateway.decisions")


class DecisionLog:
    def __init__(self, store: Store, journal: str | Path, on_record=None) -> None:
        self.store = store
        self.journal = Path(journal)
        self.on_record = on_record  # called with each decision once it is durable (metrics)
        self._group: GroupCommit[Sequence[Decision], None] = GroupCommit(self._write)

    async def record(self, decisions: Sequence[Decision], replace: bool = False) -> None:
        """Returns once the decisions are durable (in the store, or in the journal)."""
        await self._group.submit((decisions, replace))

    def record_soon(self, decisions: Sequence[Decision]) -> None:
        """For refusals, which acknowledge nothing: written with the next batch, nobody waits."""
        self._group.submit_nowait((decisions, False))

    async def _write(self, batch: list[tuple[Sequence[Decision], bool]]) -> list[None]:
        fresh = [d for ds, replace in batch if not replace for d in ds]
        replaced = [d for ds, replace in batch if replace for d in ds]
        try:
            if fresh:
                await self.store.record_decisions(fresh)
            if replaced:
                await self.store.record_decisions(replaced, replace=True)
        except StoreError as exc:
            decisions = fresh + replaced
            log.error("store unavailable, %d decisions journaled: %s", len(decisions), exc)
            await asyncio.to_thread(self._journal, decisions)  # an OSError here reaches every waiter
        if self.on_record is not None:
            for ds, _ in batch:
                for d in ds:
                    self.on_record(d)
        return [None] * len(batch)

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
        await self._group.flush()
