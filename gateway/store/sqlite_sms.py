"""The SQLite tables of the SMS door: sends counted against the caps, the outbox, held texts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..addresses import address_hash
from ..model import Category, Channel
from . import queries
from .base import (
    ClaimResult,
    DeferredText,
    OutboxMessage,
    SendClaim,
    TextQuery,
    TextRecord,
    from_text,
    text_record,
    to_text,
)
from .rows import DEFERRED_COLS, INSERT_DEFERRED, deferred_of, deferred_row
from .sqlite_schema import INSERT_SEND
from .sqlite_writer import SqliteFile


class SqliteTexts:
    """The SMS door's tables, part of `SqliteStore`, on the file it shares with the other parts."""

    def __init__(self, db: SqliteFile) -> None:
        self.db = db

    async def record_send(
        self, channel: Channel, address: str, sender: str, category: Category, at: datetime
    ) -> None:
        self.db.run(INSERT_SEND, (channel.value, address_hash(address), sender, category.value, to_text(at)))

    async def claim_sends(self, claims: Sequence[SendClaim]) -> list[ClaimResult]:
        def work(conn: sqlite3.Connection) -> list[ClaimResult]:
            results = []
            for c in claims:
                ahash = address_hash(c.address)
                if c.caps:
                    since = c.at - timedelta(hours=max(hours for _, hours in c.caps))
                    times = sorted(
                        (
                            from_text(r[0])
                            for r in conn.execute(
                                "SELECT sent_at FROM sends WHERE channel = ? AND address_hash = ? AND scope = ? "
                                "AND category = 'marketing' AND sent_at > ?",
                                (c.channel.value, ahash, c.sender, to_text(since)),
                            )
                        ),
                        reverse=True,
                    )
                    full = any(
                        sum(1 for t in times if t > c.at - timedelta(hours=hours)) >= limit
                        for limit, hours in c.caps
                    )
                    if full and c.enforce:
                        results.append(ClaimResult(None, tuple(times)))
                        continue
                cur = conn.execute(
                    INSERT_SEND, (c.channel.value, ahash, c.sender, c.category.value, to_text(c.at))
                )
                results.append(ClaimResult(cur.lastrowid))
            return results

        return await self.db.write(work, durable=False)

    async def release_send(self, send_id: int) -> None:
        await self.db.write(
            lambda conn: conn.execute("DELETE FROM sends WHERE id = ?", (send_id,)), durable=False
        )

    async def outbox(self, limit: int = 100) -> list[OutboxMessage]:
        return [
            OutboxMessage(
                r[0], from_text(r[1]), r[2], r[3], r[4], r[5], Category(r[6]), json.loads(r[7] or "{}")
            )
            for r in self.db.run(
                "SELECT id, at, sender, recipient, from_number, body, category, fields "
                "FROM outbox ORDER BY at DESC, id DESC LIMIT ?",
                (limit,),
            )
        ]

    async def add_deferred(self, text: DeferredText) -> None:
        row = deferred_row(text)
        await self.db.write(lambda conn: conn.execute(INSERT_DEFERRED, row))

    async def claim_deferred(self, at: datetime, limit: int) -> list[DeferredText]:
        def work(conn: sqlite3.Connection) -> list[DeferredText]:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM deferred WHERE state = 'pending' AND send_at <= ? ORDER BY send_at LIMIT ?",
                    (to_text(at), limit),
                )
            ]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            conn.execute(
                f"UPDATE deferred SET state = 'sending', attempts = attempts + 1, claimed_at = ? "
                f"WHERE id IN ({marks})",
                (to_text(at), *ids),
            )
            return [
                deferred_of(r)
                for r in conn.execute(
                    f"SELECT {DEFERRED_COLS} FROM deferred WHERE id IN ({marks}) ORDER BY send_at", ids
                )
            ]

        return await self.db.write(work)

    async def finish_deferred(
        self, text_id: str, state: str, error: str = "", send_at: datetime | None = None
    ) -> None:
        sql, args = queries.finish_deferred(text_id, state, error, send_at)
        await self.db.write(lambda conn: conn.execute(sql, args))

    async def deferred(self, state: str | None = None, limit: int = 100) -> list[DeferredText]:
        return [deferred_of(r) for r in self.db.run(*queries.list_deferred(state, limit))]

    async def next_deferred_at(self) -> datetime | None:
        row = self.db.run("SELECT MIN(send_at) FROM deferred WHERE state = 'pending'").fetchone()
        return from_text(row[0]) if row else None

    async def text(self, sender: str, sid: str) -> TextRecord | None:
        found = self._records(*queries.text(sender, sid))
        return found[0] if found else None

    async def list_texts(
        self, sender: str, query: TextQuery, limit: int, before_id: str | None = None
    ) -> list[TextRecord]:
        return self._records(*queries.texts(sender, query, limit, before_id))

    def _records(self, sql: str, args: list) -> list[TextRecord]:
        cur = self.db.run(sql, args)
        names = [c[0] for c in cur.description]
        return [text_record(dict(zip(names, row))) for row in cur.fetchall()]

    async def record_text_status(
        self, sid: str, status: str, rank: int, error_code: int | None, at: datetime
    ) -> None:
        sql, args = queries.text_status(sid, status, rank, error_code, at)
        await self.db.write(lambda conn: conn.execute(sql, args))
