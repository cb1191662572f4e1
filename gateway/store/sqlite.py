"""The embedded engine: one SQLite file in WAL mode, through sqlite-utils.

Created and migrated on open (PRAGMA user_version is the schema version). Addresses are looked up by
their SHA-256, so a hashed (erased) suppression blocks exactly like a plain one. This module holds the
facts read, the suppression list, the consent ledger and the audit trail; the file itself (connections,
migrations, the write path) is sqlite_writer.py, the decision log sqlite_log.py, the SMS tables
sqlite_sms.py (parts the store holds), the schema sqlite_schema.py.
"""

from __future__ import annotations

import sqlite3
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
from .sqlite_log import SqliteDecisionLog
from .sqlite_schema import SCHEMA_VERSION, sqlite_path
from .sqlite_sms import SqliteTexts
from .sqlite_writer import SqliteFile

__all__ = ["SCHEMA_VERSION", "SqliteStore", "sqlite_path"]

_BATCH = 500  # addresses per IN (...) query
_IMPORT_BATCH = 20_000
_INSERT_SUPPRESSION = f"INSERT OR IGNORE INTO suppressions ({SUPPRESSION_COLS}) VALUES (?,?,?,?,?,?,?,?)"


@lru_cache(maxsize=64)
def _facts_sql(count: int, with_sends: bool) -> str:
    """The one statement that reads every fact about `count` recipients (?1 channel, ?2 sender, ?3 since)."""
    marks = ",".join(f"?{i}" for i in range(4, 4 + count))
    sql = (
        f"SELECT 's', NULL, {SUPPRESSION_COLS}, NULL, NULL, NULL FROM suppressions WHERE channel = ?1 "
        f"AND scope IN (?2, 'global') AND address_hash IN ({marks}) "
        f"UNION ALL SELECT 'c', {CONSENT_COLS} FROM consents WHERE channel = ?1 "
        f"AND scope IN (?2, 'global') AND address_hash IN ({marks})"
    )
    if with_sends:
        sql += (
            f" UNION ALL SELECT 'n', NULL, NULL, address_hash, NULL, NULL, NULL, NULL, sent_at, "
            f"NULL, NULL, NULL, NULL FROM sends WHERE channel = ?1 AND scope = ?2 AND category = "
            f"'marketing' AND sent_at > ?3 AND address_hash IN ({marks})"
        )
    return sql


