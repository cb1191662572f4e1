"""The PostgreSQL engine's connections: a pool of asyncpg connections shared by the store's parts, created
(and the schema migrated, once across instances: an advisory lock) on first use, inside the running loop,
so that each worker process and each CLI run has its own. A lost, refused or timed-out connection is a
`StoreError` (451 / 503), never a pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from .base import StoreError
from .postgres_schema import MIGRATION_LOCK, MIGRATIONS, SCHEMA_VERSION, TRIGRAM_INDEX

log = logging.getLogger("gateway.store")

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


class PostgresPool:
    """A pool of asyncpg connections to one database, created (and the schema migrated) on first use; the
    store's parts share one."""

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
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
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
    async def transaction(self, durable: bool = True) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as conn, conn.transaction():
            if not durable:
                await conn.execute("SET LOCAL synchronous_commit TO off")
            yield conn

    async def fetch(self, sql: str, *args) -> list[asyncpg.Record]:
        async with self.connection() as conn:
            return await conn.fetch(numbered(sql), *args)

    async def execute(self, sql: str, *args) -> int:
        """Rows changed."""
        async with self.connection() as conn:
            return rowcount(await conn.execute(numbered(sql), *args))

    async def schema_version(self) -> int:
        async with self.connection() as conn:
            return await conn.fetchval("SELECT version FROM gateway_schema")

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10)
            except (TimeoutError, *_FAILURES):
                pool.terminate()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond asyncpg's own rollback of an unfinished transaction. The
    gateway keeps no session state (its settings are SET LOCAL, its advisory locks transaction-scoped), so
    the default RESET ALL / UNLISTEN / CLOSE ALL round trip after every use would buy nothing but server
    CPU per text. A connection that failed in use is closed by `connection` instead: that round
    trip was also what found a connection the server had dropped."""


def rowcount(status: str) -> int:
    """asyncpg's command status ("DELETE 3", "INSERT 0 1", "UPDATE 2"): the rows it changed."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0
