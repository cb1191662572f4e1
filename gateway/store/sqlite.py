"""The embedded engine: one SQLite file in WAL mode, through sqlite-utils.

Created and migrated on open (PRAGMA user_version is the schema version). Addresses are looked up by
their SHA-256, so a hashed (erased) suppression blocks exactly like a plain one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import islice
from pathlib import Path

import sqlite_utils

from ..addresses import address_hash
from ..model import (
    GLOBAL_SCOPE, Category, Channel, Consent, ConsentLevel, Decision, Reason, RecipientFacts, Suppression,
)
from .base import (
    ClaimResult, DecisionQuery, DeferredText, Erasure, ImportResult, SummaryRow, OutboxMessage, SendClaim, StoreError, decision_from_row, decision_row,
    from_text, to_text,
)

log = logging.getLogger("gateway.store")

_BATCH = 500  # addresses per IN (...) query
_IMPORT_BATCH = 20_000
_MAX_ERRORS_KEPT = 20


def _v1(db: sqlite_utils.Database) -> None:
    db["suppressions"].create({
        "id": int, "channel": str, "address_hash": str, "address": str, "scope": str, "reason": str,
        "source": str, "created_at": str, "expires_at": str,
    }, pk="id", not_null={"channel", "address_hash", "scope", "reason", "created_at"})
    db["suppressions"].create_index(["channel", "address_hash", "scope", "reason"], unique=True)
    db["suppressions"].create_index(["scope", "channel"])
    db["consents"].create({
        "id": int, "channel": str, "address_hash": str, "address": str, "scope": str, "level": str,
        "source": str, "evidence": str, "obtained_at": str, "expires_at": str, "revoked_at": str,
    }, pk="id", not_null={"channel", "address_hash", "scope", "level", "obtained_at"})
    db["consents"].create_index(["channel", "address_hash", "scope"])
    db["decisions"].create({
        "id": str, "at": str, "channel": str, "sender": str, "recipient": str, "recipient_hash": str,
        "category": str, "verdict": str, "codes": str, "violations": str, "excerpt": str, "size": int,
        "upstream": str,
    }, pk="id", not_null={"at", "channel", "sender", "recipient", "verdict"})
    db["decisions"].create_index(["at"])
    db["decisions"].create_index(["verdict", "at"])
    db["decisions"].create_index(["sender", "at"])
    db["decisions"].create_index(["recipient_hash"])
    db["sends"].create({
        "id": int, "channel": str, "address_hash": str, "scope": str, "category": str, "sent_at": str,
    }, pk="id", not_null={"channel", "address_hash", "scope", "category", "sent_at"})
    db["sends"].create_index(["channel", "address_hash", "scope", "sent_at"])


def _v2(db: sqlite_utils.Database) -> None:
    """The SMS door: texts the outbox provider took, and texts held for later."""
    db["outbox"].create({
        "id": str, "at": str, "sender": str, "recipient": str, "from_number": str, "body": str,
        "category": str, "fields": str,
    }, pk="id", not_null={"at", "sender", "recipient", "body", "category"})
    db["outbox"].create_index(["at"])
    db["deferred"].create({
        "id": str, "created_at": str, "send_at": str, "sender": str, "recipient": str, "recipient_hash": str,
        "from_number": str, "body": str, "category": str, "fields": str, "api": str, "state": str,
        "attempts": int, "claimed_at": str, "last_error": str,
    }, pk="id", not_null={"created_at", "send_at", "sender", "recipient", "body", "category", "state"})
    db["deferred"].create_index(["state", "send_at"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2]
SCHEMA_VERSION = len(MIGRATIONS)


def sqlite_path(url: str) -> str:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db` or `sqlite:///:memory:`."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite URL: {url!r} (expected sqlite:///path/to/file.db)")
    path = url[len("sqlite:///"):]
    if not path:
        raise ValueError("sqlite URL has no file path")
    return path


_CHANNEL = {c.value: c for c in Channel}  # dict lookups: Enum(value) costs microseconds on the hot path
_REASON = {r.value: r for r in Reason}


def _suppression(row: sqlite3.Row | tuple) -> Suppression:
    channel, ahash, address, scope, reason, source, created, expires = row
    return Suppression(_CHANNEL[channel], ahash, address, scope, _REASON[reason], source or "",
                       from_text(created), from_text(expires))


def _consent(row: sqlite3.Row | tuple) -> Consent:
    cid, channel, ahash, address, scope, level, source, evidence, obtained, expires, revoked = row
    return Consent(_CHANNEL[channel], ahash, address, scope, ConsentLevel.parse(level), source or "", evidence or "",
                   from_text(obtained), from_text(expires), from_text(revoked), cid)


_SUPPRESSION_COLS = "channel, address_hash, address, scope, reason, source, created_at, expires_at"
_CONSENT_COLS = ("id, channel, address_hash, address, scope, level, source, evidence, obtained_at, expires_at, "
                 "revoked_at")


@lru_cache(maxsize=64)
def _facts_sql(count: int, with_sends: bool) -> str:
    """The one statement that reads every fact about `count` recipients (?1 channel, ?2 sender, ?3 since)."""
    marks = ",".join(f"?{i}" for i in range(4, 4 + count))
    sql = (f"SELECT 's', NULL, {_SUPPRESSION_COLS}, NULL, NULL FROM suppressions WHERE channel = ?1 "
           f"AND scope IN (?2, 'global') AND address_hash IN ({marks}) "
           f"UNION ALL SELECT 'c', {_CONSENT_COLS} FROM consents WHERE channel = ?1 "
           f"AND scope IN (?2, 'global') AND address_hash IN ({marks})")
    if with_sends:
        sql += (f" UNION ALL SELECT 'n', NULL, NULL, address_hash, NULL, NULL, NULL, NULL, sent_at, "
                f"NULL, NULL, NULL FROM sends WHERE channel = ?1 AND scope = ?2 AND category = "
                f"'marketing' AND sent_at > ?3 AND address_hash IN ({marks})")
    return sql


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoints: asyncio.Task | None = None
        self._write_lock: asyncio.Lock | None = None
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
            self.db = sqlite_utils.Database(self._conn)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages: indexes of millions of entries
            self._conn.execute("PRAGMA mmap_size=268435456")  # reads straight from the OS page cache
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open SQLite database {path}: {exc}") from exc

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        return cls(sqlite_path(url))

    def _migrate(self) -> None:
        """Bring the schema up to date; safe when several processes open a new database at once (the
        version is read again under the write lock)."""
        while True:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"database schema version {version} is newer than this gateway ({SCHEMA_VERSION})")
            if version == SCHEMA_VERSION:
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if self._conn.execute("PRAGMA user_version").fetchone()[0] == version:
                    MIGRATIONS[version](self.db)
                    self._conn.execute(f"PRAGMA user_version={version + 1}")
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _run(self, sql: str, params: Sequence = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    async def schema_version(self) -> int:
        return self._run("PRAGMA user_version").fetchone()[0]

    async def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.cancel()
        for conn in (self._writer, self._checkpointer):
            if conn is not None:
                conn.close()
        self._conn.close()

    # -- facts: one read transaction per message ---------------------------------------------------

    async def facts(self, channel: Channel, sender: str, addresses: Sequence[str], at: datetime,
                    history_hours: int = 0) -> dict[str, RecipientFacts]:
        """One UNION ALL statement per 500 recipients: one snapshot, one round trip."""
        by_hash = {address_hash(a): a for a in addresses}
        sup: dict[str, list[Suppression]] = {}
        con: dict[str, list[Consent]] = {}
        sends: dict[str, list[datetime]] = {}
        since = to_text(at - timedelta(hours=history_hours)) if history_hours else None
        hashes = list(by_hash)
        try:
            for start in range(0, len(hashes), _BATCH):
                chunk = hashes[start : start + _BATCH]
                sql = _facts_sql(len(chunk), since is not None)
                for row in self._conn.execute(sql, (channel.value, sender, since or "", *chunk)):
                    kind = row[0]
                    if kind == "s":
                        sup.setdefault(row[3], []).append(_suppression(row[2:10]))
                    elif kind == "c":
                        con.setdefault(row[3], []).append(_consent(row[1:]))
                    else:
                        sends.setdefault(row[3], []).append(from_text(row[8]))
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        for times in sends.values():
            times.sort(reverse=True)
        return {
            address: RecipientFacts(address, tuple(sup.get(h, ())), tuple(con.get(h, ())), tuple(sends.get(h, ())))
            for h, address in by_hash.items()
        }

    # -- suppressions --------------------------------------------------------------------------------

    @staticmethod
    def _suppression_row(s: Suppression) -> tuple:
        return (s.channel.value, s.address_hash, s.address, s.scope, s.reason.value, s.source,
                to_text(s.created_at), to_text(s.expires_at))

    async def add_suppression(self, entry: Suppression) -> bool:
        cur = self._run(f"INSERT OR IGNORE INTO suppressions ({_SUPPRESSION_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                        self._suppression_row(entry))
        return cur.rowcount == 1

    async def remove_suppressions(self, channel: Channel, address: str, scope: str | None,
                                  reason: str | None = None) -> int:
        sql = "DELETE FROM suppressions WHERE channel = ? AND address_hash = ?"
        args: list = [channel.value, address_hash(address)]
        if scope is not None:
            sql += " AND scope = ?"
            args.append(scope)
        if reason is not None:
            sql += " AND reason = ?"
            args.append(reason)
        return self._run(sql, args).rowcount

    async def suppressions(self, channel: Channel | None = None, scope: str | None = None,
                           address: str | None = None) -> AsyncIterator[Suppression]:
        where, args = [], []
        if channel is not None:
            where.append("channel = ?")
            args.append(channel.value)
        if scope is not None:
            where.append("scope = ?")
            args.append(scope)
        if address is not None:
            where.append("address_hash = ?")
            args.append(address_hash(address))
        sql = f"SELECT {_SUPPRESSION_COLS} FROM suppressions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        cursor = self._run(sql + " ORDER BY id", args)
        while rows := cursor.fetchmany(1000):
            for row in rows:
                yield _suppression(row)

    async def import_suppressions(self, rows: Iterable[Suppression | str]) -> ImportResult:
        added = skipped = rejected = 0
        errors: list[str] = []

        def valid_rows() -> Iterator[tuple]:
            nonlocal rejected
            for item in rows:
                if isinstance(item, str):
                    rejected += 1
                    if len(errors) < _MAX_ERRORS_KEPT:
                        errors.append(item)
                    continue
                yield self._suppression_row(item)

        stream = valid_rows()
        sql = f"INSERT OR IGNORE INTO suppressions ({_SUPPRESSION_COLS}) VALUES (?,?,?,?,?,?,?,?)"
        try:
            while batch := list(islice(stream, _IMPORT_BATCH)):
                with self._conn:
                    self._conn.execute("BEGIN")
                    before = self._conn.total_changes
                    self._conn.executemany(sql, batch)
                    inserted = self._conn.total_changes - before
                added += inserted
                skipped += len(batch) - inserted
        except sqlite3.Error as exc:
            raise StoreError(f"import stopped after {added} rows: {exc}") from exc
        return ImportResult(added, skipped, rejected, tuple(errors))

    # -- consents ------------------------------------------------------------------------------------

    async def add_consent(self, consent: Consent) -> int:
        cur = self._run(
            "INSERT INTO consents (channel, address_hash, address, scope, level, source, evidence, obtained_at, "
            "expires_at, revoked_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (consent.channel.value, consent.address_hash, consent.address, consent.scope, consent.level.label,
             consent.source, consent.evidence, to_text(consent.obtained_at), to_text(consent.expires_at),
             to_text(consent.revoked_at)))
        return cur.lastrowid

    async def revoke_consents(self, channel: Channel, address: str, scope: str | None, at: datetime) -> int:
        sql = "UPDATE consents SET revoked_at = ? WHERE channel = ? AND address_hash = ? AND revoked_at IS NULL"
        args: list = [to_text(at), channel.value, address_hash(address)]
        if scope is not None:
            sql += " AND scope = ?"
            args.append(scope)
        return self._run(sql, args).rowcount

    async def consents(self, channel: Channel, address: str, scope: str | None = None) -> list[Consent]:
        sql = f"SELECT {_CONSENT_COLS} FROM consents WHERE channel = ? AND address_hash = ?"
        args: list = [channel.value, address_hash(address)]
        if scope is not None:
            sql += " AND scope IN (?, ?)"
            args += [scope, GLOBAL_SCOPE]
        return [_consent(r) for r in self._run(sql + " ORDER BY obtained_at, id", args)]

    # -- decisions and sends -------------------------------------------------------------------------

    async def _writing(self, work: Callable[[sqlite3.Connection], object], durable: bool = True):
        """`work(connection)` in one write transaction. Not `durable`: committed without waiting for the
        disk (the next durable commit flushes it along; a process crash loses nothing).

        Durable writes run in a worker thread: an fsync can take anything from half a millisecond to a
        few hundred on a busy disk, and the event loop must not stop for it. Writes that wait for no
        disk are tried right here first (about 0.1 ms, less than the two thread wake-ups a hand-off
        costs), unless another process holds the write lock: then the thread waits for it."""
        if self.path == ":memory:":
            return _transaction(self._conn, work, durable)
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        if self._checkpoints is None:  # a serving process: checkpoints move out of the commits
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoints = asyncio.get_running_loop().create_task(self._checkpoint_now_and_then())
        if not durable and not self._write_lock.locked():
            # the reading connection: a write from another connection would empty its page cache
            self._conn.execute("PRAGMA busy_timeout=0")
            try:
                return _transaction(self._conn, work, durable)
            except _Busy:
                pass
            finally:
                self._conn.execute("PRAGMA busy_timeout=10000")
        async with self._write_lock:
            if self._writer is None:
                self._writer = await asyncio.to_thread(self._open_writer)
            try:
                return await asyncio.to_thread(_transaction, self._writer, work, durable, _LOCK_WAIT)
            except _Busy:
                raise StoreError(f"database is locked (no write for {_LOCK_WAIT:g} s)") from None

    async def _checkpoint_now_and_then(self, every: float = 1.0) -> None:
        """Copy the WAL back into the database file in a worker thread (PASSIVE: never blocks a reader or a
        writer), rather than inside some message's commit, where it would stall that message. The hot
        connections' own automatic checkpoints are off."""
        def checkpoint() -> None:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                                     timeout=0)
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(checkpoint)
            except sqlite3.Error as exc:  # busy or unavailable: the next round tries again
                log.debug("checkpoint skipped: %s", exc)

    def _open_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    async def record_decisions(self, decisions: Sequence[Decision], replace: bool = False, *,
                               outbox: Sequence[OutboxMessage] = (), sends: Sequence[SendClaim] = (),
                               durable: bool = True) -> None:
        """One transaction for the lot."""
        if not decisions and not outbox and not sends:
            return
        rows = [decision_row(d, address_hash(d.recipient)) for d in decisions]
        columns = list(rows[0]) if rows else []
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        sql = f"{verb} INTO decisions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        values = [tuple(r[c] for c in columns) for r in rows]
        texts = [(m.id, to_text(m.at), m.sender, m.recipient, m.from_number, m.body, m.category.value,
                  json.dumps(m.fields)) for m in outbox]
        counted = [(c.channel.value, address_hash(c.address), c.sender, c.category.value, to_text(c.at)) for c in sends]

        def work(conn: sqlite3.Connection) -> None:
            if values:
                conn.executemany(sql, values)
            if texts:
                conn.executemany("INSERT INTO outbox (id, at, sender, recipient, from_number, body, category, fields) "
                                 "VALUES (?,?,?,?,?,?,?,?)", texts)
            if counted:
                conn.executemany(_INSERT_SEND, counted)
        await self._writing(work, durable=durable or bool(outbox))

    async def decisions(self, limit: int = 100, query: DecisionQuery | None = None,
                        before_id: str | None = None) -> list[Decision]:
        where, args = (query or DecisionQuery()).where()
        if before_id is not None:
            where += " AND id < ?"
            args.append(before_id)
        cur = self._run(f"SELECT * FROM decisions WHERE {where} ORDER BY id DESC LIMIT ?", (*args, limit))
        names = [c[0] for c in cur.description]
        return [decision_from_row(dict(zip(names, row))) for row in cur]

    async def decision(self, decision_id: str) -> Decision | None:
        cur = self._run("SELECT * FROM decisions WHERE id = ?", (decision_id,))
        row = cur.fetchone()
        return decision_from_row(dict(zip([c[0] for c in cur.description], row))) if row else None

    async def iter_decisions(self, query: DecisionQuery | None = None, batch: int = 1000) -> AsyncIterator[Decision]:
        before = None
        while True:
            page = await self.decisions(batch, query, before)
            for decision in page:
                yield decision
            if len(page) < batch:
                return
            before = page[-1].id
            await asyncio.sleep(0)  # a long export shares the loop

    async def summary(self, since: datetime | None = None, sender: str | None = None) -> list[SummaryRow]:
        where, args = DecisionQuery(since=since, sender=sender).where()
        rows = self._run(
            "SELECT substr(d.at, 1, 10) AS day, d.sender, d.channel, d.verdict, "
            "COALESCE(json_extract(j.value, '$.code'), '') AS code, count(DISTINCT d.id) "
            f"FROM (SELECT * FROM decisions WHERE {where}) d LEFT JOIN json_each(d.violations) j "
            "GROUP BY day, d.sender, d.channel, d.verdict, code ORDER BY day, d.sender, code", args)
        return [SummaryRow(*row) for row in rows]

    async def record_send(self, channel: Channel, address: str, sender: str, category: Category,
                          at: datetime) -> None:
        self._run(_INSERT_SEND, (channel.value, address_hash(address), sender, category.value, to_text(at)))

    async def claim_sends(self, claims: Sequence[SendClaim]) -> list[ClaimResult]:
        def work(conn: sqlite3.Connection) -> list[ClaimResult]:
            results = []
            for c in claims:
                ahash = address_hash(c.address)
                if c.caps:
                    since = c.at - timedelta(hours=max(hours for _, hours in c.caps))
                    times = sorted((from_text(r[0]) for r in conn.execute(
                        "SELECT sent_at FROM sends WHERE channel = ? AND address_hash = ? AND scope = ? "
                        "AND category = 'marketing' AND sent_at > ?",
                        (c.channel.value, ahash, c.sender, to_text(since)))), reverse=True)
                    full = any(sum(1 for t in times if t > c.at - timedelta(hours=hours)) >= limit
                               for limit, hours in c.caps)
                    if full and c.enforce:
                        results.append(ClaimResult(None, tuple(times)))
                        continue
                cur = conn.execute(_INSERT_SEND, (c.channel.value, ahash, c.sender, c.category.value, to_text(c.at)))
                results.append(ClaimResult(cur.lastrowid))
            return results
        return await self._writing(work, durable=False)

    async def release_send(self, send_id: int) -> None:
        await self._writing(lambda conn: conn.execute("DELETE FROM sends WHERE id = ?", (send_id,)), durable=False)

    async def outbox(self, limit: int = 100) -> list[OutboxMessage]:
        return [OutboxMessage(r[0], from_text(r[1]), r[2], r[3], r[4], r[5], Category(r[6]), json.loads(r[7] or "{}"))
                for r in self._run("SELECT id, at, sender, recipient, from_number, body, category, fields "
                                   "FROM outbox ORDER BY at DESC, id DESC LIMIT ?", (limit,))]

    async def add_deferred(self, text: DeferredText) -> None:
        row = (text.id, to_text(text.created_at), to_text(text.send_at), text.sender, text.recipient,
               address_hash(text.recipient), text.from_number, text.body, text.category.value, json.dumps(text.fields),
               text.api, text.state, text.attempts, text.last_error, to_text(text.claimed_at))
        await self._writing(lambda conn: conn.execute(
            f"INSERT INTO deferred ({_DEFERRED_COLS}) VALUES ({','.join('?' * 15)})", row))

    async def claim_deferred(self, at: datetime, limit: int) -> list[DeferredText]:
        def work(conn: sqlite3.Connection) -> list[DeferredText]:
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM deferred WHERE state = 'pending' AND send_at <= ? ORDER BY send_at LIMIT ?",
                (to_text(at), limit))]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            conn.execute(f"UPDATE deferred SET state = 'sending', attempts = attempts + 1, claimed_at = ? "
                         f"WHERE id IN ({marks})", (to_text(at), *ids))
            return [_deferred(r) for r in conn.execute(
                f"SELECT {_DEFERRED_COLS} FROM deferred WHERE id IN ({marks}) ORDER BY send_at", ids)]
        return await self._writing(work)

    async def finish_deferred(self, text_id: str, state: str, error: str = "",
                              send_at: datetime | None = None) -> None:
        sql = "UPDATE deferred SET state = ?, last_error = ?"
        args: list = [state, error]
        if send_at is not None:
            sql += ", send_at = ?"
            args.append(to_text(send_at))
        await self._writing(lambda conn: conn.execute(sql + " WHERE id = ?", (*args, text_id)))

    async def deferred(self, state: str | None = None, limit: int = 100) -> list[DeferredText]:
        sql, args = f"SELECT {_DEFERRED_COLS} FROM deferred", []
        if state is not None:
            sql += " WHERE state = ?"
            args.append(state)
        return [_deferred(r) for r in self._run(sql + " ORDER BY send_at LIMIT ?", (*args, limit))]

    async def next_deferred_at(self) -> datetime | None:
        row = self._run("SELECT MIN(send_at) FROM deferred WHERE state = 'pending'").fetchone()
        return from_text(row[0]) if row else None

    # -- erasure and retention -----------------------------------------------------------------------

    async def forget(self, channel: Channel, address: str, at: datetime) -> Erasure:
        ahash = address_hash(address)
        masked = f"sha256:{ahash}"

        def scrub(text: str | None) -> str | None:
            return text.replace(address, "[erased]") if text and address in text else text

        def work(conn: sqlite3.Connection) -> Erasure:
            conn.execute("PRAGMA secure_delete=ON")  # space freed by the updates is zeroed, not left readable
            try:
                return erase(conn)
            finally:
                conn.execute("PRAGMA secure_delete=OFF")

        def erase(conn: sqlite3.Connection) -> Erasure:
            rows = conn.execute("SELECT id, violations, upstream FROM decisions WHERE recipient_hash = ?",
                                (ahash,)).fetchall()
            for did, violations, upstream in rows:
                found = json.loads(violations or "[]")
                for v in found:
                    v.pop("recipient", None)
                    v["message"] = scrub(v.get("message"))
                conn.execute("UPDATE decisions SET recipient = ?, excerpt = '', violations = ?, upstream = ? "
                             "WHERE id = ?", (masked, json.dumps(found), scrub(upstream), did))
            suppressed = conn.execute("UPDATE suppressions SET address = NULL WHERE channel = ? AND address_hash = ?",
                                      (channel.value, ahash)).rowcount
            conn.execute(f"INSERT OR IGNORE INTO suppressions ({_SUPPRESSION_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                         (channel.value, ahash, None, GLOBAL_SCOPE, Reason.ERASED.value, "erasure request",
                          to_text(at), None))
            consents = conn.execute("UPDATE consents SET address = NULL, evidence = '' WHERE channel = ? "
                                    "AND address_hash = ?", (channel.value, ahash)).rowcount
            outbox = conn.execute("UPDATE outbox SET recipient = ?, body = '', fields = '{}' WHERE recipient = ?",
                                  (masked, address)).rowcount
            held = conn.execute(
                "UPDATE deferred SET recipient = ?, body = '', fields = '{}', state = CASE WHEN state IN "
                "('pending', 'sending') THEN 'erased' ELSE state END WHERE recipient_hash = ?", (masked, ahash)).rowcount
            return Erasure(len(rows), suppressed, consents, outbox, held)

        result = await self._writing(work)
        await self._truncate_wal()
        return result

    async def _truncate_wal(self) -> None:
        """Copy the WAL into the database and empty it: the WAL still holds the pages as they were."""
        def truncate() -> None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            try:
                for _ in range(50):
                    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                    if not busy:
                        return
                    time.sleep(0.1)
                raise StoreError("erased, but the WAL could not be emptied while other connections read it; "
                                 "it empties at the next checkpoint")
            finally:
                conn.close()
        if self.path != ":memory:":
            await asyncio.to_thread(truncate)

    async def purge_before(self, before: datetime) -> int:
        cutoff = to_text(before)

        def work(conn: sqlite3.Connection) -> int:
            gone = conn.execute("DELETE FROM decisions WHERE at < ?", (cutoff,)).rowcount
            conn.execute("DELETE FROM outbox WHERE at < ?", (cutoff,))
            conn.execute("DELETE FROM deferred WHERE created_at < ? AND state NOT IN ('pending', 'sending')",
                         (cutoff,))
            return gone  # sends stay: hashes only, and caps may look back further than retention
        return await self._writing(work)


