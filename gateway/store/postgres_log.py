"""The PostgreSQL decision log (decisions, daily counts, search, erasure, retention) and the SMS tables
(sends counted against caps, the outbox, held texts). Part of `PostgresStore`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from ..addresses import address_hash
from ..model import GLOBAL_SCOPE, Category, Channel, Decision, Reason
from . import queries
from .base import (
    AuditEntry,
    ClaimResult,
    DecisionPages,
    DecisionQuery,
    DeferredText,
    Erasure,
    OutboxMessage,
    SendClaim,
    SummaryRow,
    decision_from_row,
    decision_row,
    from_text,
    like_pattern,
    to_text,
)
from .rows import (
    AUDIT_COLS,
    DEFERRED_COLS,
    OUTBOX_COLS,
    SEND_COLS,
    SUPPRESSION_COLS,
    audit_row,
    deferred_of,
    outbox_row,
    send_row,
)

_PURGE_BATCH = 5000

DECISION_COLS = (
    "id",
    "at",
    "channel",
    "sender",
    "recipient",
    "recipient_hash",
    "category",
    "verdict",
    "codes",
    "violations",
    "excerpt",
    "size",
    "upstream",
)
# what record_decisions writes: each table's columns (in its row tuple's order) and the non-text ones' types
_WRITTEN = {
    "decisions": (DECISION_COLS, {"size": "integer"}),
    "outbox": (tuple(OUTBOX_COLS.split(", ")), {}),
    "sends": (tuple(SEND_COLS.split(", ")), {}),
}


@lru_cache(maxsize=16)
def insert_together(tables: tuple[str, ...]) -> str:
    """One statement inserting many rows into each of these tables, each column passed as an array: one
    round trip and one run of the statement-level triggers however many rows, and atomic on its own
    (the inserts but the last are data-modifying CTEs)."""
    statements, n = [], 0
    for table in tables:
        names, types = _WRITTEN[table]
        arrays = ", ".join(f"${n + i}::{types.get(name, 'text')}[]" for i, name in enumerate(names, 1))
        n += len(names)
        statements.append(f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays})")
    ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(statements[:-1]))
    return (f"WITH {ctes} " if ctes else "") + statements[-1]


def as_columns(rows: Sequence[Sequence]) -> list[list]:
    return [list(column) for column in zip(*rows)]


INSERT_SEND = f"INSERT INTO sends ({SEND_COLS}) VALUES ($1, $2, $3, $4, $5) RETURNING id"


def _text_match(text: str) -> tuple[str, list]:
    """Part of a recipient or subject, any case: LIKE on lower(...), which pg_trgm's index serves."""
    pattern = like_pattern(text)
    return "(lower(recipient) LIKE ? OR lower(excerpt) LIKE ?)", [
        pattern,
        pattern,
    ]  # PostgreSQL escapes with \\


