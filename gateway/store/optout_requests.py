"""The opt-out deadline clock's table, the same on both engines: each engine gives `_read` (rows of a query,
off the writer) and `_write` (statements in one transaction, with an audit entry when one changed anything).

Closing reads first and writes only when the address has an open request (almost none has one): the
opt-out paths that call it (every STOP, every one-click) do not queue behind the writer for nothing. The
seconds from receipt to honour are kept with a closed request, so `/metrics` sums them in SQL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..model import Channel
from .base import AuditEntry, OptOutRequest, from_text, to_text
from .rows import OPTOUT_REQUEST_COLS

Query = tuple[str, list]
HONOUR_BUCKETS = (3600, 6 * 3600, 86400, 2 * 86400, 5 * 86400, 10 * 86400, 14 * 86400, 30 * 86400)
_STATES = {
    "open": "WHERE outcome = '' ORDER BY due_at, id",
    "closed": "WHERE outcome <> '' ORDER BY closed_at DESC, id DESC",
    "all": "ORDER BY received_at DESC, id DESC",
}


@dataclass(frozen=True, slots=True)
class OptOutStats:
    open: int
    overdue: int
    honoured: int
    honour_seconds: float  # their sum
    within: tuple[int, ...]  # honoured within each of HONOUR_BUCKETS


def insert_request(r: OptOutRequest) -> Query:
    return (
        f"INSERT INTO optout_requests ({OPTOUT_REQUEST_COLS.removeprefix('id, ')}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            r.channel.value, r.address_hash, r.address, r.scope, r.source, to_text(r.received_at),
            to_text(r.due_at), to_text(r.closed_at), r.outcome, r.honour_seconds,
        ],
    )  # fmt: skip


def _seconds(received: str, at: datetime) -> float:
    return max((at - from_text(received)).total_seconds(), 0.0)


def request_of(row: Sequence) -> OptOutRequest:
    rid, channel, ahash, address, scope, source, received, due, closed, outcome, seconds = row
    return OptOutRequest(
        Channel(channel), ahash, address, scope, source, from_text(received), from_text(due),
        from_text(closed), outcome, seconds, rid,
    )  # fmt: skip


class OptOutRequestsPart(ABC):
    """The table's methods of `Store`, over the two primitives each engine gives."""

    @abstractmethod
    async def _read(self, query: Query) -> list[tuple]:
        """The rows of one query, read off the writer."""

    @abstractmethod
    async def _write(self, statements: Sequence[Query], audit: AuditEntry | None = None) -> list[int]:
        """The statements in one transaction, with `audit` when one changed anything: each one's row count."""

    async def close_optout_requests(
        self, channel: Channel, address_hash: str, scope: str, outcome: str, at: datetime
    ) -> int:
        """Close an address's open requests in `scope` (all of them for the global scope): how many."""
        sql = "SELECT id, received_at FROM optout_requests WHERE outcome = '' AND channel = ? AND address_hash = ?"
        args: list = [channel.value, address_hash]
        if scope != "global":
            sql, args = sql + " AND scope = ?", [*args, scope]
        found = await self._read((sql, args))
        if not found:
            return 0
        update = (
            "UPDATE optout_requests SET closed_at = ?, outcome = ?, honour_seconds = ? "
            "WHERE id = ? AND outcome = ''"
        )
        honoured = outcome == "honoured"
        changed = await self._write(
            [
                (update, [to_text(at), outcome, _seconds(received, at) if honoured else None, rid])
                for rid, received in found
            ]
        )
        return sum(changed)

    async def dismiss_optout_request(self, request_id: int, at: datetime, audit: AuditEntry) -> bool:
        """Close an open request as not genuine, with the audit entry of who did it."""
        update = (
            "UPDATE optout_requests SET closed_at = ?, outcome = 'dismissed' WHERE id = ? AND outcome = ''",
            [to_text(at), request_id],
        )
        return (await self._write([update], audit))[0] == 1

    async def optout_requests(self, state: str, limit: int, offset: int = 0) -> list[OptOutRequest]:
        """`open` ones by deadline, soonest first; `closed` ones, latest first; or `all`, newest first."""
        sql = f"SELECT {OPTOUT_REQUEST_COLS} FROM optout_requests {_STATES[state]} LIMIT ? OFFSET ?"
        return [request_of(r) for r in await self._read((sql, [limit, offset]))]

    async def optout_request(self, request_id: int) -> OptOutRequest | None:
        found = await self._read(
            (f"SELECT {OPTOUT_REQUEST_COLS} FROM optout_requests WHERE id = ?", [request_id])
        )
        return request_of(found[0]) if found else None

    async def optout_request_stats(self, now: datetime) -> OptOutStats:
        """Counts for /metrics, in two statements whatever the table's size."""
        (open_count, overdue), *_ = await self._read(
            (
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END), 0) FROM optout_requests "
                "WHERE outcome = ''",
                [to_text(now)],
            )
        )
        buckets = ", ".join(
            f"COALESCE(SUM(CASE WHEN honour_seconds <= {b} THEN 1 ELSE 0 END), 0)" for b in HONOUR_BUCKETS
        )
        (count, total, *within), *_ = await self._read(
            (
                f"SELECT COUNT(*), COALESCE(SUM(honour_seconds), 0), {buckets} FROM optout_requests "
                "WHERE outcome = 'honoured' AND honour_seconds IS NOT NULL",
                [],
            )
        )
        return OptOutStats(
            int(open_count), int(overdue), int(count), float(total), tuple(int(n) for n in within)
        )