class SqliteStore(OptOutRequestsPart, StoreParts):
    """The lists here; the decision log and the SMS tables in parts of their own on the same file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.db = SqliteFile(path)
        self.log = SqliteDecisionLog(self.db)
        self.texts = SqliteTexts(self.db)

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        return cls(sqlite_path(url))

    async def schema_version(self) -> int:
        return self.db.schema_version()

    async def close(self) -> None:
        await self.db.close()

    async def index_search_text(self) -> int:
        """Everything written so far into the search index, now (tests, and a process that writes no more)."""
        return await self.db.index_search_text()

    async def facts(
        self, channel: Channel, sender: str, addresses: Sequence[str], at: datetime, history_hours: int = 0
    ) -> dict[str, RecipientFacts]:
        """One UNION ALL statement per 500 recipients: one snapshot, one round trip."""
        by_hash = {address_hash(a): a for a in addresses}
        since = to_text(at - timedelta(hours=history_hours)) if history_hours else None
        hashes = list(by_hash)

        def rows():
            for start in range(0, len(hashes), _BATCH):
                chunk = hashes[start : start + _BATCH]
                yield from self.db.conn.execute(
                    _facts_sql(len(chunk), since is not None), (channel.value, sender, since or "", *chunk)
                )

        try:
            return facts_of(rows(), by_hash)
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    _suppression_row = staticmethod(suppression_row)

    async def add_suppression(self, entry: Suppression, audit: AuditEntry | None = None) -> bool:
        added, _ = await self._change(
            _INSERT_SUPPRESSION,
            self._suppression_row(entry),
            audit,
        )
        return added == 1

    async def add_suppressions(self, entries: Sequence[tuple[Suppression, AuditEntry | None]]) -> list[bool]:
        rows = [(self._suppression_row(entry), audit) for entry, audit in entries]

        def work(conn: sqlite3.Connection) -> list[bool]:
            added = []
            for row, audit in rows:
                new = conn.execute(_INSERT_SUPPRESSION, row).rowcount == 1
                if new and audit is not None:
                    conn.execute(INSERT_AUDIT, audit_row(audit))
                added.append(new)
            return added

        return await self.db.write(work)  # durable, in the writer thread: the loop never waits for it

    async def remove_suppressions(
        self,
        channel: Channel,
        address: str,
        scope: str | None,
        reason: str | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        return (await self._change(*queries.remove_suppressions(channel, address, scope, reason), audit))[0]

    async def _change(self, sql: str, args: Sequence, audit: AuditEntry | None) -> tuple[int, int | None]:
        """One statement, and with `audit` its audit entry in the same transaction if it changed anything:
        (rows changed, last row id)."""
        if audit is None:
            cur = self.db.run(sql, args)
            return cur.rowcount, cur.lastrowid

        def work(conn: sqlite3.Connection) -> tuple[int, int | None]:
            cur = conn.execute(sql, args)
            if cur.rowcount > 0:
                conn.execute(INSERT_AUDIT, audit_row(audit))
            return cur.rowcount, cur.lastrowid

        return await self.db.write(work)

    async def first_time(self, kind: str, key: str, at: datetime) -> bool:
        return bool(
            await self.db.write(
                lambda conn: (
                    conn.execute(
                        "INSERT INTO seen (kind, key, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        (kind, key, to_text(at)),
                    ).rowcount
                )
            )
        )

    async def seen(self, kind: str, key: str) -> bool:
        return (
            self.db.run("SELECT 1 FROM seen WHERE kind = ? AND key = ?", (kind, key)).fetchone() is not None
        )

    async def forget_seen(self, kind: str, before: datetime) -> int:
        return await self.db.write(
            lambda conn: (
                conn.execute("DELETE FROM seen WHERE kind = ? AND at < ?", (kind, to_text(before))).rowcount
            )
        )

    async def add_audit(self, entry: AuditEntry) -> None:
        await self.db.write(lambda conn: conn.execute(INSERT_AUDIT, audit_row(entry)))

    async def audit_log(
        self,
        channel: Channel | None = None,
        address: str | None = None,
        limit: int = 100,
        actions: Sequence[str] = (),
        offset: int = 0,
    ) -> list[AuditEntry]:
        return [
            audit_of(row) for row in self.db.run(*queries.audit_log(channel, address, limit, actions, offset))
        ]

    async def suppressions(
        self, channel: Channel | None = None, scope: str | None = None, address: str | None = None
    ) -> AsyncIterator[Suppression]:
        cursor = self.db.run(*queries.list_suppressions(channel, scope, address))
        while rows := cursor.fetchmany(1000):
            for row in rows:
                yield suppression_of(row)

    async def import_suppressions(self, rows: Iterable[Suppression | str]) -> ImportResult:
        added = skipped = 0
        valid = queries.ImportRows(rows, self._suppression_row)
        stream = iter(valid)
        sql = _INSERT_SUPPRESSION
        try:
            while batch := list(islice(stream, _IMPORT_BATCH)):
                with self.db.conn:
                    self.db.conn.execute("BEGIN")
                    before = self.db.conn.total_changes
                    self.db.conn.executemany(sql, batch)
                    inserted = self.db.conn.total_changes - before
                added += inserted
                skipped += len(batch) - inserted
        except sqlite3.Error as exc:
            raise StoreError(f"import stopped after {added} rows: {exc}") from exc
        return ImportResult(added, skipped, valid.rejected, tuple(valid.errors))

    async def import_dnc(self, name: str, rows: Iterable[str], as_of: date, at: datetime) -> ImportResult:
        """A registry's copy of one Do-Not-Call list, replacing the one held (numbers as ten digits; a row
        that is not one is an error string), in one transaction: the old copy stays until the new is in."""
        valid = queries.ImportRows(rows, lambda number: (name, number))
        try:
            with self.db.conn:
                self.db.conn.execute("BEGIN")
                self.db.conn.execute("DELETE FROM dnc WHERE list = ?", (name,))
                before = self.db.conn.total_changes
                stream = iter(valid)
                while batch := list(islice(stream, _IMPORT_BATCH)):
                    self.db.conn.executemany("INSERT OR IGNORE INTO dnc (list, number) VALUES (?, ?)", batch)
                added = self.db.conn.total_changes - before
                self.db.conn.execute(
                    "INSERT INTO dnc_copies (list, as_of, imported_at, numbers) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (list) DO UPDATE SET as_of = excluded.as_of, "
                    "imported_at = excluded.imported_at, numbers = excluded.numbers",
                    (name, as_of.isoformat(), to_text(at), added),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"Do-Not-Call import failed, the copy held is unchanged: {exc}") from exc
        return ImportResult(added, valid.accepted - added, valid.rejected, tuple(valid.errors))

    async def import_rnd(self, rows: Iterable, source: str, digest: str, at: datetime) -> ImportResult:
        """Answers of the Reassigned Numbers Database ((ten digits, queried date, answer) or an error
        string), each replacing the answer held for its number and date, and the import's receipt."""
        valid = queries.ImportRows(rows, lambda row: (*row, to_text(at)))
        added = yes = 0
        try:
            with self.db.conn:
                self.db.conn.execute("BEGIN")
                stream = iter(valid)
                while batch := list(islice(stream, _IMPORT_BATCH)):
                    self.db.conn.executemany(queries.UPSERT_RND, batch)
                    added += len(batch)
                    yes += sum(1 for row in batch if row[2] == "yes")
                self.db.conn.execute(queries.INSERT_RND_RECEIPT, (to_text(at), source, digest, added, yes))
        except sqlite3.Error as exc:
            raise StoreError(f"Reassigned Numbers Database import failed, nothing of it kept: {exc}") from exc
        return ImportResult(added, 0, valid.rejected, tuple(valid.errors))

    async def dnc_facts(self, number: str) -> DncFacts:
        try:
            return queries.dnc_of(self.db.run(*queries.dnc_facts(dnc_number(number))))
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    async def add_consent(self, consent: Consent, audit: AuditEntry | None = None) -> int:
        _, cid = await self._change(*queries.add_consent(consent), audit)
        assert cid is not None, "an insert has a row id"
        return cid

    async def revoke_consents(
        self, channel: Channel, address: str, scope: str | None, at: datetime, audit: AuditEntry | None = None
    ) -> int:
        return (await self._change(*queries.revoke_consents(channel, address, scope, at), audit))[0]

    async def consents(self, channel: Channel, address: str, scope: str | None = None) -> list[Consent]:
        return [consent_of(r) for r in self.db.run(*queries.consents(channel, address, scope))]

    async def add_optout_request(self, request: OptOutRequest) -> int:
        sql, args = insert_request(request)
        return int(await self.db.write(lambda conn: conn.execute(sql, args).lastrowid))

    async def _read(self, query: tuple[str, list]) -> list[tuple]:
        return list(self.db.run(*query).fetchall())

    async def _write(
        self, statements: Sequence[tuple[str, list]], audit: AuditEntry | None = None
    ) -> list[int]:
        def work(conn: sqlite3.Connection) -> list[int]:
            counts = [conn.execute(sql, args).rowcount for sql, args in statements]
            if audit is not None and any(counts):
                conn.execute(INSERT_AUDIT, audit_row(audit))
            return counts

        return await self.db.write(work)
