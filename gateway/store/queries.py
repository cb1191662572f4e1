"""Statements both engines run as they are, written with `?` parameters (the PostgreSQL engine numbers
them): each returns (sql, args)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from ..addresses import address_hash
from ..model import GLOBAL_SCOPE, Channel, Consent, DncFacts
from .base import TextQuery, to_text
from .rows import AUDIT_COLS, CONSENT_COLS, DEFERRED_COLS, SUPPRESSION_COLS

Query = tuple[str, list]


def _filtered(sql: str, args: list, **conditions) -> Query:
    """`sql` with ` AND column = ?` for each condition that is not None."""
    for column, value in conditions.items():
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    return sql, args


def remove_suppressions(channel: Channel, address: str, scope: str | None, reason: str | None) -> Query:
    return _filtered(
        # an erasure is never lifted, whatever a caller checked before (one may land in between)
        "DELETE FROM suppressions WHERE channel = ? AND address_hash = ? AND reason <> 'erased'",
        [channel.value, address_hash(address)],
        scope=scope,
        reason=reason,
    )


def list_suppressions(channel: Channel | None, scope: str | None, address: str | None) -> Query:
    sql, args = _filtered(
        f"SELECT {SUPPRESSION_COLS} FROM suppressions WHERE true",
        [],
        channel=channel.value if channel else None,
        scope=scope,
        address_hash=address_hash(address) if address is not None else None,
    )
    return sql + " ORDER BY id", args


def add_consent(consent: Consent) -> Query:
    return (
        "INSERT INTO consents (channel, address_hash, address, scope, level, source, evidence, obtained_at, "
        "expires_at, revoked_at, basis) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            consent.channel.value,
            consent.address_hash,
            consent.address,
            consent.scope,
            consent.level.label,
            consent.source,
            consent.evidence,
            to_text(consent.obtained_at),
            to_text(consent.expires_at),
            to_text(consent.revoked_at),
            consent.basis.value,
        ],
    )


def revoke_consents(channel: Channel, address: str, scope: str | None, at: datetime) -> Query:
    return _filtered(
        "UPDATE consents SET revoked_at = ? WHERE channel = ? AND address_hash = ? AND revoked_at IS NULL",
        [to_text(at), channel.value, address_hash(address)],
        scope=scope,
    )


def consents(channel: Channel, address: str, scope: str | None) -> Query:
    sql = f"SELECT {CONSENT_COLS} FROM consents WHERE channel = ? AND address_hash = ?"
    args: list = [channel.value, address_hash(address)]
    if scope is not None:
        sql += " AND scope IN (?, ?)"
        args += [scope, GLOBAL_SCOPE]
    return sql + " ORDER BY obtained_at, id", args


def audit_log(
    channel: Channel | None, address: str | None, limit: int, actions: Sequence[str] = (), offset: int = 0
) -> Query:
    sql, args = f"SELECT {AUDIT_COLS} FROM audit WHERE true", list[object]()
    if address is not None:
        sql, args = _filtered(
            sql, args, address_hash=address_hash(address), channel=channel.value if channel else None
        )
    if actions:
        sql += f" AND action IN ({', '.join('?' * len(actions))})"
        args += list(actions)
    return sql + " ORDER BY at DESC, id DESC LIMIT ? OFFSET ?", [*args, limit, offset]


def sent_as(senders: Sequence[str], message_id: str, since: datetime) -> Query:
    """The recipients a message (by Message-ID, from any of these senders) went upstream to since then:
    (id, sender, recipient, recipient_hash, category) rows, at most 1,000."""
    marks = ", ".join("?" * len(senders))
    return (
        f"SELECT id, sender, recipient, recipient_hash, category FROM decisions WHERE sender IN ({marks}) "
        "AND message_id = ? AND channel = 'email' AND verdict IN ('relayed', 'monitored', 'relaying', 'unknown') "
        "AND at >= ? LIMIT 1000",
        [*senders, message_id, to_text(since)],
    )


def finish_deferred(text_id: str, state: str, error: str, send_at: datetime | None) -> Query:
    sql, args = "UPDATE deferred SET state = ?, last_error = ?", [state, error]
    if send_at is not None:
        sql += ", send_at = ?"
        args.append(to_text(send_at))
    return sql + " WHERE id = ?", [*args, text_id]


def list_deferred(state: str | None, limit: int) -> Query:
    sql, args = _filtered(f"SELECT {DEFERRED_COLS} FROM deferred WHERE true", [], state=state)
    return sql + " ORDER BY send_at LIMIT ?", [*args, limit]


def summary(since: datetime | None, sender: str | None) -> Query:
    """The daily counts (added up over the PostgreSQL engine's shards): whole days from the day `since` is in."""
    sql, args = "SELECT day, sender, channel, verdict, code, sum(n) FROM daily_counts WHERE true", []
    if since is not None:
        sql += " AND day >= ?"
        args.append(to_text(since)[:10])
    sql, args = _filtered(sql, args, sender=sender)
    return (
        sql + " GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) > 0 ORDER BY day, sender, code, channel, verdict",
        args,
    )


class Accepted(str):
    """A valid row given as text (a Do-Not-Call number)."""


class ImportRows:
    """A stream of import rows (a str is a rejected row's error) as suppression rows to insert, counting and
    keeping the first few errors on the way."""

    MAX_ERRORS_KEPT = 20

    def __init__(self, rows, to_row) -> None:
        self._rows, self._to_row = rows, to_row
        self.rejected = 0
        self.accepted = 0
        self.errors: list[str] = []

    def __iter__(self):
        for item in self._rows:
            if isinstance(item, str) and not isinstance(item, Accepted):  # a str is a rejected row's error
                self.rejected += 1
                if len(self.errors) < self.MAX_ERRORS_KEPT:
                    self.errors.append(str(item))
                continue
            self.accepted += 1
            yield self._to_row(item)


def relayed(sender: str, message_id: str, digest: str, recipients: list[str], since: datetime) -> Query:
    """Which of these recipients the sender's message (Message-ID and digest) was relayed to since then,
    or is being relayed to, or waits in the queue (`deferred`): (recipient, verdict) rows."""
    marks = ", ".join("?" * len(recipients))
    return (
        "SELECT recipient, verdict FROM decisions WHERE sender = ? AND message_id = ? AND digest = ? "
        f"AND channel = 'email' AND verdict IN ('relayed', 'monitored', 'relaying', 'deferred') AND at >= ? "
        f"AND recipient IN ({marks})",
        [sender, message_id, digest, to_text(since), *recipients],
    )


def settle_intents(before: datetime, upstream: str) -> Query:
    return (
        "UPDATE decisions SET verdict = 'unknown', upstream = ? WHERE verdict = 'relaying' AND at < ?",
        [upstream, to_text(before)],
    )


def by_recipient(rows) -> dict[str, str]:
    """`relayed`'s rows: each recipient with its verdict, one being relayed right now before any other."""
    found: dict[str, str] = {}
    for recipient, verdict in rows:
        if found.get(recipient) != "relaying":
            found[recipient] = verdict
    return found


def erased(hashes: Sequence[str]) -> Query:
    """Which of these address hashes an erasure covers."""
    marks = ", ".join("?" * len(hashes))
    return (
        "SELECT DISTINCT address_hash FROM suppressions WHERE channel IN ('email', 'sms') AND reason = 'erased' "
        f"AND address_hash IN ({marks})",
        list(hashes),
    )


_TEXTS = (
    "SELECT d.*, s.status AS cb_status, s.error_code AS cb_error, s.at AS cb_at FROM decisions d "
    "LEFT JOIN text_status s ON s.sid = d.upstream "
    "WHERE d.sender = ? AND d.channel = 'sms' AND d.message_id <> ''"
)


def text(sender: str, sid: str) -> Query:
    """One of the sender's texts by its sid, with the latest status reported for it."""
    return _TEXTS + " AND d.message_id = ? LIMIT 1", [sender, sid]


def texts(sender: str, query: TextQuery, limit: int, before_id: str | None) -> Query:
    """A page of the sender's texts, newest first (by id, which is time-ordered): `limit` rows after
    `before_id`."""
    sql, args = _TEXTS, [sender]
    if query.since or query.until:  # DateSent: texts sent (a held, refused or failed one has no date_sent)
        sql += " AND d.verdict IN ('relayed', 'monitored') AND (s.status IS NULL OR s.status NOT IN ('failed', 'canceled'))"
    for condition, value in (
        ("d.recipient = ?", query.to),
        ("d.origin = ?", query.origin),
        ("d.at >= ?", to_text(query.since) if query.since else None),
        ("d.at < ?", to_text(query.until) if query.until else None),
        ("d.id < ?", before_id),
    ):
        if value is not None:
            sql += f" AND {condition}"
            args.append(value)
    return sql + " ORDER BY d.id DESC LIMIT ?", [*args, limit]


def text_status(sid: str, status: str, rank: int, error_code: int | None, at: datetime) -> Query:
    """The provider's latest word on a message: kept unless what is stored ranks higher (a callback
    that arrived late)."""
    return (
        "INSERT INTO text_status (sid, status, rank, error_code, at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (sid) DO UPDATE SET status = excluded.status, rank = excluded.rank, "
        "error_code = excluded.error_code, at = excluded.at WHERE excluded.rank >= text_status.rank",
        [sid, status, rank, error_code, to_text(at)],
    )


def dnc_facts(number: str) -> Query:
    """A number's Do-Not-Call listings (as_of NULL), every list's copy date, and the dates the Reassigned
    Numbers Database said the number was disconnected since (list ''), in one statement: (list, as_of) rows."""
    return (
        "SELECT list, NULL FROM dnc WHERE number = ? UNION ALL SELECT list, as_of FROM dnc_copies "
        "UNION ALL SELECT '', queried FROM rnd WHERE number = ? AND answer = 'yes'",
        [number, number],
    )


def dnc_of(rows) -> DncFacts:
    listed, copies, disconnected = [], [], []
    for name, as_of in rows:
        if as_of is None:
            listed.append(name)
        elif name == "":
            disconnected.append(date.fromisoformat(as_of))
        else:
            copies.append((name, date.fromisoformat(as_of)))
    return DncFacts(tuple(listed), tuple(copies), tuple(sorted(disconnected)))


UPSERT_RND = (
    "INSERT INTO rnd (number, queried, answer, imported_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (number, queried) DO UPDATE SET answer = excluded.answer, imported_at = excluded.imported_at"
)
INSERT_RND_RECEIPT = (
    "INSERT INTO rnd_receipts (imported_at, source, digest, answers, yes) VALUES (?, ?, ?, ?, ?)"
)
