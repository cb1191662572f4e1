"""The SQLite engine's schema, its migrations, and the conversions between rows and the model.

PRAGMA user_version is the schema version; `MIGRATIONS[n]` takes a database from version n to n + 1.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from .rows import (
    CONSENT_BASIS_COLUMN,
    DNC_TABLES,
    OPTOUT_REQUESTS_TABLE,
    RND_TABLES,
    SEND_COLS,
    TEXT_STATUS_TABLE,
)


def _v1(db: sqlite_utils.Database) -> None:
    db.table("suppressions").create(
        {
            "id": int,
            "channel": str,
            "address_hash": str,
            "address": str,
            "scope": str,
            "reason": str,
            "source": str,
            "created_at": str,
            "expires_at": str,
        },
        pk="id",
        not_null={"channel", "address_hash", "scope", "reason", "created_at"},
    )
    db.table("suppressions").create_index(["channel", "address_hash", "scope", "reason"], unique=True)
    db.table("suppressions").create_index(["scope", "channel"])
    db.table("consents").create(
        {
            "id": int,
            "channel": str,
            "address_hash": str,
            "address": str,
            "scope": str,
            "level": str,
            "source": str,
            "evidence": str,
            "obtained_at": str,
            "expires_at": str,
            "revoked_at": str,
        },
        pk="id",
        not_null={"channel", "address_hash", "scope", "level", "obtained_at"},
    )
    db.table("consents").create_index(["channel", "address_hash", "scope"])
    db.table("decisions").create(
        {
            "id": str,
            "at": str,
            "channel": str,
            "sender": str,
            "recipient": str,
            "recipient_hash": str,
            "category": str,
            "verdict": str,
            "codes": str,
            "violations": str,
            "excerpt": str,
            "size": int,
            "upstream": str,
        },
        pk="id",
        not_null={"at", "channel", "sender", "recipient", "verdict"},
    )
    db.table("decisions").create_index(["at"])
    db.table("decisions").create_index(["verdict", "at"])
    db.table("decisions").create_index(["sender", "at"])
    db.table("decisions").create_index(["recipient_hash"])
    db.table("sends").create(
        {
            "id": int,
            "channel": str,
            "address_hash": str,
            "scope": str,
            "category": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"channel", "address_hash", "scope", "category", "sent_at"},
    )
    db.table("sends").create_index(["channel", "address_hash", "scope", "sent_at"])


def _v2(db: sqlite_utils.Database) -> None:
    """The SMS door: texts the outbox provider took, and texts held for later."""
    db.table("outbox").create(
        {
            "id": str,
            "at": str,
            "sender": str,
            "recipient": str,
            "from_number": str,
            "body": str,
            "category": str,
            "fields": str,
        },
        pk="id",
        not_null={"at", "sender", "recipient", "body", "category"},
    )
    db.table("outbox").create_index(["at"])
    db.table("deferred").create(
        {
            "id": str,
            "created_at": str,
            "send_at": str,
            "sender": str,
            "recipient": str,
            "recipient_hash": str,
            "from_number": str,
            "body": str,
            "category": str,
            "fields": str,
            "api": str,
            "state": str,
            "attempts": int,
            "claimed_at": str,
            "last_error": str,
        },
        pk="id",
        not_null={"created_at", "send_at", "sender", "recipient", "body", "category", "state"},
    )
    db.table("deferred").create_index(["state", "send_at"])


# One row per decision and violation code ('' for none), counted as decisions are written and deleted.
_COUNTED = """SELECT substr({r}.at, 1, 10), {r}.sender, {r}.channel, {r}.verdict, code FROM (
    SELECT DISTINCT COALESCE(json_extract(value, '$.code'), '') AS code FROM json_each(COALESCE({r}.violations, '[]'))
    UNION SELECT '' WHERE json_array_length(COALESCE({r}.violations, '[]')) = 0)"""
_COUNT_UP = (
    "INSERT INTO daily_counts (day, sender, channel, verdict, code, n) SELECT *, 1 FROM ("
    + _COUNTED.format(r="NEW")
    + ") WHERE true ON CONFLICT DO UPDATE SET n = n + 1;"
)
_COUNT_DOWN = (
    "UPDATE daily_counts SET n = n - 1 WHERE (day, sender, channel, verdict, code) IN ("
    + _COUNTED.format(r="OLD")
    + ");"
)
_TEXT_IN = (
    "INSERT INTO decisions_text (rowid, recipient, excerpt) VALUES (NEW.rowid, NEW.recipient, NEW.excerpt);"
)
_TEXT_OUT = (
    "INSERT INTO decisions_text (decisions_text, rowid, recipient, excerpt) "
    "VALUES ('delete', OLD.rowid, OLD.recipient, OLD.excerpt);"
)


def _v3(db: sqlite_utils.Database) -> None:
    """The console: a trigram index for searching part of an address or subject, counts per day and code
    kept as decisions come and go (the chart and the summary read them instead of scanning the log), and
    the audit trail of changes people make to suppressions and consent."""
    db.executescript(f"""
        CREATE VIRTUAL TABLE decisions_text USING fts5(recipient, excerpt, content='decisions',
            content_rowid='rowid', tokenize='trigram');
        INSERT INTO decisions_text (decisions_text) VALUES ('rebuild');
        CREATE TABLE daily_counts (day TEXT NOT NULL, sender TEXT NOT NULL, channel TEXT NOT NULL,
            verdict TEXT NOT NULL, code TEXT NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (day, sender, channel, verdict, code)) WITHOUT ROWID;
        INSERT INTO daily_counts (day, sender, channel, verdict, code, n)
            SELECT substr(d.at, 1, 10), d.sender, d.channel, d.verdict,
                   COALESCE(json_extract(j.value, '$.code'), ''), count(DISTINCT d.id)
            FROM decisions d LEFT JOIN json_each(d.violations) j GROUP BY 1, 2, 3, 4, 5;
        CREATE TRIGGER decisions_added AFTER INSERT ON decisions BEGIN {_TEXT_IN} {_COUNT_UP} END;
        CREATE TRIGGER decisions_removed AFTER DELETE ON decisions BEGIN {_TEXT_OUT} {_COUNT_DOWN} END;
        CREATE TRIGGER decisions_text_changed AFTER UPDATE OF recipient, excerpt ON decisions
            BEGIN {_TEXT_OUT} {_TEXT_IN} END;
        CREATE TRIGGER decisions_counted_changed AFTER UPDATE OF at, sender, channel, verdict, violations ON decisions
            BEGIN {_COUNT_DOWN} {_COUNT_UP} END;
    """)
    db.table("audit").create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "action": str,
            "channel": str,
            "address_hash": str,
            "address": str,
            "scope": str,
            "detail": str,
        },
        pk="id",
        not_null={"at", "actor", "action", "channel", "address_hash", "scope"},
    )
    db.table("audit").create_index(["address_hash", "at"])
    db.table("audit").create_index(["at"])


_INDEXED = "(SELECT upto FROM decisions_text_upto)"


def _v4(db: sqlite_utils.Database) -> None:
    """The search index filled in the background instead of by each insert's trigger: indexing a decision's
    text as it was written slowed every commit (each added an index segment, under the write lock both
    processes share; docs/performance.md has the figures). `decisions_text_upto` says up to which rowid the index is
    filled (`sqlite_writer.index_batch`, a quarter second behind); searches read the rows above it
    directly. Deletions and erasures still take indexed rows out at once; a new row whose rowid is not
    above the mark (SQLite reuses the highest rowid after it is deleted) is indexed at once."""
    db.executescript(f"""
        CREATE TABLE decisions_text_upto (upto INTEGER NOT NULL);
        INSERT INTO decisions_text_upto SELECT COALESCE(max(rowid), 0) FROM decisions;
        DROP TRIGGER decisions_added;
        DROP TRIGGER decisions_removed;
        DROP TRIGGER decisions_text_changed;
        CREATE TRIGGER decisions_added AFTER INSERT ON decisions BEGIN {_COUNT_UP} END;
        CREATE TRIGGER decisions_added_below_the_mark AFTER INSERT ON decisions WHEN NEW.rowid <= {_INDEXED}
            BEGIN {_TEXT_IN} END;
        CREATE TRIGGER decisions_removed AFTER DELETE ON decisions BEGIN {_COUNT_DOWN} END;
        CREATE TRIGGER decisions_indexed_removed AFTER DELETE ON decisions WHEN OLD.rowid <= {_INDEXED}
            BEGIN {_TEXT_OUT} END;
        CREATE TRIGGER decisions_text_changed AFTER UPDATE OF recipient, excerpt ON decisions
            WHEN OLD.rowid <= {_INDEXED} BEGIN {_TEXT_OUT} {_TEXT_IN} END;
    """)


def _v5(db: sqlite_utils.Database) -> None:
    """Each email decision's Message-ID and a digest of its subject and body, so that a client's retry of
    a message already relayed is known (the index serves exactly that question; most rows have none)."""
    db.executescript("""
        ALTER TABLE decisions ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
        ALTER TABLE decisions ADD COLUMN digest TEXT NOT NULL DEFAULT '';
        CREATE INDEX decisions_message ON decisions (sender, message_id) WHERE message_id <> '';
    """)


def _v6(db: sqlite_utils.Database) -> None:
    """What must act once: each inbound webhook's MessageSid (a replayed one is ignored), each console
    session signed out (its cookie no longer signs in). Rows go after their kind's window."""
    db.executescript("""
        CREATE TABLE seen (kind TEXT NOT NULL, key TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (kind, key)) WITHOUT ROWID;
        CREATE INDEX seen_at ON seen (kind, at);
    """)