_LOCK_WAIT = 10.0  # seconds a write waits for another process's


class _Busy(Exception):
    """Another connection holds the write lock; nothing was done."""


def _begin(conn: sqlite3.Connection, wait: float) -> None:
    """BEGIN IMMEDIATE, waiting up to `wait` seconds for another process's write to end. The connection's
    own busy timeout is 0: SQLite's busy handler sleeps in steps of up to 100 ms, a poll every 0.2 ms
    takes the lock within a fraction of a millisecond of its release."""
    deadline = time.monotonic() + wait
    pause = 0.0001
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise _Busy() from None
        time.sleep(pause)
        pause = min(pause * 2, 0.001)


def _transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], object], durable: bool,
                 wait: float = 0.0):
    if not durable:
        conn.execute("PRAGMA synchronous=NORMAL")
    try:
        _begin(conn, wait)
        result = work(conn)
        conn.execute("COMMIT")
        return result
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StoreError(str(exc)) from exc
    finally:
        if not durable:
            conn.execute("PRAGMA synchronous=FULL")


_INSERT_SEND = "INSERT INTO sends (channel, address_hash, scope, category, sent_at) VALUES (?,?,?,?,?)"
_DEFERRED_COLS = ("id, created_at, send_at, sender, recipient, recipient_hash, from_number, body, category, fields, "
                  "api, state, attempts, last_error, claimed_at")


def _deferred(r: tuple) -> DeferredText:
    return DeferredText(id=r[0], created_at=from_text(r[1]), send_at=from_text(r[2]), sender=r[3], recipient=r[4],
                        from_number=r[6], body=r[7], category=Category(r[8]), fields=json.loads(r[9] or "{}"),
                        api=r[10] or "v1", state=r[11], attempts=r[12] or 0, last_error=r[13] or "",
                        claimed_at=from_text(r[14]))
