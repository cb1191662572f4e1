"""The queue's records on the disk (spool.py writes them, in segment files): their format, and reading a
segment back, as a process that takes over a stopped one's segments does.

A record: MAGIC (4 bytes), kind (1), payload length (4, big-endian), CRC-32 of the payload (4), payload.
Kind `E`, an entry: a JSON header line, then the message's bytes as they go upstream. Kind `O`, what
became of an entry (JSON): the recipients settled by an attempt, their decisions as the upstream's answer
left them, whether the entry is done, and whether it was moved to another segment (then what this one
says of it is no longer the last word). Reading stops at the first record that is not whole: zeros are
the end written so far, a bad CRC a write a power cut tore (never acknowledged: its 250 waits for the
sync).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..model import Decision

log = logging.getLogger("gateway.mail")

MAGIC = b"GWQ1"
HEAD = struct.Struct(">4scII")  # magic, kind, length, crc


@dataclass(frozen=True)
class Place:
    """Where an entry's message lies: read back when it is its turn (`Spool.read`)."""

    segment: str
    offset: int
    length: int


@dataclass
class Entry:
    """One upstream transaction to make: the envelope, the decisions it settles, and where its bytes are."""

    id: str
    mail_from: str
    recipients: list[tuple[str, tuple[str, ...]]]  # as RCPT'd upstream, with their parameters
    options: tuple[str, ...]  # MAIL parameters
    decisions: list[dict]  # one decision row per recipient (store.base.decision_row), same order
    arrived: float  # epoch seconds the client's 250 was given
    notice_to: str = ""  # who hears of a refusal for good ("" for a notice itself: none about one)
    place: Place | None = None
    # the decisions each recipient's becomes once relayed, as objects (queue.py `intended`): kept by the
    # process that made the entry, read back from `decisions` by one that took it over; never written
    intents: list[Decision] = field(default_factory=list, repr=False, compare=False)

    def header(self) -> bytes:
        return json.dumps(
            {
                "id": self.id,
                "mail_from": self.mail_from,
                "recipients": [[a, list(o)] for a, o in self.recipients],
                "options": list(self.options),
                "decisions": self.decisions,
                "arrived": self.arrived,
                "notice_to": self.notice_to,
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_header(cls, raw: bytes) -> Entry:
        data = json.loads(raw)
        return cls(
            data["id"],
            data["mail_from"],
            [(a, tuple(o)) for a, o in data["recipients"]],
            tuple(data["options"]),
            list(data["decisions"]),
            float(data["arrived"]),
            data.get("notice_to", ""),
        )


@dataclass
class Orphan:
    """A stopped process's segment, read: the entries not done (each with the recipients settled
    already), and the decisions its `O` records hold (for the log, which may not have them)."""

    path: Path
    fd: int
    end: int  # where its records end
    pending: list[tuple[Entry, bytes, set[int]]]
    decisions: list[dict]

    def taken(self, entry: Entry) -> None:
        """`entry` is on the caller's disk now: marked done here at once, so that a process that dies
        before this segment goes does not have it taken over twice. No sync: a process's crash keeps it."""
        moved = {"id": entry.id, "settled": [], "decisions": [], "done": True, "moved": True}
        record = framed(b"O", json.dumps(moved).encode())
        os.pwrite(self.fd, record, self.end)
        self.end += len(record)


def read_segment(fd: int, path: Path) -> list[tuple[Entry, bytes]]:
    """The entries of a segment not done, in the order they were written."""
    return [(entry, data) for entry, data, _ in scan(fd, path).pending]


def scan(fd: int, path: Path) -> Orphan:
    size, at = os.fstat(fd).st_size, 0
    entries: dict[str, tuple[Entry, bytes, set[int]]] = {}
    decisions: dict[str, dict[str, dict]] = {}  # by entry, by decision id: the last row written
    done: set[str] = set()
    while at + HEAD.size <= size:
        magic, kind, length, crc = HEAD.unpack(os.pread(fd, HEAD.size, at))
        if magic != MAGIC or at + HEAD.size + length > size:
            break
        payload = os.pread(fd, length, at + HEAD.size)
        if zlib.crc32(payload) != crc:
            log.warning("queue segment %s: a torn record at %d (never acknowledged): ends there", path, at)
            break
        at += HEAD.size + length
        try:
            if kind == b"E":
                head, _, data = payload.partition(b"\n")
                entry = Entry.from_header(head)
                entries[entry.id] = (entry, data, set())
            elif kind == b"O":
                what = json.loads(payload)
                if what["id"] in entries:
                    entries[what["id"]][2].update(int(n) for n in what["settled"])
                rows = decisions.setdefault(what["id"], {})
                rows.update((row["id"], row) for row in what["decisions"])
                if what.get("moved"):  # another process has it: what it does is its own to write
                    rows.clear()
                if what["done"]:
                    done.add(what["id"])
        except (ValueError, KeyError, TypeError) as exc:
            log.error("queue segment %s: an unreadable record at %d skipped: %s", path, at, exc)
    pending = [found for entry_id, found in entries.items() if entry_id not in done]
    return Orphan(path, fd, at, pending, [row for rows in decisions.values() for row in rows.values()])


def framed(kind: bytes, payload: bytes) -> bytes:
    return HEAD.pack(MAGIC, kind, len(payload), zlib.crc32(payload)) + payload
