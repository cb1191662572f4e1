"""Where facts and decisions live. `open_store(url)` picks the engine from the database URL."""

from __future__ import annotations

from .base import ImportResult, StoreError, new_id, now
from .interface import Store
from .sqlite import SqliteStore


def open_store(url: str) -> Store:
    """Open (creating and migrating as needed) the store a `database` URL names."""
    if url.startswith("sqlite:"):
        return SqliteStore.from_url(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore  # asyncpg only where it is used

        return PostgresStore.from_url(url)
    raise StoreError(
        "unsupported database URL: expected sqlite:///path/to/file.db or postgresql://user@host/db"
    )


__all__ = ["ImportResult", "SqliteStore", "Store", "StoreError", "new_id", "now", "open_store"]