def _v7(db: sqlite_utils.Database) -> None:
    """Nothing here: PostgreSQL's version 7 is a trigger that writes a decision for an erased address as
    erasure leaves one; the SQLite engine does that in its writer (`record_decisions`)."""


def _v8(db: sqlite_utils.Database) -> None:
    """Twilio's Messages read API answered from the log: a text's From and its detail (body, media,
    provider status) beside its decision, whose `message_id` is the text's sid; and the statuses the
    provider's callbacks report, by the provider's sid (the decision's `upstream`)."""
    db.executescript(f"""
        ALTER TABLE decisions ADD COLUMN origin TEXT NOT NULL DEFAULT '';
        ALTER TABLE decisions ADD COLUMN detail TEXT NOT NULL DEFAULT '';
        {TEXT_STATUS_TABLE}
    """)


def _v9(db: sqlite_utils.Database) -> None:
    """Do-Not-Call registries: each list's numbers (ten digits), and the as-of date of the copy held."""
    db.executescript(DNC_TABLES)


def _v10(db: sqlite_utils.Database) -> None:
    """The Reassigned Numbers Database's answers, and a receipt per import."""
    db.executescript(RND_TABLES)


def _v11(db: sqlite_utils.Database) -> None:
    """What a consent rests on (a purchase, an inquiry, a soft opt-in), and opt-out requests waiting for a
    person, with their deadlines."""
    db.executescript(CONSENT_BASIS_COLUMN + OPTOUT_REQUESTS_TABLE.format(id="INTEGER PRIMARY KEY"))


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1,
    _v2,
    _v3,
    _v4,
    _v5,
    _v6,
    _v7,
    _v8,
    _v9,
    _v10,
    _v11,
]
SCHEMA_VERSION = len(MIGRATIONS)


def sqlite_path(url: str) -> str:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db` or `sqlite:///:memory:`."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite URL: {url!r} (expected sqlite:///path/to/file.db)")
    path = url[len("sqlite:///") :]
    if not path:
        raise ValueError("sqlite URL has no file path")
    return path


INSERT_SEND = f"INSERT INTO sends ({SEND_COLS}) VALUES (?,?,?,?,?)"
