"""The SQLite file: its connections, its schema brought up to date on open, and writing to it: one write
transaction at a time, off the event loop when it waits for the disk, with fast polling for another
process's write lock; WAL checkpoints and the search index filled in the background."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from .base import StoreError
from .sqlite_schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger("gateway.store")


_LOCK_WAIT = 10.0  # seconds a write waits for another process's

T = TypeVar("T")


class ThreadConnection:
    """A connection of its own, used from worker threads one job at a time: opened by the first job, and
    closed only between jobs. Closing an sqlite3 connection while another thread runs a statement on it
    crashes the process; a job cancelled on the event loop's side still runs to its end in its thread."""

    def __init__(self, opener: Callable[[], sqlite3.Connection]) -> None:
        self._opener = opener
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self.closing = False  # read by long jobs between their steps

    def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self.closing:
                raise StoreError("the store is closed")
            if self._conn is None:
                self._conn = self._opener()
            return job(self._conn)

    def close(self) -> None:
        """Blocks until the job in progress, if any, has ended."""
        self.closing = True
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


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


def _transaction(
    conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], object], durable: bool, wait: float = 0.0
):
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
    except BaseException:  # not SQLite's (a value it cannot bind): nothing of it stays, the lock is let go
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        if not durable:
            conn.execute("PRAGMA synchronous=FULL")


_INDEX_BATCH = 50  # decisions put into the search index per transaction (a short hold of the write lock)


def index_batch(conn: sqlite3.Connection, limit: int = _INDEX_BATCH) -> int:
    """Decisions written since the last run into the search index, in one write transaction of their own
    (the writes of messages never wait for it): how many."""
    pending = conn.execute(
        "SELECT (SELECT max(rowid) FROM decisions) > (SELECT upto FROM decisions_text_upto)"
    )
    if not pending.fetchone()[0]:
        return 0

    def work(conn: sqlite3.Connection) -> int:
        upto = conn.execute("SELECT upto FROM decisions_text_upto").fetchone()[0]
        top = conn.execute(
            "SELECT max(rowid) FROM (SELECT rowid FROM decisions WHERE rowid > ? ORDER BY rowid LIMIT ?)",
            (upto, limit),
        ).fetchone()[0]
        if top is None:
            return 0
        done = conn.execute(
            "INSERT INTO decisions_text (rowid, recipient, excerpt) SELECT rowid, recipient, "
            "excerpt FROM decisions WHERE rowid > ? AND rowid <= ?",
            (upto, top),
        ).rowcount
        conn.execute("UPDATE decisions_text_upto SET upto = ?", (top,))
        return done

    # derived data: a power cut may lose the batch, and the mark with it (one transaction), never more
    return _transaction(conn, work, durable=False, wait=1.0)


