"""The PostgreSQL decision log (decisions, daily counts, search, erasure, retention). Part of
`PostgresStore`; the SMS tables are postgres_sms.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from ..addresses import address_hash
from ..model import GLOBAL_SCOPE, Channel, Decision, Reason
from . import queries
from .base import (
    ERASE_OPTOUT_REQUESTS,
    FREE_TEXT,
    AuditEntry,
    DecisionQuery,
    Erasure,
    OutboxMessage,
    SendClaim,
    SummaryRow,
    decision_from_row,
    decision_row,
    erased_detail,
    like_pattern,
    to_text,
    without,
)
from .interface import DecisionPages
from .postgres_pool import PostgresPool, numbered, rowcount
from .rows import (
    INSERT_AUDIT,
    OUTBOX_COLS,
    SEND_COLS,
    SUPPRESSION_COLS,
    audit_row,
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
    "message_id",
    "digest",
    "origin",
    "detail",
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


def _text_match(text: str) -> tuple[str, list]:
    """Part of a recipient or subject, any case: LIKE on lower(...), which pg_trgm's index serves."""
    pattern = like_pattern(text)
    return "(lower(recipient) LIKE ? OR lower(excerpt) LIKE ?)", [
        pattern,
        pattern,
    ]  # PostgreSQL escapes with \\


class PostgresDecisionLog(DecisionPages):
    """The decision log's part of `PostgresStore`, on the pool it shares with the other parts."""

    def __init__(self, db: PostgresPool) -> None:
        self.db = db

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
        sql, args = insert_together(tables), [a for table in tables for a in written[table] or ()]
        durable = durable or bool(outbox)
        if not replace and durable:  # one statement is its own transaction: one round trip
            async with self.db.connection() as conn:
                await conn.execute(sql, *args)
            return
        async with self.db.transaction(durable=durable) as conn:
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
        rows = await self.db.fetch(
            f"SELECT * FROM decisions WHERE {where} ORDER BY id DESC LIMIT ?", *args, limit
        )
        return [decision_from_row(dict(row)) for row in rows]

    async def decision(self, decision_id: str) -> Decision | None:
        rows = await self.db.fetch("SELECT * FROM decisions WHERE id = ?", decision_id)
        return decision_from_row(dict(rows[0])) if rows else None

    async def relayed(
        self, sender: str, message_id: str, digest: str, recipients: Sequence[str], since: datetime
    ) -> dict[str, str]:
        sql, args = queries.relayed(sender, message_id, digest, list(recipients), since)
        return queries.by_recipient(await self.db.fetch(sql, *args))

    async def sent_as(
        self, senders: Sequence[str], message_id: str, since: datetime
    ) -> list[tuple[str, str, str, str, str]]:
        sql, args = queries.sent_as(list(senders), message_id, since)
        return [tuple(r) for r in await self.db.fetch(sql, *args)]

    async def settle_intents(self, before: datetime, upstream: str) -> int:
        sql, args = queries.settle_intents(before, upstream)
        async with self.db.transaction() as conn:
            return rowcount(await conn.execute(numbered(sql), *args))

    async def summary(self, since: datetime | None = None, sender: str | None = None) -> list[SummaryRow]:
        sql, args = queries.summary(since, sender)
        return [SummaryRow(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in await self.db.fetch(sql, *args)]

    async def forget(
        self, channel: Channel, address: str, at: datetime, audit: AuditEntry | None = None
    ) -> Erasure:
        ahash = address_hash(address)
        masked = f"sha256:{ahash}"

        def scrub(text: str | None) -> str | None:  # any case: an upstream echoes the RCPT as it was written
            return without(text, address) if text else text

        async with self.db.transaction() as conn:
            rows = await conn.fetch(
                "SELECT id, violations, upstream, detail FROM decisions WHERE recipient_hash = $1 FOR UPDATE",
                ahash,
            )
            for did, violations, upstream, text in rows:
                found = json.loads(violations or "[]")
                for v in found:
                    v.pop("recipient", None)
                    v["message"] = scrub(v.get("message"))
                await conn.execute(
                    "UPDATE decisions SET recipient = $1, excerpt = '', detail = $2, violations = $3, "
                    "upstream = $4 WHERE id = $5",
                    masked,
                    erased_detail(text),
                    json.dumps(found),
                    scrub(upstream),
                    did,
                )
            suppressed = rowcount(
                await conn.execute(
                    "UPDATE suppressions SET address = NULL, source = '' WHERE channel = $1 AND address_hash = $2",
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
                    "UPDATE consents SET address = NULL, evidence = '', source = '' "
                    "WHERE channel = $1 AND address_hash = $2",
                    channel.value,
                    ahash,
                )
            )
            await conn.execute(numbered(ERASE_OPTOUT_REQUESTS), to_text(at), channel.value, ahash)
            await conn.execute(
                "UPDATE audit SET address = NULL, detail = '' WHERE channel = $1 AND address_hash = $2",
                channel.value,
                ahash,
            )
            for table, column in FREE_TEXT:  # the address quoted in anyone else's rows
                found = await conn.fetch(
                    f"SELECT id, {column} FROM {table} WHERE {column} ILIKE $1 ESCAPE '\\'",
                    like_pattern(address),
                )
                for row_id, text in found:
                    await conn.execute(
                        f"UPDATE {table} SET {column} = $1 WHERE id = $2", without(text, address), row_id
                    )
            quoted = await conn.fetch(  # other people's subjects that quote it (pg_trgm's index serves this)
                "SELECT id, excerpt FROM decisions WHERE lower(excerpt) LIKE $1 ESCAPE '\\' LIMIT 10000",
                like_pattern(address),
            )
            for row_id, text in quoted:
                await conn.execute(
                    "UPDATE decisions SET excerpt = $1 WHERE id = $2", without(text, address), row_id
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
                await conn.execute(numbered(INSERT_AUDIT), *audit_row(audit))
        return Erasure(len(rows), suppressed, consents, outbox, held)

    async def purge_before(self, before: datetime) -> int:
        cutoff = to_text(before)
        gone = 0  # in batches: the first purge of a big log must not hold locks for long
        while done := await self.db.execute(
            "DELETE FROM decisions WHERE id IN (SELECT id FROM decisions WHERE at < ? LIMIT ?)",
            cutoff,
            _PURGE_BATCH,
        ):
            gone += done
        async with self.db.transaction() as conn:
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
            await conn.execute("DELETE FROM text_status WHERE at < $1", cutoff)
        return gone  # sends stay: hashes only, and caps may look back further than retention
