"""Writing to the SQLite file: one write transaction at a time, off the event loop when it waits for the
disk, with fast polling for another process's write lock; WAL checkpoints in the background."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable

from .base import StoreError

log = logging.getLogger("gateway.store")


_LOCK_WAIT = 10.0  # seconds a write waits for another process's


class _Busy(Exception):
    """Another connection holds the write lock; nothing was done."""


def _begin(conn: sqlite3.Connection, wait: float) -> None:
    """BEGIN IMMEDIATE, waiting up to `wait` seconds for another process's write to end. The connection's
    own busy timeout is 0: SQLite's busy handler sleeps in steps of up to 100 ms, a poll every 0.2 ms
    takes the lock within a fraction of a millisecond of its release."""
    deadline = time.monotonic() + wait
    pause = 0.0001
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise _Busy() from None
        time.sleep(pause)
        pause = min(pause * 2, 0.001)


def _transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], object], durable: bool,
                 wait: float = 0.0):
    if not durable:
        conn.execute("PRAGMA synchronous=NORMAL")
    try:
        _begin(conn, wait)
        result = work(conn)
        conn.execute("COMMIT")
        return result
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StoreError(str(exc)) from exc
    finally:
        if not durable:
            conn.execute("PRAGMA synchronous=FULL")


class Writes:
    """The write path of `SqliteStore` (needs its `path`, `_conn`, `_writer`, `_write_lock`, `_checkpoints`,
    `_checkpointer`)."""

    async def _writing(self, work: Callable[[sqlite3.Connection], object], durable: bool = True):
        """`work(connection)` in one write transaction. Not `durable`: committed without waiting for the
        disk (the next durable commit flushes it along; a process crash loses nothing).

        Durable writes run in a worker thread: an fsync can take anything from half a millisecond to a
        few hundred on a busy disk, and the event loop must not stop for it. Writes that wait for no
        disk are tried right here first (about 0.1 ms, less than the two thread wake-ups a hand-off
        costs), unless another process holds the write lock: then the thread waits for it."""
        if self.path == ":memory:":
            return _transaction(self._conn, work, durable)
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        if self._checkpoints is None:  # a serving process: checkpoints move out of the commits
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoints = asyncio.get_running_loop().create_task(self._checkpoint_now_and_then())
        if not durable and not self._write_lock.locked():
            # the reading connection: a write from another connection would empty its page cache
            self._conn.execute("PRAGMA busy_timeout=0")
            try:
                return _transaction(self._conn, work, durable)
            except _Busy:
                pass
            finally:
                self._conn.execute("PRAGMA busy_timeout=10000")
        async with self._write_lock:
            if self._writer is None:
                self._writer = await asyncio.to_thread(self._open_writer)
            try:
                return await asyncio.to_thread(_transaction, self._writer, work, durable, _LOCK_WAIT)
            except _Busy:
                raise StoreError(f"database is locked (no write for {_LOCK_WAIT:g} s)") from None

    async def _checkpoint_now_and_then(self, every: float = 1.0) -> None:
        """Copy the WAL back into the database file in a worker thread (PASSIVE: never blocks a reader or a
        writer), rather than inside some message's commit, where it would stall that message. The hot
        connections' own automatic checkpoints are off."""
        def checkpoint() -> None:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                                     timeout=0)
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(checkpoint)
            except sqlite3.Error as exc:  # busy or unavailable: the next round tries again
                log.debug("checkpoint skipped: %s", exc)

    def _open_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    async def _truncate_wal(self) -> None:
        """Copy the WAL into the database and empty it: the WAL still holds the pages as they were."""
        def truncate() -> None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            try:
                for _ in range(50):
                    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                    if not busy:
                        return
                    time.sleep(0.1)
                raise StoreError("erased, but the WAL could not be emptied while other connections read it; "
                                 "it empties at the next checkpoint")
            finally:
                conn.close()
        if self.path != ":memory:":
            await asyncio.to_thread(truncate)