def _fdatasync(path: str) -> None:
    """A descriptor of its own: SQLite holds no lock on the WAL file, so opening and closing one here
    releases none of its locks (POSIX locks go with any close of the file they are on)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


class SqliteFile:
    """One SQLite file in WAL mode: the reading connection (`conn`, `run`), the write path (`write`), the
    schema brought up to date on open, and the background upkeep. The store's parts share one."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._commits = self._synced = 0  # commits waiting for `_wal_synced`, and how many are synced
        self._sync: asyncio.Future | None = None
        self._writer = ThreadConnection(self._open_writer)
        self._upkeeper = ThreadConnection(
            lambda: sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        )
        self._upkeep: asyncio.Task | None = None
        self._write_lock: asyncio.Lock | None = None
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages: indexes of millions of entries
            self.conn.execute("PRAGMA mmap_size=268435456")  # reads straight from the OS page cache
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open SQLite database {path}: {exc}") from exc

    def _migrate(self) -> None:
        """Bring the schema up to date; safe when several processes open a new database at once (the
        version is read again under the write lock)."""
        db = sqlite_utils.Database(self.conn)
        while True:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"database schema version {version} is newer than this gateway ({SCHEMA_VERSION})"
                )
            if version == SCHEMA_VERSION:
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                if self.conn.execute("PRAGMA user_version").fetchone()[0] == version:
                    MIGRATIONS[version](db)
                    self.conn.execute(f"PRAGMA user_version={version + 1}")
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def run(self, sql: str, params: Sequence = ()) -> sqlite3.Cursor:
        """A statement on the reading connection (reads, and writes that need no transaction of their own)."""
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def schema_version(self) -> int:
        return self.run("PRAGMA user_version").fetchone()[0]

    async def close(self) -> None:
        await self._close_thread_connections()
        self.conn.close()

    async def _close_thread_connections(self) -> None:
        """After the jobs running in worker threads have ended: the upkeep stops between two batches."""
        if self._upkeep is not None:
            self._upkeep.cancel()
        self._writer.closing = self._upkeeper.closing = True

        def close_both() -> None:
            self._writer.close()
            self._upkeeper.close()

        await asyncio.to_thread(close_both)

    async def write(
        self, work: Callable[[sqlite3.Connection], object], durable: bool = True, quick: bool = False
    ):
        """`work(connection)` in one write transaction. Not `durable`: committed without waiting for the
        disk (the next durable commit flushes it along; a process crash loses nothing).

        The event loop never waits for the disk: an fsync can take anything from half a millisecond to a
        few hundred on a busy disk. A `quick` write (a message's few decisions) and one that waits for
        no disk are committed right here, on the reading connection, without a sync (a write from
        another connection would empty its page cache); a durable one then waits for an
        fdatasync of the WAL in a worker thread (`_wal_synced`). Big writes (imports, erasure,
        retention), and any write while another process holds the write lock, run in the worker
        thread on a connection of its own, with synchronous=FULL."""
        if self._writer.closing:
            raise StoreError("the store is closed")
        if self.path == ":memory:":
            return _transaction(self.conn, work, durable)
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        if self._upkeep is None:  # a serving process: checkpoints and indexing move out of the commits
            self.conn.execute("PRAGMA wal_autocheckpoint=0")
            self._upkeep = asyncio.get_running_loop().create_task(self._upkeep_now_and_then())
        if (quick or not durable) and not self._write_lock.locked():
            done, result = self._here(work)
            if done:
                if durable:
                    await self._wal_synced()
                return result
        async with self._write_lock:
            try:
                return await asyncio.to_thread(
                    self._writer.run, lambda conn: _transaction(conn, work, durable, _LOCK_WAIT)
                )
            except _Busy:
                raise StoreError(f"database is locked (no write for {_LOCK_WAIT:g} s)") from None

    def _here(self, work: Callable[[sqlite3.Connection], object]) -> tuple[bool, object]:
        """(True, result) once committed on the reading connection without a sync; (False, None) when
        another process holds the write lock (nothing done)."""
        self.conn.execute("PRAGMA busy_timeout=0")
        try:
            return True, _transaction(self.conn, work, durable=False)
        except _Busy:
            return False, None
        finally:
            self.conn.execute("PRAGMA busy_timeout=10000")

    async def _wal_synced(self) -> None:
        """Returns once every commit made so far is on the disk. In WAL mode a commit only appends to the
        WAL, and synchronous=FULL adds nothing but a sync of the WAL after it; one fdatasync of the WAL
        makes every commit before it durable (as SQLite's developers put it:
        sqlite.org/forum/forumpost/d1a6bc7c4cd2baca). So the commits made while one sync runs share
        the next."""
        self._commits += 1
        mine = self._commits
        while self._synced < mine:
            if self._sync is None:
                self._sync = asyncio.ensure_future(self._sync_wal())
            await asyncio.shield(self._sync)

    async def _sync_wal(self) -> None:
        upto = self._commits
        try:
            await asyncio.to_thread(_fdatasync, self.path + "-wal")
        except OSError as exc:
            raise StoreError(f"cannot flush the WAL to the disk: {exc}") from exc
        finally:
            self._sync = None
        self._synced = upto

    async def _upkeep_now_and_then(self, every: float = 0.25, checkpoint_every: int = 4) -> None:
        """In a worker thread, on a connection of its own: the search index filled with the decisions of
        the last moments (`index_batch`), and, every second, the WAL copied back into the database
        file (PASSIVE: never blocks a reader or a writer) rather than inside some message's commit, where
        it would stall that message. The hot connections' own automatic checkpoints are off."""

        def upkeep(conn: sqlite3.Connection, checkpoint: bool) -> None:
            try:
                while index_batch(conn) >= _INDEX_BATCH and not self._upkeeper.closing:
                    time.sleep(0.002)  # a backlog: short transactions, room for the messages' writes between
            except _Busy:  # another connection held the write lock for a second: the index, next round
                pass
            if checkpoint and not self._upkeeper.closing:  # the checkpoint all the same (it takes no lock)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

        rounds, warned = 0, 0.0
        while True:  # never ends but with the store: without it the WAL would grow for as long as it serves
            await asyncio.sleep(every)
            rounds += 1
            try:
                checkpoint = rounds % checkpoint_every == 0
                await asyncio.to_thread(self._upkeeper.run, lambda conn, now=checkpoint: upkeep(conn, now))
            except (sqlite3.Error, StoreError, _Busy) as exc:  # busy or unavailable: the next round again
                log.debug("upkeep skipped: %s", exc)
            except Exception as exc:  # a bug: said (once a minute at most), and the next round tries again
                if time.monotonic() - warned > 60:
                    warned = time.monotonic()
                    log.warning("store upkeep failed (tried again every %g s): %r", every, exc)

    async def index_search_text(self) -> int:
        """Everything written so far into the search index, now (tests, and a process that writes no more)."""

        def run() -> int:
            conn = (
                sqlite3.connect(self.path, isolation_level=None, timeout=0)
                if self.path != ":memory:"
                else self.conn
            )
            try:
                total = 0
                while (done := index_batch(conn)) > 0:
                    total += done
                return total
            finally:
                if conn is not self.conn:
                    conn.close()

        return await asyncio.to_thread(run) if self.path != ":memory:" else run()

    def _open_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    async def truncate_wal(self) -> None:
        """Copy the WAL into the database and empty it: the WAL still holds the pages as they were."""

        def truncate() -> None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            try:
                for _ in range(50):
                    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                    if not busy:
                        return
                    time.sleep(0.1)
                raise StoreError(
                    "erased, but the WAL could not be emptied while other connections read it; "
                    "it empties at the next checkpoint"
                )
            finally:
                conn.close()

        if self.path != ":memory:":
            await asyncio.to_thread(truncate)
