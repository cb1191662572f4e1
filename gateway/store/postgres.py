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

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import islice
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from ..addresses import address_hash
from ..model import Channel, Consent, RecipientFacts, Suppression
from . import queries
from .base import AuditEntry, ImportResult, StoreError, to_text
from .postgres_log import LogTables, rowcount
from .postgres_schema import MIGRATION_LOCK, MIGRATIONS, SCHEMA_VERSION, TRIGRAM_INDEX
from .rows import (
    AUDIT_COLS,
    CONSENT_COLS,
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
# What a lost, refused or timed-out connection raises: the caller gets StoreError (451 / 503), never a pass.
_FAILURES = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    asyncio.TimeoutError,
    ConnectionError,
)


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """The shared query builder writes `?`; PostgreSQL numbers its parameters."""
    count = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


def redacted(url: str) -> str:
    """The URL for messages and logs: no password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStore(LogTables):
    def __init__(
        self, url: str, pool_size: int = 10, connect_timeout: float = 3.0, command_timeout: float = 10.0
    ) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise StoreError(f"not a PostgreSQL URL: {redacted(url)!r}")
        self.url = url
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        return cls(url)

    async def _ready(self) -> asyncpg.Pool:
        """The pool, created (and the schema migrated) on first use, inside the running loop: each worker
        process and each CLI run has its own."""
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                try:
                    pool = await asyncpg.create_pool(
                        self.url,
                        min_size=1,
                        max_size=self._pool_size,
                        timeout=self._connect_timeout,
                        command_timeout=self._command_timeout,
                        max_inactive_connection_lifetime=60,
                        reset=_keep_session,
                    )
                except _FAILURES as exc:
                    raise StoreError(f"cannot reach PostgreSQL at {redacted(self.url)}: {exc}") from None
                try:
                    await self._migrate(pool)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    async def _migrate(self, pool: asyncpg.Pool) -> None:
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                await conn.execute("CREATE TABLE IF NOT EXISTS gateway_schema (version integer NOT NULL)")
                version = await conn.fetchval("SELECT version FROM gateway_schema")
                if version is None:
                    await conn.execute("INSERT INTO gateway_schema (version) VALUES (0)")
                    version = 0
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"database schema version {version} is newer than this gateway ({SCHEMA_VERSION})"
                    )
                for step in range(version, SCHEMA_VERSION):
                    await conn.execute(MIGRATIONS[step])
                    await conn.execute("UPDATE gateway_schema SET version = $1", step + 1)
                try:
                    async with conn.transaction():  # a savepoint: refused, the rest still commits
                        await conn.execute(TRIGRAM_INDEX)
                except asyncpg.PostgresError as exc:
                    log.warning("no trigram index for searching decisions (%s); searches read the log", exc)
        except _FAILURES as exc:
            raise StoreError(f"cannot prepare the PostgreSQL schema: {exc}") from None

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        pool = await self._ready()
        try:
            async with pool.acquire() as conn:
                try:
                    yield conn
                except BaseException:
                    # after a failure (a server gone mid-statement, a cancelled request) the connection's
                    # state is unknown: closed, so that the pool opens a fresh one rather than hand it on
                    conn.terminate()
                    raise
        except StoreError:
            raise
        except _FAILURES as exc:
            raise StoreError(f"PostgreSQL: {type(exc).__name__}: {exc}") from None

    @contextlib.asynccontextmanager
    async def _transaction(self, durable: bool = True) -> AsyncIterator[asyncpg.Connection]:
        async with self._conn() as conn, conn.transaction():
            if not durable:
                await conn.execute("SET LOCAL synchronous_commit TO off")
            yield conn

    async def _fetch(self, sql: str, *args) -> list[asyncpg.Record]:
        async with self._conn() as conn:
            return await conn.fetch(numbered(sql), *args)

    async def _execute(self, sql: str, *args) -> int:
        """Rows changed."""
        async with self._conn() as conn:
            return rowcount(await conn.execute(numbered(sql), *args))

    async def schema_version(self) -> int:
        async with self._conn() as conn:
            return await conn.fetchval("SELECT version FROM gateway_schema")

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10)
            except (TimeoutError, *_FAILURES):
                pool.terminate()

    async def facts(
        self, channel: Channel, sender: str, addresses: Sequence[str], at: datetime, history_hours: int = 0
    ) -> dict[str, RecipientFacts]:
        """One statement for every recipient: suppressions, consents and (when asked) recent sends."""
        by_hash = {address_hash(a): a for a in addresses}
        args: list = [channel.value, sender]
        if history_hours:
            args.append(to_text(at - timedelta(hours=history_hours)))
        async with self._conn() as conn:
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
        async with self._transaction() as conn:
            if inserts_one:
                new_id = await conn.fetchval(numbered(sql + " RETURNING id"), *args)
                changed = 0 if new_id is None else 1
            else:
                new_id, changed = None, rowcount(await conn.execute(numbered(sql), *args))
            if audit is not None and changed:
                await conn.execute(
                    numbered(f"INSERT INTO audit ({AUDIT_COLS}) VALUES (?,?,?,?,?,?,?,?)"), *audit_row(audit)
                )
            return changed, new_id

    async def add_suppression(self, entry: Suppression, audit: AuditEntry | None = None) -> bool:
        added, _ = await self._change(
            f"INSERT INTO suppressions ({SUPPRESSION_COLS}) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            self._suppression_row(entry),
            audit,
            inserts_one=True,
        )
        return added == 1

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
        async with self._conn() as conn, conn.transaction():  # a cursor: any number, flat memory
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
                async with self._transaction() as conn:
                    inserted = rowcount(await conn.execute(sql, *(list(c) for c in zip(*batch))))
                added += inserted
                skipped += len(batch) - inserted
        except StoreError as exc:
            raise StoreError(f"import stopped after {added} rows: {exc}") from None
        return ImportResult(added, skipped, valid.rejected, tuple(valid.errors))

    async def add_consent(self, consent: Consent, audit: AuditEntry | None = None) -> int:
        _, cid = await self._change(*queries.add_consent(consent), audit, inserts_one=True)
        return cid

    async def revoke_consents(
        self, channel: Channel, address: str, scope: str | None, at: datetime, audit: AuditEntry | None = None
    ) -> int:
        return (await self._change(*queries.revoke_consents(channel, address, scope, at), audit))[0]

    async def consents(self, channel: Channel, address: str, scope: str | None = None) -> list[Consent]:
        return [
            consent_of(tuple(r))
            for r in await self._fetch(*_spread(queries.consents(channel, address, scope)))
        ]

    async def add_audit(self, entry: AuditEntry) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                numbered(f"INSERT INTO audit ({AUDIT_COLS}) VALUES (?,?,?,?,?,?,?,?)"), *audit_row(entry)
            )

    async def audit_log(
        self, channel: Channel | None = None, address: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        return [
            audit_of(tuple(r))
            for r in await self._fetch(*_spread(queries.audit_log(channel, address, limit)))
        ]


@lru_cache(maxsize=4)
def _facts_sql(history: bool, many: bool) -> str:
    """The facts read, written so that PostgreSQL's cached generic plan is an index lookup by address hash:
    one address (every RCPT, every text) compares with a plain parameter; several go through a LATERAL join
    over the array, one lookup per hash. (`address_hash = ANY($n)` gets a generic plan that scans a small
    table's whole channel, so the server plans it afresh on every call instead.)"""
    h = "$4" if history else "$3"
    parts = [
        f"SELECT 's', NULL::bigint, {SUPPRESSION_COLS}, NULL, NULL FROM suppressions WHERE channel = $1 "
        f"AND address_hash = {{hash}} AND scope IN ($2, 'global')",
        f"SELECT 'c', {CONSENT_COLS} FROM consents WHERE channel = $1 AND address_hash = {{hash}} "
        f"AND scope IN ($2, 'global')",
    ]
    if history:
        parts.append(
            "SELECT 'n', NULL, NULL, address_hash, NULL, NULL, NULL, NULL, sent_at, NULL, NULL, NULL "
            "FROM sends WHERE channel = $1 AND address_hash = {hash} AND scope = $2 "
            "AND category = 'marketing' AND sent_at > $3"
        )
    union = " UNION ALL ".join(parts)
    if not many:
        return union.format(hash=h)
    return (
        f"SELECT x.* FROM unnest({h}::text[]) AS h(hash) CROSS JOIN LATERAL ({union.format(hash='h.hash')}) x"
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond asyncpg's own rollback of an unfinished transaction. The
    gateway keeps no session state (its settings are SET LOCAL, its advisory locks transaction-scoped), so
    the default RESET ALL / UNLISTEN / CLOSE ALL round trip after every use would buy nothing (it cost 0.15
    ms of server CPU per text). A connection that failed in use is closed by `_conn` instead: that round
    trip was also what found a connection the server had dropped."""


def _spread(query: tuple[str, list]) -> tuple:
    """(sql, args) as the positional arguments `_fetch` takes."""
    sql, args = query
    return (sql, *args)