class LogTables(DecisionPages):
    """Needs `_conn`, `_transaction`, `_fetch`, `_execute` (postgres.py)."""

    async def record_decisions(
        self,
        decisions: Sequence[Decision],
        replace: bool = False,
        *,
        outbox: Sequence[OutboxMessage] = (),
        sends: Sequence[SendClaim] = (),
        durable: bool = True,
    ) -> None:
        if not decisions and not outbox and not sends:
            return
        rows = [decision_row(d, address_hash(d.recipient)) for d in decisions]
        written = {
            "decisions": [[r[name] for r in rows] for name in DECISION_COLS] if rows else None,
            "outbox": as_columns([outbox_row(m) for m in outbox]) if outbox else None,
            "sends": as_columns([send_row(c) for c in sends]) if sends else None,
        }
        tables = tuple(table for table, columns in written.items() if columns)
        sql, args = insert_together(tables), [a for table in tables for a in written[table]]
        durable = durable or bool(outbox)
        if not replace and durable:  # one statement is its own transaction: one round trip
            async with self._conn() as conn:
                await conn.execute(sql, *args)
            return
        async with self._transaction(durable=durable) as conn:
            if replace:  # a plain DELETE first, so the trigger takes the old rows out of the counts
                await conn.execute(
                    "DELETE FROM decisions WHERE id = ANY($1::text[])", [r["id"] for r in rows]
                )
            await conn.execute(sql, *args)

    async def decisions(
        self, limit: int = 100, query: DecisionQuery | None = None, before_id: str | None = None
    ) -> list[Decision]:
        where, args = (query or DecisionQuery()).where(_text_match)
        if before_id is not None:
            where += " AND id < ?"
            args.append(before_id)
        rows = await self._fetch(
            f"SELECT * FROM decisions WHERE {where} ORDER BY id DESC LIMIT ?", *args, limit
        )
        return [decision_from_row(dict(row)) for row in rows]

    async def decision(self, decision_id: str) -> Decision | None:
        rows = await self._fetch("SELECT * FROM decisions WHERE id = ?", decision_id)
        return decision_from_row(dict(rows[0])) if rows else None

    async def summary(self, since: datetime | None = None, sender: str | None = None) -> list[SummaryRow]:
        sql, args = queries.summary(since, sender)
        return [SummaryRow(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in await self._fetch(sql, *args)]

    async def forget(
        self, channel: Channel, address: str, at: datetime, audit: AuditEntry | None = None
    ) -> Erasure:
        ahash = address_hash(address)
        masked = f"sha256:{ahash}"

        def scrub(text: str | None) -> str | None:
            return text.replace(address, "[erased]") if text and address in text else text

        async with self._transaction() as conn:
            rows = await conn.fetch(
                "SELECT id, violations, upstream FROM decisions WHERE recipient_hash = $1 FOR UPDATE", ahash
            )
            for did, violations, upstream in rows:
                found = json.loads(violations or "[]")
                for v in found:
                    v.pop("recipient", None)
                    v["message"] = scrub(v.get("message"))
                await conn.execute(
                    "UPDATE decisions SET recipient = $1, excerpt = '', violations = $2, "
                    "upstream = $3 WHERE id = $4",
                    masked,
                    json.dumps(found),
                    scrub(upstream),
                    did,
                )
            suppressed = rowcount(
                await conn.execute(
                    "UPDATE suppressions SET address = NULL WHERE channel = $1 AND address_hash = $2",
                    channel.value,
                    ahash,
                )
            )
            await conn.execute(
                f"INSERT INTO suppressions ({SUPPRESSION_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) "
                "ON CONFLICT DO NOTHING",
                channel.value,
                ahash,
                None,
                GLOBAL_SCOPE,
                Reason.ERASED.value,
                "erasure request",
                to_text(at),
                None,
            )
            consents = rowcount(
                await conn.execute(
                    "UPDATE consents SET address = NULL, evidence = '' WHERE channel = $1 AND address_hash = $2",
                    channel.value,
                    ahash,
                )
            )
            await conn.execute(
                "UPDATE audit SET address = NULL WHERE channel = $1 AND address_hash = $2",
                channel.value,
                ahash,
            )
            outbox = rowcount(
                await conn.execute(
                    "UPDATE outbox SET recipient = $1, body = '', fields = '{}' WHERE recipient = $2",
                    masked,
                    address,
                )
            )
            held = rowcount(
                await conn.execute(
                    "UPDATE deferred SET recipient = $1, body = '', fields = '{}', state = CASE WHEN state IN "
                    "('pending', 'sending') THEN 'erased' ELSE state END WHERE recipient_hash = $2",
                    masked,
                    ahash,
                )
            )
            if audit is not None:
                await conn.execute(
                    f"INSERT INTO audit ({AUDIT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)", *audit_row(audit)
                )
        return Erasure(len(rows), suppressed, consents, outbox, held)

    async def purge_before(self, before: datetime) -> int:
        cutoff = to_text(before)
        gone = 0  # in batches: the first purge of a big log must not hold locks for long
        while done := await self._execute(
            "DELETE FROM decisions WHERE id IN (SELECT id FROM decisions WHERE at < ? LIMIT ?)",
            cutoff,
            _PURGE_BATCH,
        ):
            gone += done
        async with self._transaction() as conn:
            await conn.execute(
                "DELETE FROM daily_counts d USING (SELECT day, sender, channel, verdict, code "
                "FROM daily_counts GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <= 0) z WHERE "
                "(d.day, d.sender, d.channel, d.verdict, d.code) = "
                "(z.day, z.sender, z.channel, z.verdict, z.code)"
            )
            await conn.execute("DELETE FROM outbox WHERE at < $1", cutoff)
            await conn.execute(
                "DELETE FROM deferred WHERE created_at < $1 AND state NOT IN ('pending', 'sending')", cutoff
            )
            await conn.execute("DELETE FROM audit WHERE at < $1", cutoff)
        return gone  # sends stay: hashes only, and caps may look back further than retention

    async def record_send(
        self, channel: Channel, address: str, sender: str, category: Category, at: datetime
    ) -> None:
        await self._execute(
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
        async with self._transaction(durable=False) as conn:
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
        await self._execute("DELETE FROM sends WHERE id = ?", send_id)

    async def outbox(self, limit: int = 100) -> list[OutboxMessage]:
        rows = await self._fetch(
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
        await self._execute(
            f"INSERT INTO deferred ({DEFERRED_COLS}) VALUES ({','.join('?' * 15)})",
            text.id,
            to_text(text.created_at),
            to_text(text.send_at),
            text.sender,
            text.recipient,
            address_hash(text.recipient),
            text.from_number,
            text.body,
            text.category.value,
            json.dumps(text.fields),
            text.api,
            text.state,
            text.attempts,
            text.last_error,
            to_text(text.claimed_at),
        )

    async def claim_deferred(self, at: datetime, limit: int) -> list[DeferredText]:
        """SKIP LOCKED: instances polling at once each take different texts, none waits for another."""
        rows = await self._fetch(
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
        await self._execute(sql, *args)

    async def deferred(self, state: str | None = None, limit: int = 100) -> list[DeferredText]:
        sql, args = queries.list_deferred(state, limit)
        return [deferred_of(tuple(r)) for r in await self._fetch(sql, *args)]

    async def next_deferred_at(self) -> datetime | None:
        rows = await self._fetch("SELECT MIN(send_at) FROM deferred WHERE state = 'pending'")
        return from_text(rows[0][0]) if rows else None


def rowcount(status: str) -> int:
    """asyncpg's command status ("DELETE 3", "INSERT 0 1", "UPDATE 2"): the rows it changed."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0
