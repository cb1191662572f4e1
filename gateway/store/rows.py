"""Rows as both engines store them, and the model objects they stand for. Column lists are shared; the
SQL around them is each engine's own."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from ..addresses import address_hash
from ..model import (
    Category,
    Channel,
    Consent,
    ConsentBasis,
    ConsentLevel,
    Reason,
    RecipientFacts,
    Suppression,
)
from .base import AuditEntry, DeferredText, OutboxMessage, SendClaim, from_text, to_text

_CHANNEL = {c.value: c for c in Channel}  # dict lookups: Enum(value) costs microseconds on the hot path
_REASON = {r.value: r for r in Reason}


def suppression_of(row: Sequence) -> Suppression:
    channel, ahash, address, scope, reason, source, created, expires = row
    return Suppression(
        _CHANNEL[channel],
        ahash,
        address,
        scope,
        _REASON[reason],
        source or "",
        from_text(created),
        from_text(expires),
    )


def suppression_row(s: Suppression) -> tuple:
    """In SUPPRESSION_COLS order."""
    return (
        s.channel.value,
        s.address_hash,
        s.address,
        s.scope,
        s.reason.value,
        s.source,
        to_text(s.created_at),
        to_text(s.expires_at),
    )


def consent_of(row: Sequence) -> Consent:
    cid, channel, ahash, address, scope, level, source, evidence, obtained, expires, revoked, basis = row
    return Consent(
        _CHANNEL[channel],
        ahash,
        address,
        scope,
        ConsentLevel.parse(level),
        source or "",
        evidence or "",
        from_text(obtained),
        from_text(expires),
        from_text(revoked),
        cid,
        ConsentBasis.parse(basis or ""),
    )


SUPPRESSION_COLS = "channel, address_hash, address, scope, reason, source, created_at, expires_at"
CONSENT_COLS = (
    "id, channel, address_hash, address, scope, level, source, evidence, obtained_at, expires_at, revoked_at, "
    "basis"
)


AUDIT_COLS = "at, actor, action, channel, address_hash, address, scope, detail"
INSERT_AUDIT = f"INSERT INTO audit ({AUDIT_COLS}) VALUES (?,?,?,?,?,?,?,?)"  # with `audit_row`


def audit_row(a: AuditEntry) -> tuple:
    return (
        to_text(a.at),
        a.actor,
        a.action,
        a.channel.value if a.channel is not None else "",
        address_hash(a.address) if a.address else a.address_hash,
        a.address,
        a.scope,
        a.detail,
    )


def audit_of(r: Sequence) -> AuditEntry:
    return AuditEntry(
        actor=r[1],
        action=r[2],
        channel=_CHANNEL.get(r[3]),
        address=r[5],
        scope=r[6],
        detail=r[7] or "",
        at=from_text(r[0]),
        address_hash=r[4] or "",
    )


# Delivery statuses the SMS provider reports for its message sids (its status callbacks); `rank` orders them
# so that a callback arriving late never takes a status back (gateway/sms/messages.py).
TEXT_STATUS_TABLE = """
CREATE TABLE text_status (sid text PRIMARY KEY, status text NOT NULL, rank integer NOT NULL,
    error_code integer, at text NOT NULL);
CREATE INDEX text_status_at ON text_status (at);
"""
# Do-Not-Call registries (gateway dnc import): the numbers of each list (ten digits, as the registries give
# them), and each list's copy: the registry's as-of date, when it was imported, how many numbers it holds.
DNC_TABLES = """
CREATE TABLE dnc (list text NOT NULL, number text NOT NULL, PRIMARY KEY (number, list));
CREATE TABLE dnc_copies (list text PRIMARY KEY, as_of text NOT NULL, imported_at text NOT NULL,
    numbers integer NOT NULL);
"""
# The Reassigned Numbers Database's answers (gateway rnd import): per number and the date asked about, yes
# (permanently disconnected since), no or no_data; and a receipt per import, the safe harbor's evidence
# that the latest data was queried (47 CFR 64.1200(m)).
RND_TABLES = """
CREATE TABLE rnd (number text NOT NULL, queried text NOT NULL, answer text NOT NULL, imported_at text NOT NULL,
    PRIMARY KEY (number, queried));
