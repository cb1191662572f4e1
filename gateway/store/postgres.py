"""The scale-out engine: PostgreSQL through a pool of asyncpg connections, shared by any number of gateway
instances. Same tables, versions and semantics as the SQLite engine; what one instance writes (an opt-out,
a send counted against a cap) every other sees on its next read, and caps are claimed under a
transaction-scoped advisory lock per number, so instances never both take the last place.

Selected by `database = "postgresql://user@host:port/db"`; a password comes from PGPASSWORD or ~/.pgpass
(libpq's own conventions, which asyncpg follows), never from the config file. This module holds the pool,
the migrations, the facts read, suppressions, consents and the audit trail; postgres_log.py the decision
log and the SMS tables.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import islice

from ..addresses import address_hash
from ..model import Channel, Consent, DncFacts, RecipientFacts, Suppression
from . import queries
from .base import AuditEntry, ImportResult, OptOutRequest, StoreError, dnc_number, to_text
from .interface import StoreParts
from .optout_requests import OptOutRequestsPart, insert_request
from .postgres_log import PostgresDecisionLog
from .postgres_pool import PostgresPool, numbered, rowcount
from .postgres_schema import SCHEMA_VERSION
from .postgres_sms import PostgresTexts
from .rows import (
    CONSENT_COLS,
    INSERT_AUDIT,
    SUPPRESSION_COLS,
    audit_of,
    audit_row,
    consent_of,
    facts_of,
    suppression_of,
    suppression_row,
)

log = logging.getLogger("gateway.store")

__all__ = ["SCHEMA_VERSION", "PostgresStore", "numbered"]

_IMPORT_BATCH = 20_000


class PostgresStore(OptOutRequestsPart, StoreParts):
    """The lists here; the decision log and the SMS tables in parts of their own on the same pool."""

    def __init__(
        self, url: str, pool_size: int = 10, connect_timeout: float = 3.0, command_timeout: float = 10.0
    ) -> None:
        self.db = PostgresPool(url, pool_size, connect_timeout, command_timeout)
        self.url = url
        self.log = PostgresDecisionLog(self.db)
        self.texts = PostgresTexts(self.db)

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        return cls(url)

    async def schema_version(self) -> int:
        return await self.db.schema_version()

    async def close(self) -> None:
        await self.db.close()

    async def facts(
        self, channel: Channel, sender: str, addresses: Sequence[str], at: datetime, history_hours: int = 0
    ) -> dict[str, RecipientFacts]:
        """One statement for every recipient: suppressions, consents and (when asked) recent sends."""
        by_hash = {address_hash(a): a for a in addresses}
        args: list = [channel.value, sender]
        if history_hours:
            args.append(to_text(at - timedelta(hours=history_hours)))
        async with self.db.connection() as conn:
            if len(by_hash) == 1:
                rows = await conn.fetch(
                    _facts_sql(bool(history_hours), many=False), *args, next(iter(by_hash))
                )
            else:
                rows = await conn.fetch(_facts_sql(bool(history_hours), many=True), *args, list(by_hash))
        return facts_of((tuple(row) for row in rows), by_hash)

    _suppression_row = staticmethod(suppression_row)

    async def _change(
        self, sql: str, args: Sequence, audit: AuditEntry | None, inserts_one: bool = False
    ) -> tuple[int, int | None]:
        """One statement and, with `audit`, its audit entry in the same transaction if it changed anything:
        (rows changed, the new row's id when it `inserts_one`)."""
        async with self.db.transaction() as conn:
            if inserts_one:
                new_id = await conn.fetchval(numbered(sql + " RETURNING id"), *args)
                changed = 0 if new_id is None else 1
            else:
                new_id, changed = None, rowcount(await conn.execute(numbered(sql), *args))
            if audit is not None and changed:
                await conn.execute(numbered(INSERT_AUDIT), *audit_row(audit))
            return changed, new_id

    async def add_suppression(self, entry: Suppression, audit: AuditEntry | None = None) -> bool:
        added, _ = await self._change(
            f"INSERT INTO suppressions ({SUPPRESSION_COLS}) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            self._suppression_row(entry),
            audit,
            inserts_one=True,
        )
        return added == 1

    async def add_suppressions(self, entries: Sequence[tuple[Suppression, AuditEntry | None]]) -> list[bool]:
        sql = numbered(
            f"INSERT INTO suppressions ({SUPPRESSION_COLS}) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING "
            "RETURNING id"
        )
        added = []
        async with self.db.transaction() as conn:
            for entry, audit in entries:
                new = await conn.fetchval(sql, *self._suppression_row(entry)) is not None
                if new and audit is not None:
                    await conn.execute(numbered(INSERT_AUDIT), *audit_row(audit))
                added.append(new)
        return added

    async def remove_suppressions(
        self,
        channel: Channel,
        address: str,
        scope: str | None,
        reason: str | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        return (await self._change(*queries.remove_suppressions(channel, address, scope, reason), audit))[0]

    async def suppressions(
        self, channel: Channel | None = None, scope: str | None = None, address: str | None = None
    ) -> AsyncIterator[Suppression]:
        sql, args = queries.list_suppressions(channel, scope, address)
        async with self.db.connection() as conn, conn.transaction():  # a cursor: any number, flat memory
            async for row in conn.cursor(numbered(sql), *args, prefetch=1000):
                yield suppression_of(tuple(row))

    async def import_suppressions(self, rows: Iterable[Suppression | str]) -> ImportResult:
        added = skipped = 0
        valid = queries.ImportRows(rows, self._suppression_row)
        stream = iter(valid)
        columns = SUPPRESSION_COLS.split(", ")
        sql = (
            f"INSERT INTO suppressions ({SUPPRESSION_COLS}) SELECT * FROM unnest("
            + ", ".join(f"${i + 1}::text[]" for i in range(len(columns)))
            + ") ON CONFLICT DO NOTHING"
        )
        try:
            while batch := list(islice(stream, _IMPORT_BATCH)):
                async with self.db.transaction() as conn:
                    inserted = rowcount(await conn.execute(sql, *(list(c) for c in zip(*batch))))
                added += inserted
                skipped += len(batch) - inserted
        except StoreError as exc:
            raise StoreError(f"import stopped after {added} rows: {exc}") from None
        return ImportResult(added, skipped, valid.rejected, tuple(valid.errors))

    async def import_dnc(self, name: str, rows: Iterable[str], as_of: date, at: datetime) -> ImportResult:
        """As the SQLite engine's: one transaction, the old copy replaced only once the new one is in."""
        valid = queries.ImportRows(rows, lambda number: number)
        stream = iter(valid)
        added = 0
        try:
            async with self.db.transaction() as conn:
                await conn.execute("DELETE FROM dnc WHERE list = $1", name)
                while batch := list(islice(stream, _IMPORT_BATCH)):
                    added += rowcount(
                        await conn.execute(
                            "INSERT INTO dnc (list, number) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
                            name,
                            batch,
                        )
                    )
                await conn.execute(
                    "INSERT INTO dnc_copies (list, as_of, imported_at, numbers) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (list) DO UPDATE SET as_of = excluded.as_of, "
                    "imported_at = excluded.imported_at, numbers = excluded.numbers",
                    name,
                    as_of.isoformat(),
                    to_text(at),
                    added,
                )
        except StoreError as exc:
            raise StoreError(f"Do-Not-Call import failed, the copy held is unchanged: {exc}") from None
        return ImportResult(added, valid.accepted - added, valid.rejected, tuple(valid.errors))

    async def import_rnd(self, rows: Iterable, source: str, digest: str, at: datetime) -> ImportResult:
        """As the SQLite engine's: one transaction, a receipt with it."""
        valid = queries.ImportRows(rows, lambda row: (*row, to_text(at)))
        added = yes = 0
        try:
            async with self.db.transaction() as conn:
                stream = iter(valid)
                while batch := list(islice(stream, _IMPORT_BATCH)):
                    await conn.executemany(numbered(queries.UPSERT_RND), batch)
                    added += len(batch)
                    yes += sum(1 for row in batch if row[2] == "yes")
                await conn.execute(
                    numbered(queries.INSERT_RND_RECEIPT), to_text(at), source, digest, added, yes
                )
        except StoreError as exc:
            raise StoreError(
                f"Reassigned Numbers Database import failed, nothing of it kept: {exc}"
            ) from None
        return ImportResult(added, 0, valid.rejected, tuple(valid.errors))

    async def dnc_facts(self, number: str) -> DncFacts:
        sql, args = queries.dnc_facts(dnc_number(number))
        return queries.dnc_of(await self.db.fetch(sql, *args))

    async def add_consent(self, consent: Consent, audit: AuditEntry | None = None) -> int:
        _, cid = await self._change(*queries.add_consent(consent), audit, inserts_one=True)
        assert cid is not None, "an insert has a row id"
        return cid

    async def add_optout_request(self, request: OptOutRequest) -> int:
        _, rid = await self._change(*insert_request(request), None, inserts_one=True)
        return int(rid or 0)

    async def _read(self, query: tuple[str, list]) -> list[tuple]:
        return [tuple(r) for r in await self.db.fetch(*_spread(query))]

    async def _write(
        self, statements: Sequence[tuple[str, list]], audit: AuditEntry | None = None
    ) -> list[int]:
        async with self.db.transaction() as conn:
            counts = [rowcount(await conn.execute(numbered(sql), *args)) for sql, args in statements]
            if audit is not None and any(counts):
                await conn.execute(numbered(INSERT_AUDIT), *audit_row(audit))
            return counts

    async def revoke_consents(
        self, channel: Channel, address: str, scope: str | None, at: datetime, audit: AuditEntry | None = None
    ) -> int:
        return (await self._change(*queries.revoke_consents(channel, address, scope, at), audit))[0]

    async def consents(self, channel: Channel, address: str, scope: str | None = None) -> list[Consent]:
        return [
            consent_of(tuple(r))
            for r in await self.db.fetch(*_spread(queries.consents(channel, address, scope)))
        ]

    async def first_time(self, kind: str, key: str, at: datetime) -> bool:
        async with self.db.transaction() as conn:
            status = await conn.execute(
                "INSERT INTO seen (kind, key, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                kind,
                key,
                to_text(at),
            )
        return status.endswith(" 1")

    async def seen(self, kind: str, key: str) -> bool:
        return bool(await self.db.fetch("SELECT 1 FROM seen WHERE kind = ? AND key = ?", kind, key))

    async def forget_seen(self, kind: str, before: datetime) -> int:
        async with self.db.transaction() as conn:
            status = await conn.execute("DELETE FROM seen WHERE kind = $1 AND at < $2", kind, to_text(before))
        return int(status.split()[-1])

    async def add_audit(self, entry: AuditEntry) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(numbered(INSERT_AUDIT), *audit_row(entry))

    async def audit_log(
        self,
        channel: Channel | None = None,
        address: str | None = None,
        limit: int = 100,
        actions: Sequence[str] = (),
        offset: int = 0,
    ) -> list[AuditEntry]:
        return [
            audit_of(tuple(r))
            for r in await self.db.fetch(
                *_spread(queries.audit_log(channel, address, limit, actions, offset))
            )
        ]


@lru_cache(maxsize=4)
def _facts_sql(history: bool, many: bool) -> str:
    """The facts read, written so that PostgreSQL's cached generic plan is an index lookup by address hash:
    one address (every RCPT, every text) compares with a plain parameter; several go through a LATERAL join
    over the array, one lookup per hash. (`address_hash = ANY($n)` gets a generic plan that scans a small
    table's whole channel, so the server plans it afresh on every call instead.)"""
    h = "$4" if history else "$3"
    parts = [
        f"SELECT 's', NULL::bigint, {SUPPRESSION_COLS}, NULL, NULL, NULL FROM suppressions WHERE channel = $1 "
        f"AND address_hash = {{hash}} AND scope IN ($2, 'global')",
        f"SELECT 'c', {CONSENT_COLS} FROM consents WHERE channel = $1 AND address_hash = {{hash}} "
        f"AND scope IN ($2, 'global')",
    ]
    if history:
        parts.append(
            "SELECT 'n', NULL, NULL, address_hash, NULL, NULL, NULL, NULL, sent_at, NULL, NULL, NULL, NULL "
            "FROM sends WHERE channel = $1 AND address_hash = {hash} AND scope = $2 "
            "AND category = 'marketing' AND sent_at > $3"
        )
    union = " UNION ALL ".join(parts)
    if not many:
        return union.format(hash=h)
    return (
        f"SELECT x.* FROM unnest({h}::text[]) AS h(hash) CROSS JOIN LATERAL ({union.format(hash='h.hash')}) x"
    )


def _spread(query: tuple[str, list]) -> tuple:
    """(sql, args) as the positional arguments `_fetch` takes."""
    sql, args = query
    return (sql, *args)
