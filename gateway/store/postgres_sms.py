"""The PostgreSQL tables of the SMS door: sends counted against the caps (claimed under a transaction-scoped
advisory lock per number, so instances never both take the last place), the outbox, held texts (claimed
with FOR UPDATE SKIP LOCKED: each goes out once). Part of `PostgresStore`."""

from __future__ import annotations

import json
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
from .postgres_pool import PostgresPool
from .rows import DEFERRED_COLS, INSERT_DEFERRED, SEND_COLS, deferred_of, deferred_row

INSERT_SEND = f"INSERT INTO sends ({SEND_COLS}) VALUES ($1, $2, $3, $4, $5) RETURNING id"


class PostgresTexts:
    """The SMS door's tables, part of `PostgresStore`, on the pool it shares with the other parts."""

    def __init__(self, db: PostgresPool) -> None:
        self.db = db

    async def record_send(
        self, channel: Channel, address: str, sender: str, category: Category, at: datetime
    ) -> None:
        await self.db.execute(
            f"INSERT INTO sends ({SEND_COLS}) VALUES (?, ?, ?, ?, ?)",
            channel.value,
            address_hash(address),
            sender,
            category.value,
            to_text(at),
        )

    async def claim_sends(self, claims: Sequence[SendClaim]) -> list[ClaimResult]:
        """Each capped claim under an advisory lock on its number and sender, held to the commit: two
        instances claiming for one number take turns, and the second counts the first's send."""
        results = []
        async with self.db.transaction(durable=False) as conn:
            for c in claims:
                ahash = address_hash(c.address)
                if c.caps:
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                        f"cap:{c.channel.value}:{ahash}:{c.sender}",
                    )
                    since = c.at - timedelta(hours=max(hours for _, hours in c.caps))
                    times = sorted(
                        (
                            from_text(r[0])
                            for r in await conn.fetch(
                                "SELECT sent_at FROM sends WHERE channel = $1 AND address_hash = $2 AND scope = $3 "
                                "AND category = 'marketing' AND sent_at > $4",
                                c.channel.value,
                                ahash,
                                c.sender,
                                to_text(since),
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
                send_id = await conn.fetchval(
                    INSERT_SEND, c.channel.value, ahash, c.sender, c.category.value, to_text(c.at)
                )
                results.append(ClaimResult(send_id))
        return results

    async def release_send(self, send_id: int) -> None:
        await self.db.execute("DELETE FROM sends WHERE id = ?", send_id)

    async def outbox(self, limit: int = 100) -> list[OutboxMessage]:
        rows = await self.db.fetch(
            "SELECT id, at, sender, recipient, from_number, body, category, fields FROM outbox "
            "ORDER BY at DESC, id DESC LIMIT ?",
            limit,
        )
        return [
            OutboxMessage(
                r[0], from_text(r[1]), r[2], r[3], r[4], r[5], Category(r[6]), json.loads(r[7] or "{}")
            )
            for r in rows
        ]

    async def add_deferred(self, text: DeferredText) -> None:
        await self.db.execute(INSERT_DEFERRED, *deferred_row(text))

    async def claim_deferred(self, at: datetime, limit: int) -> list[DeferredText]:
        """SKIP LOCKED: instances polling at once each take different texts, none waits for another."""
        rows = await self.db.fetch(
            "UPDATE deferred SET state = 'sending', attempts = attempts + 1, claimed_at = ? WHERE id IN ("
            "SELECT id FROM deferred WHERE state = 'pending' AND send_at <= ? ORDER BY send_at LIMIT ? "
            f"FOR UPDATE SKIP LOCKED) RETURNING {DEFERRED_COLS}",
            to_text(at),
            to_text(at),
            limit,
        )
        return sorted((deferred_of(tuple(r)) for r in rows), key=lambda t: t.send_at)

    async def finish_deferred(
        self, text_id: str, state: str, error: str = "", send_at: datetime | None = None
    ) -> None:
        sql, args = queries.finish_deferred(text_id, state, error, send_at)
        await self.db.execute(sql, *args)

    async def deferred(self, state: str | None = None, limit: int = 100) -> list[DeferredText]:
        sql, args = queries.list_deferred(state, limit)
        return [deferred_of(tuple(r)) for r in await self.db.fetch(sql, *args)]

    async def next_deferred_at(self) -> datetime | None:
        rows = await self.db.fetch("SELECT MIN(send_at) FROM deferred WHERE state = 'pending'")
        return from_text(rows[0][0]) if rows else None

    async def text(self, sender: str, sid: str) -> TextRecord | None:
        sql, args = queries.text(sender, sid)
        rows = await self.db.fetch(sql, *args)
        return text_record(dict(rows[0])) if rows else None

    async def list_texts(
        self, sender: str, query: TextQuery, limit: int, before_id: str | None = None
    ) -> list[TextRecord]:
        sql, args = queries.texts(sender, query, limit, before_id)
        return [text_record(dict(r)) for r in await self.db.fetch(sql, *args)]

    async def record_text_status(
        self, sid: str, status: str, rank: int, error_code: int | None, at: datetime
    ) -> None:
        sql, args = queries.text_status(sid, status, rank, error_code, at)
        await self.db.execute(sql, *args)