CREATE TABLE rnd_receipts (imported_at text NOT NULL, source text NOT NULL, digest text NOT NULL,
    answers integer NOT NULL, yes integer NOT NULL);
"""
# Version 11: what a consent rests on (a purchase, an inquiry, a soft opt-in: model.ConsentBasis), and the
# opt-out requests that wait for a person (received, due, honoured or dismissed: the deadline clock).
CONSENT_BASIS_COLUMN = "ALTER TABLE consents ADD COLUMN basis text NOT NULL DEFAULT '';"
OPTOUT_REQUEST_COLS = "id, channel, address_hash, address, scope, source, received_at, due_at, closed_at, outcome, honour_seconds"
OPTOUT_REQUESTS_TABLE = """
CREATE TABLE optout_requests (id {id}, channel text NOT NULL, address_hash text NOT NULL, address text,
    scope text NOT NULL, source text NOT NULL, received_at text NOT NULL, due_at text NOT NULL, closed_at text,
    outcome text NOT NULL DEFAULT '', honour_seconds double precision);
CREATE INDEX optout_requests_open ON optout_requests (outcome, due_at);
CREATE INDEX optout_requests_address ON optout_requests (channel, address_hash);
"""
SEND_COLS = "channel, address_hash, scope, category, sent_at"
OUTBOX_COLS = "id, at, sender, recipient, from_number, body, category, fields"
DEFERRED_COLS = (
    "id, created_at, send_at, sender, recipient, recipient_hash, from_number, body, category, fields, "
    "api, state, attempts, last_error, claimed_at"
)


INSERT_DEFERRED = (
    f"INSERT INTO deferred ({DEFERRED_COLS}) VALUES ({','.join('?' * 15)})"  # with `deferred_row`
)


def deferred_row(text: DeferredText) -> tuple:
    """In DEFERRED_COLS order."""
    return (
        text.id,
        to_text(text.created_at),
        to_text(text.send_at),
        text.sender,
        text.recipient,
        address_hash(text.recipient),
        text.from_number,
        text.body,
        text.category.value,
        json.dumps(text.fields),
        text.api,
        text.state,
        text.attempts,
        text.last_error,
        to_text(text.claimed_at),
    )


def deferred_of(r: Sequence) -> DeferredText:
    return DeferredText(
        id=r[0],
        created_at=from_text(r[1]),
        send_at=from_text(r[2]),
        sender=r[3],
        recipient=r[4],
        from_number=r[6],
        body=r[7],
        category=Category(r[8]),
        fields=json.loads(r[9] or "{}"),
        api=r[10] or "v1",
        state=r[11],
        attempts=r[12] or 0,
        last_error=r[13] or "",
        claimed_at=from_text(r[14]),
    )


def facts_of(rows: Iterable[Sequence], by_hash: dict[str, str]) -> dict[str, RecipientFacts]:
    """Each recipient's facts from the rows of an engine's facts statement: a kind ('s' suppression, 'c'
    consent, 'n' send), then the suppression's columns from the third, the consent's from the second, or a
    send's address hash fourth and time ninth."""
    sup: dict[str, list[Suppression]] = {}
    con: dict[str, list[Consent]] = {}
    sends: dict[str, list[datetime]] = {}
    for row in rows:
        kind = row[0]
        if kind == "s":
            sup.setdefault(row[3], []).append(suppression_of(row[2:10]))
        elif kind == "c":
            con.setdefault(row[3], []).append(consent_of(row[1:13]))
        else:
            sends.setdefault(row[3], []).append(from_text(row[8]))
    for times in sends.values():
        times.sort(reverse=True)
    return {
        address: RecipientFacts(
            address, tuple(sup.get(h, ())), tuple(con.get(h, ())), tuple(sends.get(h, ()))
        )
        for h, address in by_hash.items()
    }


def outbox_row(m: OutboxMessage) -> tuple:
    """In OUTBOX_COLS order."""
    return (
        m.id,
        to_text(m.at),
        m.sender,
        m.recipient,
        m.from_number,
        m.body,
        m.category.value,
        json.dumps(m.fields),
    )


def send_row(c: SendClaim) -> tuple:
    """In SEND_COLS order."""
    return (c.channel.value, address_hash(c.address), c.sender, c.category.value, to_text(c.at))
