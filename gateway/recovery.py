"""Putting right what a stopped process left, before and while the gateway serves.

- Journals: decisions a process wrote to `<state_dir>/decisions-<pid>.journal` while the store was down
  go into the store, at start (every journal) and when a worker dies (its own).
- Intents: a message's decisions with verdict `relaying`, written before the upstream's final dot
  (gateway/mail/sending.py). A process that died before writing the outcome leaves them; they become
  verdict `unknown`: at start, every one of them when the store is SQLite (only this gateway writes to
  it, and none of its processes runs yet), and, in every serving process every SETTLE_EVERY seconds,
  those older than any live relay can be (the stale age: with PostgreSQL another instance's relays are
  in the same table).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .config import Config
from .decisions import DecisionLog
from .mail.sending import settle_intents
from .store import Store, StoreError, open_store

log = logging.getLogger("gateway")

SETTLE_EVERY = 60.0  # seconds


class RecoveryError(Exception):
    """What an earlier run left cannot be read: the gateway does not start over it."""


def stale_age(config: Config) -> timedelta:
    """How old an intent must be for no live relay to own it: the upstream's answer comes within
    upstream_timeout (the final dot's within upstream_data_timeout), after a connection taken again at most
    as long (a slow client's, holding.py), and the outcome is written right after (a store lock waits at
    most 10 s); generously over that."""
    smtp = config.smtp
    return timedelta(
        seconds=max(
            5 * smtp.upstream_timeout, smtp.upstream_data_timeout + 3 * smtp.upstream_timeout + 60, 300.0
        )
    )


async def prepare_store(config: Config) -> None:
    """Reach the store, create and migrate it, once, before any worker starts: an unreachable database or
    one from a newer gateway is a start-up error, not a stream of 451s. Then what earlier runs left."""
    store = None
    try:
        store = open_store(config.database)
        await store.schema_version()
        await replay_journals(store, Path(config.state_dir))
        if config.database.startswith("sqlite:"):
            await settle_intents(store, datetime.now(UTC))
        else:
            await settle_stale_intents(store, config)
    finally:
        if store is not None:
            await store.close()


async def replay_journals(store: Store, state_dir: Path) -> None:
    """Decisions journaled by an earlier run (its processes' journals) go into the store, once, before the
    workers start; a running process moves its own journal as soon as the store answers again."""
    for journal in sorted(state_dir.glob("decisions-*.journal")):
        try:
            count = await DecisionLog(store, journal).replay_journal()
        except (OSError, ValueError) as exc:
            raise RecoveryError(f"cannot read the decision journal {journal}: {exc}") from None
        if count:
            log.info("moved %d journaled decisions from %s into the store", count, journal.name)


async def settle_stale_intents(store: Store, config: Config) -> int:
    return await settle_intents(store, datetime.now(UTC) - stale_age(config))


async def settle_worker(config: Config, pid: int) -> None:
    """What a worker that died left, put right by the parent before another takes its place: its journaled
    decisions into the store. (Its intents read `unknown` once stale: the other workers' are in the same
    table, and live.)"""
    store = open_store(config.database)
    try:
        journal = Path(config.state_dir) / f"decisions-{pid}.journal"
        if journal.exists():
            count = await DecisionLog(store, journal).replay_journal()
            log.info("moved %d journaled decisions of worker %d into the store", count, pid)
    except (StoreError, OSError, ValueError) as exc:
        log.error("worker %d's journal stays for the next start: %s", pid, exc)
    finally:
        await store.close()
