"""Where facts and decisions live. `open_store(url)` picks the engine from the database URL."""

from __future__ import annotations

from .base import ImportResult, Store, StoreError, new_id, now
from .sqlite import SqliteStore


def open_store(url: str) -> Store:
    """Open (creating and migrating as needed) the store a `database` URL names."""
    if url.startswith("sqlite:"):
        return SqliteStore.from_url(url)
    raise StoreError(f"unsupported database URL {url!r}: expected sqlite:///path/to/file.db")


__all__ = ["ImportResult", "SqliteStore", "Store", "StoreError", "new_id", "now", "open_store"]
