"""The mail queue's disk: each message the gateway has answered 250 for and the upstream has not taken yet.

Layout: `<state_dir>/queue/<pid>-<random>-<n>.seg`, the segment files of one serving process, each held
under an exclusive `flock` for as long as that process lives (so another process can tell a dead one's
segments, and take them over: `adopt`). A segment is filled with zeros when it is made, off any client's
clock, so that appending a record overwrites blocks the file already has: its `fdatasync` then flushes
the data alone, with no file-system metadata (a fraction of a millisecond; a new file's fsync costs a
journal commit, a few times that). The records, `E` for an entry and `O` for what became of it, are
spool_records.py's.

An `O` record is written right after the upstream's answer, before the decision log's commit, and
without a sync of its own: a process that dies then leaves its queue knowing what went, so the next one
neither sends it again nor loses its decisions (it writes them into the log). A power cut may lose the
record; the entry is then tried again for the recipients the decision log does not show settled.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .spool_records import HEAD, Entry, Orphan, Place, framed, scan

log = logging.getLogger("gateway.mail")

SEGMENT_BYTES = 1024 * 1024  # about 180 messages of 5 KB; a bigger message gets a segment that grows
_INLINE_SYNC = 0.002  # a sync that took less than this runs on the event loop next time (see `_sync`)


class SpoolError(Exception):
    """The queue's disk cannot take the message: nothing was acknowledged."""


@dataclass
class _Segment:
    path: Path
    fd: int
    size: int  # bytes allotted (zeros beyond `end`)
    end: int = 0  # where the next record goes
    pending: set[str] = field(default_factory=set)  # entries not done
    unlogged: int = 0  # outcomes written here and not yet in the decision log (`logged`)


