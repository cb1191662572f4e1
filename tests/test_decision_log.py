"""The decision log's indexes for the console, on both engines: search for part of an address or subject
(trigram index or newest-first scan, same answers), counts per day and code kept right through replays,
retention and erasure, a v2 SQLite database brought up to date, and the audit trail of changes people
make."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from gateway.addresses import address_hash
from gateway.model import (
    Category,
    Channel,
    Consent,
    ConsentLevel,
    Decision,
    Reason,
    Suppression,
    Verdict,
    Violation,
)
from gateway.store import StoreError, new_id, postgres_log, sqlite_log
from gateway.store.base import AuditEntry, DecisionQuery, OutboxMessage, SendClaim
from gateway.store.sqlite import SqliteStore
from gateway.store.sqlite_schema import MIGRATIONS

DAY1 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


_LOOP = asyncio.Runner()  # one loop for the module: a PostgreSQL pool belongs to the loop that made it
run = _LOOP.run


def decision(at, recipient, codes=(), subject="Spring sale", sender="acme", verdict=None, decision_id=None):
    verdict = verdict or (Verdict.REJECTED if codes else Verdict.RELAYED)
    return Decision(
        decision_id or new_id(),
        at,
        Channel.EMAIL,
        sender,
        recipient,
        Category.MARKETING,
        verdict,
        tuple(Violation(c, f"{c} message", recipient) for c in codes),
        subject,
        100,
    )


@pytest.fixture
def store(engine):
    s = engine.open()
    s.kind = engine.kind
    yield s
    run(s.close())


def counts(store, since=None):
    return {(r.day, r.sender, r.verdict, r.code): r.count for r in run(store.summary(since))}


def found(store, text, **filters):
    return {d.recipient for d in run(store.decisions(100, DecisionQuery(text=text, **filters)))}


def test_search_for_part_of_an_address_or_subject_any_case(store, monkeypatch):
    run(
        store.record_decisions(
            [
                decision(DAY1, "alice.smith@example.com", ("SUPPRESSED",), "Flash Sale: 20% off"),
                decision(DAY1, "bob@example.org", (), "Weekly news"),
                decision(DAY2, "carol@shop.example", ("CONSENT_MISSING",), 'He said "100% sure_thing"'),
            ]
        )
    )
    for common in (False, True):  # SQLite: through the index, and by scanning when a text matches too many
        monkeypatch.setattr(sqlite_log, "_INDEXED_HITS", 1 if common else 20_000)
        assert found(store, "SMITH") == {"alice.smith@example.com"}
        assert found(store, "flash sale") == {"alice.smith@example.com"}
        assert found(store, "EXAMPLE") == {"alice.smith@example.com", "bob@example.org", "carol@shop.example"}
        assert found(store, "example", verdict="rejected") == {
            "alice.smith@example.com",
            "carol@shop.example",
        }
        assert found(store, '"100% sure_') == {"carol@shop.example"}  # quotes, % and _ are plain characters
        assert found(store, "100%_sure") == set()
        assert found(store, "nobody") == set()
    assert found(store, "bo") == {"bob@example.org"}  # shorter than a trigram: compared row by row
    assert found(store, "bob@example.org") == {"bob@example.org"}  # a whole address: by its hash


def test_counts_per_day_follow_inserts_replays_retention_and_erasure(store):
    first = decision(DAY1, "a@example.com", ("SUPPRESSED", "CANSPAM_AD_LABEL", "SUPPRESSED"))
    run(
        store.record_decisions(
            [first, decision(DAY1, "b@example.com"), decision(DAY2, "c@example.com", ("SUPPRESSED",))]
        )
    )
    assert counts(store) == {
        ("2026-05-01", "acme", "rejected", "SUPPRESSED"): 1,
        ("2026-05-01", "acme", "rejected", "CANSPAM_AD_LABEL"): 1,
        ("2026-05-01", "acme", "relayed", ""): 1,
        ("2026-05-02", "acme", "rejected", "SUPPRESSED"): 1,
    }
    assert counts(store, DAY2 + timedelta(hours=5)) == {("2026-05-02", "acme", "rejected", "SUPPRESSED"): 1}
    # a replay of the same decision with another outcome replaces it: counted once, as it is now
    run(
        store.record_decisions(
            [decision(DAY1, "a@example.com", verdict=Verdict.FAILED, decision_id=first.id)], replace=True
        )
    )
    assert counts(store, DAY1) == {
        ("2026-05-01", "acme", "failed", ""): 1,
        ("2026-05-01", "acme", "relayed", ""): 1,
        ("2026-05-02", "acme", "rejected", "SUPPRESSED"): 1,
    }
    run(store.forget(Channel.EMAIL, "c@example.com", DAY2))  # erasure keeps the counts (no personal data)
    assert counts(store)[("2026-05-02", "acme", "rejected", "SUPPRESSED")] == 1
    assert run(store.purge_before(DAY2)) == 2
    assert counts(store) == {("2026-05-02", "acme", "rejected", "SUPPRESSED"): 1}
    assert count_rows(store) == 1  # emptied rows go with retention


def sms_decision(at, number, verdict=Verdict.RELAYED):
    return Decision(new_id(), at, Channel.SMS, "acme", number, Category.MARKETING, verdict, (), "20% off", 8)


def test_a_group_of_decisions_outbox_texts_and_sends_is_written_whole_or_not_at_all(store):
    number = "+13055550123"
    for durable in (True, False):
        texts = [
            OutboxMessage(
                f"SM{durable:d}{i:031d}",
                DAY1,
                "acme",
                number,
                "+15005550006",
                "20% off",
                Category.MARKETING,
                {"To": number},
            )
            for i in range(2)
        ]
        sends = [
            SendClaim(Channel.SMS, number, "acme", Category.MARKETING, DAY1 + timedelta(minutes=i))
            for i in range(2)
        ]
        run(
            store.record_decisions(
                [sms_decision(DAY1, number) for _ in range(2)], outbox=texts, sends=sends, durable=durable
            )
        )
        run(store.record_decisions([], sends=sends[:1], durable=durable))  # sends alone
    assert len(run(store.outbox())) == 4
    assert counts(store) == {("2026-05-01", "acme", "relayed", ""): 4}
    recent = run(store.facts(Channel.SMS, "acme", [number], DAY2, history_hours=48))[number].recent_sends
    assert len(recent) == 6
    clash = run(store.outbox())[0]  # an outbox id taken already: nothing of the group is written
    with pytest.raises(StoreError):
        run(
            store.record_decisions(
                [sms_decision(DAY1, number)],
                outbox=[clash],
                sends=[SendClaim(Channel.SMS, number, "acme", Category.MARKETING, DAY1)],
            )
        )
    assert counts(store) == {("2026-05-01", "acme", "relayed", ""): 4}
    assert (
        len(run(store.facts(Channel.SMS, "acme", [number], DAY2, history_hours=48))[number].recent_sends) == 6
    )


def count_rows(store) -> int:
    if store.kind == "sqlite":
        return store.db.run("SELECT count(*) FROM daily_counts").fetchone()[0]
    return len(
        run(store.db.fetch("SELECT day FROM daily_counts GROUP BY day, sender, channel, verdict, code"))
    )


def test_purge_works_in_batches(store, monkeypatch):
    monkeypatch.setattr(sqlite_log, "_PURGE_BATCH", 3)
    monkeypatch.setattr(postgres_log, "_PURGE_BATCH", 3)
    run(store.record_decisions([decision(DAY1, f"p{i}@example.com", ("SUPPRESSED",)) for i in range(10)]))
    assert run(store.purge_before(DAY2)) == 10
    assert run(store.decisions()) == [] and counts(store) == {} and found(store, "example") == set()


def test_erased_addresses_leave_the_search_index(store):
    run(store.record_decisions([decision(DAY1, "zelda.unique@example.com", ("SUPPRESSED",))]))
    assert found(store, "zelda.uni") == {"zelda.unique@example.com"}
    run(store.forget(Channel.EMAIL, "zelda.unique@example.com", DAY2))
    assert found(store, "zelda") == set()
    index(store)
    index_matches_the_log(store)


def index(store):
    """SQLite: what the background upkeep does a moment after each write."""
    if store.kind == "sqlite":
        run(store.index_search_text())


def index_matches_the_log(store):
    """SQLite: FTS5 compares its index with the rows of the log, and raises if they disagree."""
    if store.kind == "sqlite":
        store.db.conn.execute(
            "INSERT INTO decisions_text (decisions_text, rank) VALUES ('integrity-check', 1)"
        )


def test_search_finds_decisions_before_and_after_the_background_index_takes_them(store):
    run(store.record_decisions([decision(DAY1, "ann.old@example.com", ("SUPPRESSED",), "Old news")]))
    index(store)
    run(store.record_decisions([decision(DAY2, "ann.new@example.com", (), "New news")]))  # not indexed yet
    assert found(store, "ann.") == {"ann.old@example.com", "ann.new@example.com"}
    assert found(store, "news", verdict="relayed") == {"ann.new@example.com"}
    index(store)
    assert found(store, "ann.") == {"ann.old@example.com", "ann.new@example.com"}
    index_matches_the_log(store)
    run(store.record_decisions([decision(DAY2, "bea.new@example.com", (), "Fresh")]))
    # erased: the indexed ones leave the index at once, the other enters it erased
    for address in ("ann.old@example.com", "ann.new@example.com", "bea.new@example.com"):
        run(store.forget(Channel.EMAIL, address, DAY2))
    assert found(store, "ann.") == set() and found(store, "bea.") == set()
    index(store)
    assert found(store, "ann.") == set() and found(store, "bea.") == set()
    index_matches_the_log(store)
    # SQLite gives a new row the highest rowid again once that row is deleted: below the mark, it is
    # indexed at once
    last = decision(DAY2, "zed.last@example.com")
    run(store.record_decisions([last]))
    index(store)
    run(store.record_decisions([decision(DAY2, "zed.again@example.com", decision_id=last.id)], replace=True))
    assert found(store, "zed.") == {"zed.again@example.com"}
    index_matches_the_log(store)
    run(store.purge_before(DAY2 + timedelta(days=1)))
    index_matches_the_log(store)
    assert found(store, "zed.") == set()


def test_a_version_2_database_is_brought_up_to_date(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    for migrate in MIGRATIONS[:2]:
        migrate(db)
    db.execute("PRAGMA user_version=2")
    old = [
        decision(DAY1, "old@example.com", ("SUPPRESSED", "CANSPAM_AD_LABEL")),
        decision(DAY1, "ok@example.com"),
    ]
    from gateway.store.base import decision_row

    rows = [decision_row(d, address_hash(d.recipient)) for d in old]
    db["decisions"].insert_all(
        [{k: v for k, v in r.items() if k not in ("message_id", "digest", "origin", "detail")} for r in rows]
    )  # (v5, v8)
    db.conn.close()
    store = SqliteStore(str(path))
    try:
        assert run(store.schema_version()) == len(MIGRATIONS)
        assert counts(store) == {
            ("2026-05-01", "acme", "rejected", "SUPPRESSED"): 1,
            ("2026-05-01", "acme", "rejected", "CANSPAM_AD_LABEL"): 1,
            ("2026-05-01", "acme", "relayed", ""): 1,
        }
        assert found(store, "old@exa") == {"old@example.com"}
    finally:
        run(store.close())


def test_audit_entries_are_written_with_the_change_and_only_then(store):
    who = "console 127.0.0.1"
    entry = Suppression(
        Channel.EMAIL, address_hash("dee@example.com"), "dee@example.com", "acme", Reason.MANUAL, "test", DAY1
    )
    added = run(
        store.add_suppression(
            entry,
            AuditEntry(who, "suppression.add", Channel.EMAIL, "dee@example.com", "acme", "by hand", DAY1),
        )
    )
    assert added
    again = AuditEntry(who, "suppression.add", Channel.EMAIL, "dee@example.com", "acme", "twice", DAY1)
    assert not run(store.add_suppression(entry, again))  # nothing changed: nothing audited
    gone = run(
        store.remove_suppressions(
            Channel.EMAIL,
            "dee@example.com",
            "acme",
            None,
            AuditEntry(
                who, "suppression.remove", Channel.EMAIL, "dee@example.com", "acme", "asked again", DAY2
            ),
        )
    )
    assert gone == 1
    cid = run(
        store.add_consent(
            Consent(
                Channel.EMAIL,
                address_hash("dee@example.com"),
                "dee@example.com",
                "acme",
                ConsentLevel.EXPRESS,
                "ops console",
                "form 7",
                DAY2,
            ),
            AuditEntry(who, "consent.add", Channel.EMAIL, "dee@example.com", "acme", "level express", DAY2),
        )
    )
    assert cid > 0
    log = run(store.audit_log(Channel.EMAIL, "dee@example.com"))
    assert [(a.action, a.detail) for a in log] == [
        ("consent.add", "level express"),
        ("suppression.remove", "asked again"),
        ("suppression.add", "by hand"),
    ]
    assert run(store.audit_log(Channel.SMS, "dee@example.com")) == []
    run(store.forget(Channel.EMAIL, "dee@example.com", DAY2))
    after = run(store.audit_log(Channel.EMAIL, "dee@example.com"))
    assert len(after) == 3 and all(a.address is None for a in after)  # the trail stays, the address goes
    if store.kind == "sqlite":
        assert b"dee@example.com" not in open(store.path, "rb").read()


def test_ids_are_unique_and_a_forked_worker_draws_its_own_random_part():
    """new_id takes its random part from a pool of os.urandom bytes; a child process (the workers are forked)
    must not hand out the bytes its parent will."""
    ids = {new_id() for _ in range(5000)}
    assert len(ids) == 5000 and all(len(i) == 21 for i in ids)
    new_id()  # the pool is filled before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, "".join(new_id()[13:] for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode()
    os.close(read)
    mine = "".join(new_id()[13:] for _ in range(50))
    assert len(child) == len(mine) == 400 and child != mine
