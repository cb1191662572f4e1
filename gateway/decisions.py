"""The decision log: every message's verdict per recipient, durable before the client hears 250.

Group commit: decisions from concurrent messages wait together and share one store transaction (one
fsync), so durability costs a fraction of a write per message. When the store cannot take them, they go
to an fsynced journal file instead (the message was already delivered: it must not be retried) and are
moved into the store once it answers again, or on the next start.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .model import Decision, Verdict
from .store import Store, StoreError
from .store.base import OutboxMessage, SendClaim, decision_from_row, decision_row, erased_row
from .store.group import GroupCommit

log = logging.getLogger("gateway.decisions")


@dataclass(frozen=True)
class _Entry:
    decisions: Sequence[Decision]
    replace: bool = False
    outbox: Sequence[OutboxMessage] = ()
    sends: Sequence[SendClaim] = ()
    durable: bool = True


class DecisionLog:
    def __init__(self, store: Store, journal: str | Path, on_record=None) -> None:
        self.store = store
        self.journal = Path(journal)
        self.on_record = on_record  # called with each decision once it is durable (metrics)
        self._group: GroupCommit[_Entry, StoreError | None] = GroupCommit(self._write)
        self._journaled = self.journal.exists()  # decisions wait there for the store to answer again

    async def record(
        self,
        decisions: Sequence[Decision],
        replace: bool = False,
        *,
        outbox: Sequence[OutboxMessage] = (),
        sends: Sequence[SendClaim] = (),
        durable: bool = True,
    ) -> None:
        """Returns once the decisions are durable: in the store, or in the journal. With outbox texts
        there is no journal to fall back on (the text itself would be lost): StoreError is raised.
        `durable=False`: in the store's log, safe from a gateway crash but not yet flushed to the disk
        (for texts a remote provider has taken: it keeps its own record of them)."""
        failed = await self._group.submit(_Entry(decisions, replace, outbox, sends, durable))
        if failed is not None:
            raise failed

    def record_soon(self, decisions: Sequence[Decision]) -> None:
        """For refusals, which acknowledge nothing: written with the next batch, nobody waits."""
        self._group.submit_nowait(_Entry(decisions))

    async def _write(self, batch: list[_Entry]) -> list[StoreError | None]:
        results: list[StoreError | None] = [None] * len(batch)
        journal: list[Decision] = []
        journaled: list[int] = []  # the entries that go to the journal
        for replace in (False, True):
            entries = [(i, e) for i, e in enumerate(batch) if e.replace is replace]
            if not entries:
                continue
            try:  # one fsync covers the batch if any entry needs one
                await self.store.record_decisions(
                    [d for _, e in entries for d in e.decisions],
                    replace,
                    outbox=[m for _, e in entries for m in e.outbox],
                    sends=[c for _, e in entries for c in e.sends],
                    durable=any(e.durable for _, e in entries),
                )
            except StoreError as exc:
                for i, e in entries:
                    if e.outbox:
                        results[i] = exc  # nothing of it was stored: the caller reports a failure
                    else:
                        journal.extend(e.decisions)
                        journaled.append(i)
        if journal:
            log.error("store unavailable, %d decisions journaled", len(journal))
            try:
                await asyncio.to_thread(self._journal, journal)
                self._journaled = True
            except OSError as exc:  # those entries' waiters hear it; the others' are in the store
                unjournaled = StoreError(f"store unavailable, and the journal cannot be written: {exc}")
                for i in journaled:
                    results[i] = unjournaled
        elif self._journaled:  # the store took this batch: it answers again
            await self._move_journal()
        if self.on_record is not None:
            for entry, failed in zip(batch, results):
                if failed is None:
                    for d in entry.decisions:
                        self.on_record(d)
        return results

    def _journal(self, decisions: Sequence[Decision]) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.journal, "a") as f:
            f.writelines(json.dumps(decision_row(d, "")) + "\n" for d in decisions)
            f.flush()
            os.fsync(f.fileno())

    async def _move_journal(self) -> None:
        """Inside the group commit's drain, so no batch is journaled while the journal is being moved."""
        try:
            count = await self.replay_journal()
        except (StoreError, OSError) as exc:
            log.warning("journaled decisions stay in %s for now: %s", self.journal, exc)
            return
        except ValueError as exc:  # damaged: left for a person (the next start refuses it, naming the line)
            log.error("decision journal %s: %s", self.journal, exc)
            self._journaled = False
            return
        self._journaled = False
        if count:
            log.info("the store answers again: moved %d journaled decisions into it", count)

    async def replay_journal(self) -> int:
        """Move journaled decisions into the store; the journal goes only once they are in."""
        if not self.journal.exists():
            return 0
        rows = _journal_rows(self.journal.read_text(encoding="utf-8").splitlines())
        latest = {r["id"]: r for r in rows}  # an intent, then its outcome: the last line of an id is it
        decisions = [decision_from_row(r) for r in latest.values()]
        intents = [d for d in decisions if d.verdict is Verdict.RELAYING]
        outcomes = [d for d in decisions if d.verdict is not Verdict.RELAYING]
        for intent in intents:  # an outcome the store already has is never taken back to an intent
            if await self.store.decision(intent.id) is None:
                outcomes.append(intent)
        if outcomes:
            await self.store.record_decisions(outcomes, replace=True)
        self.journal.unlink()
        return len(rows)

    async def flush(self) -> None:
        await self._group.flush()


@contextmanager
def _locked(path: Path, mode: str) -> Iterator[IO[str]]:
    """The journal file open and locked (flock) against `scrub_journals` in another process; reopened if
    that replaced the file while this waited for the lock."""
    while True:
        with open(path, mode, encoding="utf-8") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                same = os.fstat(f.fileno()).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                yield f
                return


def scrub_journals(state_dir: Path, address: str) -> int:
    """Erasure of the decisions still waiting in any process's journal (the store was busy when they were
    made): each line naming `address` rewritten as erasure leaves a stored one (`erased_row`), the file
    replaced whole (a temporary file, fsynced, renamed over it) under the lock its writer takes. The
    number of lines rewritten."""
    changed = 0
    for journal in sorted(state_dir.glob("decisions-*.journal")):
        try:
            with _locked(journal, "r") as f:
                lines = f.read().splitlines()
                out = []
                for line in lines:
                    try:
                        row = json.loads(line)
                    except ValueError:
                        out.append(line)  # a torn last line: replay drops it
                        continue
                    if isinstance(row, dict) and str(row.get("recipient", "")).lower() == address:
                        row = erased_row(row)
                        changed += 1
                        line = json.dumps(row)
                    out.append(line)
                if changed:
                    temporary = journal.with_name(journal.name + ".scrub")
                    with open(temporary, "w", encoding="utf-8") as t:
                        t.write("".join(line + "\n" for line in out))
                        t.flush()
                        os.fsync(t.fileno())
                    os.replace(temporary, journal)
        except FileNotFoundError:  # moved into the store meanwhile
            continue
    return changed


def _journal_rows(lines: list[str]) -> list[dict]:
    """The journal's rows. A torn last line is a batch cut off mid-write by a crash, before its fsync, so
    before anyone heard 250 for it: dropped with a warning. A bad line before the last is damage: refused."""
    lines = [line for line in lines if line.strip()]
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            if number < len(lines):
                raise ValueError(f"line {number} is not a journaled decision") from None
            log.warning("dropped a torn last line of the decision journal (a write cut off by a crash)")
    return rows
