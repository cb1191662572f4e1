"""The SQLite decision log: writing decisions (with the outbox texts and send counts of the same commit),
reading them back by filter and page, daily counts, erasure and retention."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from ..addresses import address_hash
from ..model import GLOBAL_SCOPE, Channel, Decision, Reason
from . import queries
from .base import (
    ERASE_OPTOUT_REQUESTS,
    FREE_TEXT,
    TEXT_LIKE,
    AuditEntry,
    DecisionQuery,
    Erasure,
    OutboxMessage,
    SendClaim,
    SummaryRow,
    decision_from_row,
    decision_row,
    erased_detail,
    erased_values,
    like_pattern,
    to_text,
    without,
)
from .interface import DecisionPages
from .rows import INSERT_AUDIT, OUTBOX_COLS, SUPPRESSION_COLS, audit_row, outbox_row, send_row
from .sqlite_schema import INSERT_SEND
from .sqlite_writer import SqliteFile

_PURGE_BATCH = 5000
_INDEXED_HITS = 20_000  # more matches than this: reading the log newest first finds a page sooner


_QUICK = 64  # decisions a write may carry to be committed on the event loop (a group of messages')


class SqliteDecisionLog(DecisionPages):
    """The decision log's part of `SqliteStore`, on the file it shares with the other parts."""

    def __init__(self, db: SqliteFile) -> None:
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
        """One transaction for the lot."""
        if not decisions and not outbox and not sends:
            return
        rows = [decision_row(d, address_hash(d.recipient)) for d in decisions]
        columns = list(rows[0]) if rows else []
        sql = f"INSERT INTO decisions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        if replace:  # an upsert: its UPDATE triggers move the counts and the index from the old row
            sql += " ON CONFLICT (id) DO UPDATE SET " + ", ".join(
                f"{c} = excluded.{c}" for c in columns if c != "id"
            )
        values = [tuple(r[c] for c in columns) for r in rows]
        texts = [outbox_row(m) for m in outbox]
        counted = [send_row(c) for c in sends]

        def work(conn: sqlite3.Connection) -> None:
            if values:  # an address erased meanwhile (a journal moved in late, a refusal of an erased
                # address): its decision written as erasure left the others
                hashes = list({r["recipient_hash"] for r in rows})
                erased = {
                    h
                    for n in range(0, len(hashes), 500)
                    for (h,) in conn.execute(*queries.erased(hashes[n : n + 500]))
                }
                written = [
                    erased_values(columns, v) if v[columns.index("recipient_hash")] in erased else v
                    for v in values
                ]
                conn.executemany(sql, written)
            if texts:
                conn.executemany(f"INSERT INTO outbox ({OUTBOX_COLS}) VALUES (?,?,?,?,?,?,?,?)", texts)
            if counted:
                conn.executemany(INSERT_SEND, counted)

        # texts for the outbox commit with their sync (synchronous=FULL): a failed sync then leaves none
        # of them behind for the outbox to send while the client hears of a failure
        await self.db.write(work, durable=durable or bool(outbox), quick=not texts and len(values) <= _QUICK)

    async def decisions(
        self, limit: int = 100, query: DecisionQuery | None = None, before_id: str | None = None
    ) -> list[Decision]:
        where, args = (query or DecisionQuery()).where(self._text_match)
        if before_id is not None:
            where += " AND id < ?"
            args.append(before_id)
        cur = self.db.run(f"SELECT * FROM decisions WHERE {where} ORDER BY id DESC LIMIT ?", (*args, limit))
        names = [c[0] for c in cur.description]
        return [decision_from_row(dict(zip(names, row))) for row in cur]

    def _text_match(self, text: str) -> tuple[str, list] | None:
        """Part of a recipient or subject through the trigram index, when that is the fast way: for three
        characters or more that match fewer than `_INDEXED_HITS` decisions. A commoner text is found
        sooner by walking the log newest first and comparing (a few thousand rows for a page). The index
        is filled in the background (`index_batch`): the rows above its mark are compared directly."""
        if len(text) < 3:
            return None
        phrase = '"' + text.replace('"', '""') + '"'
        hits = self.db.run(
            "SELECT count(*) FROM (SELECT 1 FROM decisions_text WHERE decisions_text MATCH ? LIMIT ?)",
            (phrase, _INDEXED_HITS),
        ).fetchone()[0]
        if hits >= _INDEXED_HITS:
            return None
        pattern = like_pattern(text)  # and the last moments' decisions, not in the index yet, read directly
        # one set of rowids, so that the log is read by rowid (an OR here made SQLite walk the whole log)
        return (
            (
                "rowid IN (SELECT rowid FROM decisions_text WHERE decisions_text MATCH ? UNION ALL "
                f"SELECT rowid FROM decisions WHERE rowid > (SELECT upto FROM decisions_text_upto) AND {TEXT_LIKE})"
            ),
            [phrase, pattern, pattern],
        )

    async def decision(self, decision_id: str) -> Decision | None:
        cur = self.db.run("SELECT * FROM decisions WHERE id = ?", (decision_id,))
        row = cur.fetchone()
        return decision_from_row(dict(zip([c[0] for c in cur.description], row))) if row else None

    async def relayed(
        self, sender: str, message_id: str, digest: str, recipients: Sequence[str], since: datetime
    ) -> dict[str, str]:
        sql, args = queries.relayed(sender, message_id, digest, list(recipients), since)
        return queries.by_recipient(self.db.run(sql, args))

    async def sent_as(
        self, senders: Sequence[str], message_id: str, since: datetime
    ) -> list[tuple[str, str, str, str, str]]:
        return [tuple(r) for r in self.db.run(*queries.sent_as(list(senders), message_id, since))]

    async def settle_intents(self, before: datetime, upstream: str) -> int:
        sql, args = queries.settle_intents(before, upstream)
        return await self.db.write(lambda conn: conn.execute(sql, args).rowcount)

    async def summary(self, since: datetime | None = None, sender: str | None = None) -> list[SummaryRow]:
        return [SummaryRow(*row) for row in self.db.run(*queries.summary(since, sender))]

    async def forget(
        self, channel: Channel, address: str, at: datetime, audit: AuditEntry | None = None
    ) -> Erasure:
        ahash = address_hash(address)
        masked = f"sha256:{ahash}"

        def scrub(text: str | None) -> str | None:  # any case: an upstream echoes the RCPT as it was written
            return without(text, address) if text else text

        def work(conn: sqlite3.Connection) -> Erasure:
            conn.execute("PRAGMA secure_delete=ON")  # space freed by the updates is zeroed, not left readable
            try:
                return erase(conn)
            finally:
                conn.execute("PRAGMA secure_delete=OFF")

        def erase(conn: sqlite3.Connection) -> Erasure:
            rows = conn.execute(
                "SELECT id, violations, upstream, detail FROM decisions WHERE recipient_hash = ?", (ahash,)
            ).fetchall()
            for did, violations, upstream, text in rows:
                found = json.loads(violations or "[]")
                for v in found:
                    v.pop("recipient", None)
                    v["message"] = scrub(v.get("message"))
                conn.execute(
                    "UPDATE decisions SET recipient = ?, excerpt = '', detail = ?, violations = ?, upstream = ? "
                    "WHERE id = ?",
                    (masked, erased_detail(text), json.dumps(found), scrub(upstream), did),
                )
            suppressed = conn.execute(
                "UPDATE suppressions SET address = NULL, source = '' WHERE channel = ? AND address_hash = ?",
                (channel.value, ahash),
            ).rowcount
            conn.execute(
                f"INSERT OR IGNORE INTO suppressions ({SUPPRESSION_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                (
                    channel.value,
                    ahash,
                    None,
                    GLOBAL_SCOPE,
                    Reason.ERASED.value,
                    "erasure request",
                    to_text(at),
                    None,
                ),
            )
            consents = conn.execute(
                "UPDATE consents SET address = NULL, evidence = '', source = '' WHERE channel = ? AND address_hash = ?",
                (channel.value, ahash),
            ).rowcount
            conn.execute(ERASE_OPTOUT_REQUESTS, (to_text(at), channel.value, ahash))
            outbox = conn.execute(
                "UPDATE outbox SET recipient = ?, body = '', fields = '{}' WHERE recipient = ?",
                (masked, address),
            ).rowcount
            conn.execute(
                "UPDATE audit SET address = NULL, detail = '' WHERE channel = ? AND address_hash = ?",
                (channel.value, ahash),
            )
            for table, column in FREE_TEXT:  # the address quoted in anyone else's rows
                found = conn.execute(
                    f"SELECT rowid, {column} FROM {table} WHERE {column} LIKE ? ESCAPE '\\'",
                    (like_pattern(address),),
                ).fetchall()
                for rowid, text in found:
                    conn.execute(
                        f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (without(text, address), rowid)
                    )
            quoted = conn.execute(  # other people's subjects that quote it, found as the console finds text
                "SELECT rowid, excerpt FROM decisions WHERE rowid IN (SELECT rowid FROM decisions_text WHERE "
                "decisions_text MATCH ? UNION ALL SELECT rowid FROM decisions WHERE rowid > (SELECT upto FROM "
                "decisions_text_upto) AND lower(excerpt) LIKE ? ESCAPE '\\') LIMIT 10000",
                ('"' + address.replace('"', '""') + '"', like_pattern(address)),
            ).fetchall()
            for rowid, text in quoted:
                if text and address in text.lower():
                    conn.execute(
                        "UPDATE decisions SET excerpt = ? WHERE rowid = ?", (without(text, address), rowid)
                    )
            held = conn.execute(
                "UPDATE deferred SET recipient = ?, body = '', fields = '{}', state = CASE WHEN state IN "
                "('pending', 'sending') THEN 'erased' ELSE state END WHERE recipient_hash = ?",
                (masked, ahash),
            ).rowcount
            if audit is not None:
                conn.execute(INSERT_AUDIT, audit_row(audit))
            return Erasure(len(rows), suppressed, consents, outbox, held)

        result = await self.db.write(work)
        await self.db.truncate_wal()
        return result

    async def purge_before(self, before: datetime) -> int:
        cutoff = to_text(before)

        def batch(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM decisions WHERE rowid IN (SELECT rowid FROM decisions WHERE at < ? LIMIT ?)",
                (cutoff, _PURGE_BATCH),
            ).rowcount

        def rest(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM daily_counts WHERE n <= 0")
            conn.execute("DELETE FROM outbox WHERE at < ?", (cutoff,))
            conn.execute(
                "DELETE FROM deferred WHERE created_at < ? AND state NOT IN ('pending', 'sending')", (cutoff,)
            )
            conn.execute("DELETE FROM audit WHERE at < ?", (cutoff,))
            conn.execute("DELETE FROM text_status WHERE at < ?", (cutoff,))

        gone = 0  # in batches: the first purge of a big log must not hold the write lock for long
        while (done := await self.db.write(batch)) > 0:
            gone += done
        await self.db.write(rest)
        return gone  # sends stay: hashes only, and caps may look back further than retention