class Spool:
    """This process's segments. `put` returns once the entries are on the disk."""

    def __init__(self, directory: str | Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self._segments: dict[str, _Segment] = {}
        self._current: _Segment | None = None
        self._spare: asyncio.Task[_Segment] | None = None
        self._count = 0
        self._name = f"{os.getpid()}-{secrets.token_hex(4)}"  # a pid comes back (pid 1 in a container)
        self._sync_seconds = 0.0  # the last sync's
        self._syncing: asyncio.Future[None] | None = None
        self._dirty: list[_Segment] = []
        self._rotating = asyncio.Lock()
        self._in_sync: list[_Segment] = []  # their descriptors are not closed before the sync returns
        self._closing: list[int] = []

    # -- writing -------------------------------------------------------------------------------------

    async def put(self, entries: list[tuple[Entry, bytes]]) -> None:
        """Each entry and its message appended and synced to the disk (SpoolError if they cannot be: then
        none of them is left pending here, since the client, not acknowledged, sends them again)."""
        written: list[Entry] = []
        try:
            for entry, data in entries:
                head = entry.header() + b"\n"
                segment = await self._room(HEAD.size + len(head) + len(data))
                offset = segment.end + HEAD.size + len(head)
                self._write(segment, b"E", head + data)
                entry.place = Place(segment.path.name, offset, len(data))
                segment.pending.add(entry.id)
                written.append(entry)
            await self._synced()
        except SpoolError:
            for entry in written:
                self.settle(entry, [], [], done=True)
            raise

    def settle(self, entry: Entry, settled: list[int], decisions: list[dict], done: bool) -> None:
        """What an attempt did: `settled` recipients (indices) need no more attempts, `decisions` are their
        rows as the upstream's answer left them; `done`: the entry needs none at all (its segment goes
        once all of its entries are done)."""
        if entry.place is None:
            return
        segment = self._segments.get(entry.place.segment)
        if segment is None or entry.id not in segment.pending:
            return
        payload: dict = {"id": entry.id, "settled": settled, "decisions": decisions, "done": done}
        try:
            self._write(segment, b"O", json.dumps(payload, separators=(",", ":")).encode())
        except SpoolError as exc:  # tried again after a restart, for what the decision log does not show
            log.warning("queue: what became of entry %s not written: %s", entry.id, exc)
        if decisions:
            segment.unlogged += 1
        if done:
            segment.pending.discard(entry.id)
        self._drop_if_spent(segment)

    def is_current(self, place: Place) -> bool:
        return self._current is not None and place.segment == self._current.path.name

    async def move(self, entry: Entry, settled: list[int]) -> None:
        """The entry copied to the current segment (with the recipients settled so far), and done where it
        was: a message that waits long does not keep an old segment, mostly spent, on the disk."""
        old = entry.place
        if old is None or self.is_current(old):
            return
        try:
            await self.put([(entry, self.read(old))])
        except (SpoolError, OSError):
            entry.place = old  # it waits where it was
            raise
        if settled:
            self.settle(entry, settled, [], done=False)
        segment = self._segments.get(old.segment)
        if segment is None or entry.id not in segment.pending:
            return
        moved = {"id": entry.id, "settled": [], "decisions": [], "done": True, "moved": True}
        try:
            self._write(segment, b"O", json.dumps(moved).encode())
        except SpoolError as exc:  # both copies stay: the next process to take them over takes one
            log.warning("queue: entry %s copied but not marked moved: %s", entry.id, exc)
            return
        segment.pending.discard(entry.id)
        self._drop_if_spent(segment)

    def logged(self, place: Place | None) -> None:
        """The decisions of the last `settle` of the entry at `place` are in the decision log: its
        segment need not keep them any more."""
        segment = self._segments.get(place.segment) if place else None
        if segment is not None:
            segment.unlogged = max(0, segment.unlogged - 1)
            self._drop_if_spent(segment)

    def _drop_if_spent(self, segment: _Segment) -> None:
        """A segment goes once every entry in it is done and the log has every outcome it holds."""
        if not segment.pending and not segment.unlogged and segment is not self._current:
            self._drop(segment)

    def read(self, place: Place) -> bytes:
        segment = self._segments.get(place.segment)
        if segment is None:
            raise SpoolError(f"queue segment {place.segment} is gone")
        try:
            data = os.pread(segment.fd, place.length, place.offset)
        except OSError as exc:
            raise SpoolError(f"cannot read queue segment {place.segment}: {exc.strerror}") from exc
        if len(data) != place.length:
            raise SpoolError(f"queue segment {place.segment} is short")
        return data

    def _write(self, segment: _Segment, kind: bytes, payload: bytes) -> None:
        record = framed(kind, payload)
        try:
            view, at = memoryview(record), segment.end
            while view:
                n = os.pwrite(segment.fd, view, at)
                view, at = view[n:], at + n
        except OSError as exc:
            raise SpoolError(f"cannot write to the queue ({segment.path}): {exc.strerror or exc}") from exc
        segment.end = at
        if segment not in self._dirty:
            self._dirty.append(segment)

    async def _synced(self) -> None:
        """Every record written so far on the disk. Writers that arrive while a sync runs share the next
        one. The sync runs on the event loop while syncs are quick (a worker thread's hand-off back to
        the loop costs more than such a sync); once one was slow (a busy disk), in a thread."""
        while self._dirty:
            if self._syncing is None:
                self._syncing = asyncio.ensure_future(self._sync())
            await asyncio.shield(self._syncing)

    async def _sync(self) -> None:
        try:
            dirty, self._dirty = self._dirty, []
            self._in_sync = dirty
            started = time.monotonic()
            try:
                if self._sync_seconds < _INLINE_SYNC:
                    for segment in dirty:
                        os.fdatasync(segment.fd)
                else:
                    await asyncio.to_thread(_fdatasync_all, [s.fd for s in dirty])
            except OSError as exc:
                raise SpoolError(f"cannot flush the queue to the disk: {exc.strerror or exc}") from exc
            self._sync_seconds = time.monotonic() - started
        finally:
            self._syncing, self._in_sync = None, []
            for fd in self._closing:
                os.close(fd)
            self._closing.clear()

    async def _room(self, size: int) -> _Segment:
        """The current segment if `size` more bytes fit in it, else the next one (made ahead)."""
        while True:
            segment = self._current
            if segment is not None and (segment.end + size <= segment.size or segment.end == 0):
                return segment  # (an empty segment too small for the record grows to take it)
            async with self._rotating:
                if segment is not self._current:
                    continue  # another writer moved on meanwhile: look again
                if self._spare is None:
                    self._spare = asyncio.ensure_future(asyncio.to_thread(self._make))
                # shielded: a writer cancelled meanwhile (its client gone) leaves the segment to the next
                fresh = await asyncio.shield(self._spare)
                self._spare = None
                self._segments[fresh.path.name] = fresh
                self._current = fresh
                if segment is not None:
                    self._drop_if_spent(segment)
                self._spare = asyncio.ensure_future(asyncio.to_thread(self._make))  # the next, meanwhile

    def _make(self) -> _Segment:
        """A new segment, filled and synced under a name no other process adopts (`.new`), then linked
        to its own name (never over another file: a name taken is an error, not a replacement)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot make the queue directory {self.directory}: {exc.strerror}") from exc
        while True:
            self._count += 1
            path = self.directory / f"{self._name}-{self._count}.seg"
            making = path.with_suffix(".new")
            try:
                fd = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise SpoolError(f"cannot make a queue segment in {self.directory}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            zeros, left = bytes(1024 * 1024), self.segment_bytes
            while left > 0:
                left -= os.write(fd, zeros[: min(left, len(zeros))])
            os.fsync(fd)
            os.link(making, path)  # FileExistsError rather than replacing a segment of the same name
            making.unlink()
            _sync_directory(self.directory)
        except OSError as exc:
            os.close(fd)
            making.unlink(missing_ok=True)
            raise SpoolError(f"cannot make a queue segment in {self.directory}: {exc.strerror}") from exc
        return _Segment(path, fd, self.segment_bytes)

    def _drop(self, segment: _Segment) -> None:
        self._segments.pop(segment.path.name, None)
        if segment in self._dirty:
            self._dirty.remove(segment)
        try:
            segment.path.unlink(missing_ok=True)
        except OSError as exc:  # left for the next start to read (all done) and remove
            log.warning("queue segment %s not removed: %s", segment.path, exc)
        if segment in self._in_sync:  # a sync in a thread has it: closed once that returns
            self._closing.append(segment.fd)
        else:
            os.close(segment.fd)

    # -- recovery --------------------------------------------------------------------------------------

    def adopt(self) -> Iterator[Orphan]:
        """The segments of processes that are gone (their lock is free), one at a time, each locked
        while the caller takes its entries over (`Orphan.taken`); removed when the caller asks for the
        next one."""
        if not self.directory.is_dir():
            return
        for half_made in self.directory.glob("*.new"):  # a stopped process's, never written to
            try:
                if time.time() - half_made.stat().st_mtime < 60:
                    continue  # (being made, perhaps, before its maker has locked it)
                fd = os.open(half_made, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    half_made.unlink(missing_ok=True)
                finally:
                    os.close(fd)
            except (BlockingIOError, FileNotFoundError):
                continue
        for path in sorted(self.directory.glob("*.seg")):
            if path.name in self._segments:
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process lives
                yield scan(fd, path)
                if _same_file(fd, path):  # (the name still this file's, not a new one of the same name)
                    path.unlink(missing_ok=True)
            finally:
                os.close(fd)

    async def close(self) -> None:
        if self._spare is not None:
            try:
                spare = await self._spare
                self._segments[spare.path.name] = spare
            except SpoolError:
                pass
        self._current = None
        for segment in list(self._segments.values()):
            if not segment.pending and not segment.unlogged:
                self._drop(segment)  # nothing in it: the next start has nothing to adopt from it
            else:
                os.close(segment.fd)
        self._segments.clear()
        self._current = self._spare = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, named = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)


def _fdatasync_all(fds: list[int]) -> None:
    for fd in fds:
        os.fdatasync(fd)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
