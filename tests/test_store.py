"""The store, on both engines (SQLite and PostgreSQL): schema versioning, one batched read per message,
hashed and scoped entries, consent, sends, decisions, imports. SQLite's file handling at the end."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

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
from gateway.store import StoreError, new_id, open_store, sqlite_writer
from gateway.store.base import AuditEntry, OutboxMessage
from gateway.store.sqlite import SCHEMA_VERSION, SqliteStore

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


_LOOP = asyncio.Runner()  # one loop for the module: a PostgreSQL pool belongs to the loop that made it
run = _LOOP.run


def supp(address, scope="acme", reason=Reason.UNSUBSCRIBE, channel=Channel.EMAIL, hashed=False, expires=None):
    return Suppression(
        channel, address_hash(address), None if hashed else address, scope, reason, "test", T0, expires
    )


@pytest.fixture
def store(engine):
    s = engine.open()
    yield s
    run(s.close())


def test_created_and_migrated_once_even_when_instances_start_together(engine):
    stores = [engine.open() for _ in range(4)]
    try:

        async def together():
            return await asyncio.gather(*(s.schema_version() for s in stores))

        assert run(together()) == [SCHEMA_VERSION] * 4
    finally:
        for s in stores:
            run(s.close())
    again = engine.open()  # migrating again is a no-op
    assert run(again.schema_version()) == SCHEMA_VERSION
    run(again.close())


def test_postgresql_refuses_a_database_from_a_newer_gateway(pg_engine):
    store = pg_engine.open()
    run(store.schema_version())
    run(store.db.execute("UPDATE gateway_schema SET version = version + 5"))
    run(store.close())
    with pytest.raises(StoreError, match="newer than this gateway"):
        run(pg_engine.open().schema_version())


def test_postgresql_unreachable_is_a_store_error_naming_it_without_the_password():
    store = open_store("postgresql://gateway:hunter2@127.0.0.1:1/nowhere")
    with pytest.raises(StoreError, match="cannot reach PostgreSQL") as caught:
        run(store.facts(Channel.EMAIL, "acme", ["a@example.com"], T0))
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


def test_sqlite_file_is_in_wal_mode_with_a_schema_version(tmp_path):
    store = SqliteStore(str(tmp_path / "g.db"))
    assert run(store.schema_version()) == SCHEMA_VERSION
    conn = sqlite3.connect(tmp_path / "g.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"suppressions", "consents", "decisions", "sends"} <= tables
    reopened = SqliteStore(str(tmp_path / "g.db"))  # migrating again is a no-op
    assert run(reopened.schema_version()) == SCHEMA_VERSION


def test_refuses_a_database_from_a_newer_gateway(tmp_path):
    conn = sqlite3.connect(tmp_path / "new.db")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this gateway"):
        SqliteStore(str(tmp_path / "new.db"))


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open SQLite database"):
        SqliteStore(str(tmp_path / "junk.db"))
    with pytest.raises(StoreError, match="unsupported database URL"):
        open_store("mysql://x")


def test_sqlite_facts_are_one_statement_for_all_recipients(tmp_path):
    store = SqliteStore(str(tmp_path / "g.db"))
    for i in range(5):
        run(store.add_suppression(supp(f"u{i}@example.com")))
    statements = []
    store.db.conn.set_trace_callback(statements.append)
    facts = run(
        store.facts(Channel.EMAIL, "acme", [f"u{i}@example.com" for i in range(8)], T0, history_hours=24)
    )
    store.db.conn.set_trace_callback(None)
    assert len(statements) == 1 and statements[0].startswith("SELECT")
    assert sum(1 for f in facts.values() if f.suppressions) == 5


def test_scopes_global_and_other_senders(store):
    run(store.add_suppression(supp("a@example.com", scope="acme")))
    run(store.add_suppression(supp("b@example.com", scope="global", reason=Reason.COMPLAINT)))
    run(store.add_suppression(supp("c@example.com", scope="other")))
    facts = run(store.facts(Channel.EMAIL, "acme", ["a@example.com", "b@example.com", "c@example.com"], T0))
    assert [len(facts[a].suppressions) for a in ("a@example.com", "b@example.com", "c@example.com")] == [
        1,
        1,
        0,
    ]
    sms = run(store.facts(Channel.SMS, "acme", ["a@example.com"], T0))
    assert sms["a@example.com"].suppressions == ()


def test_many_suppressions_in_one_transaction_each_with_its_audit_entry_when_new(store):
    run(store.add_suppression(supp("old@example.com")))
    entries = [
        (
            supp(f"n{i}@example.com"),
            AuditEntry("test", "suppression.add", Channel.EMAIL, f"n{i}@example.com", "acme", "", T0),
        )
        for i in range(300)
    ]
    entries.append(
        (
            supp("old@example.com"),
            AuditEntry("test", "suppression.add", Channel.EMAIL, "old@example.com", "acme", "", T0),
        )
    )
    added = run(store.add_suppressions(entries))
    assert added == [True] * 300 + [False]
    facts = run(store.facts(Channel.EMAIL, "acme", ["n0@example.com", "n299@example.com"], T0))
    assert all(len(f.suppressions) == 1 for f in facts.values())
    audit = run(store.audit_log(Channel.EMAIL, limit=1000))
    assert len(audit) == 300 and "old@example.com" not in {a.address for a in audit}


def test_hashed_entries_block_like_plain_ones(store):
    run(store.add_suppression(supp("erased@example.com", scope="global", reason=Reason.ERASED, hashed=True)))
    facts = run(store.facts(Channel.EMAIL, "acme", ["erased@example.com"], T0))
    (entry,) = facts["erased@example.com"].suppressions
    assert entry.address is None and entry.address_hash == address_hash("erased@example.com")


def test_expired_suppressions_stop_blocking(store):
    run(store.add_suppression(supp("t@example.com", reason=Reason.BOUNCE, expires=T0 + timedelta(days=30))))
    facts = run(store.facts(Channel.EMAIL, "acme", ["t@example.com"], T0))["t@example.com"]
    assert facts.active_suppressions(T0 + timedelta(days=1)) and not facts.active_suppressions(
        T0 + timedelta(days=31)
    )


def test_consent_ledger_levels_revocation_and_expiry(store):
    def consent(level, scope="acme", expires=None):
        return Consent(
            Channel.SMS,
            address_hash("+13055550123"),
            "+13055550123",
            scope,
            level,
            "form",
            "box ticked",
            T0,
            expires,
        )

    run(store.add_consent(consent(ConsentLevel.IMPLIED, scope="global", expires=T0 + timedelta(days=90))))
    run(store.add_consent(consent(ConsentLevel.EXPRESS_WRITTEN)))
    facts = run(store.facts(Channel.SMS, "acme", ["+13055550123"], T0))["+13055550123"]
    assert facts.consent_level(T0 + timedelta(hours=1)) is ConsentLevel.EXPRESS_WRITTEN
    assert facts.consent_level(T0 - timedelta(hours=1)) is ConsentLevel.NONE  # not yet given
    assert run(store.revoke_consents(Channel.SMS, "+13055550123", "acme", T0 + timedelta(days=1))) == 1
    facts = run(store.facts(Channel.SMS, "acme", ["+13055550123"], T0))["+13055550123"]
    assert facts.consent_level(T0 + timedelta(days=2)) is ConsentLevel.IMPLIED
    assert facts.consent_level(T0 + timedelta(days=91)) is ConsentLevel.NONE  # implied consent lapsed


def test_recent_marketing_sends_within_the_window_newest_first(store):
    for hours in (30, 5, 1):
        run(
            store.record_send(
                Channel.SMS, "+13055550123", "acme", Category.MARKETING, T0 - timedelta(hours=hours)
            )
        )
    run(store.record_send(Channel.SMS, "+13055550123", "acme", Category.TRANSACTIONAL, T0))
    run(store.record_send(Channel.SMS, "+13055550123", "other", Category.MARKETING, T0))
    sends = run(store.facts(Channel.SMS, "acme", ["+13055550123"], T0, history_hours=24))[
        "+13055550123"
    ].recent_sends
    assert sends == (T0 - timedelta(hours=1), T0 - timedelta(hours=5))


def test_decisions_are_durable_with_their_violations(engine, store):
    d = Decision(
        new_id(),
        T0,
        Channel.EMAIL,
        "acme",
        "bob@example.com",
        Category.MARKETING,
        Verdict.REJECTED,
        (Violation("SUPPRESSED", "opted out 2026-05-01 via unsubscribe", "bob@example.com"),),
        "Spring",
        2048,
    )
    run(store.record_decisions([d]))
    run(store.close())
    reopened = engine.open()
    (back,) = run(reopened.decisions())
    assert back == d
    run(reopened.close())


def _decision(recipient: str) -> Decision:
    return Decision(
        new_id(),
        T0,
        Channel.EMAIL,
        "acme",
        recipient,
        Category.MARKETING,
        Verdict.RELAYED,
        (),
        "Spring",
        2048,
    )


def test_sqlite_close_waits_for_the_upkeep_running_in_its_thread(tmp_path, monkeypatch):
    """Closing an sqlite3 connection while another thread runs a statement on it crashes the process; it
    did, at 2 shutdowns in 12 under load, when the search-index upkeep was mid-batch. close() waits for
    the job and the upkeep stops at its next step."""
    started, answers = threading.Event(), []

    def slow_batch(conn, limit=50):
        started.set()
        time.sleep(0.3)  # close() comes in here
        answers.append(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])  # raises if closed
        return limit  # "a backlog": only the closing store stops the loop

    monkeypatch.setattr(sqlite_writer, "index_batch", slow_batch)

    async def scenario():
        store = SqliteStore(str(tmp_path / "g.db"))
        await store.record_decisions([_decision("ann@example.com")])  # a serving process: upkeep starts
        assert await asyncio.to_thread(started.wait, 5)
        await store.close()
        assert answers == [1]
        with pytest.raises(StoreError, match="closed"):
            await store.record_decisions([_decision("bob@example.com")])

    run(scenario())
    time.sleep(0.05)
    assert answers == [1]


def test_the_upkeep_outlives_a_busy_round_and_an_unexpected_error(tmp_path, monkeypatch):
    """A burst of writes holding the lock past the index's second of waiting (_Busy), or a bug, once
    ended the upkeep for good: no more checkpoints, and a WAL that grew until the process stopped."""
    calls, real = [], sqlite_writer.index_batch

    def flaky(conn, limit=50):
        calls.append(len(calls))
        if len(calls) == 1:
            raise sqlite_writer._Busy()
        if len(calls) == 2:
            raise RuntimeError("a bug")
        return real(conn, limit)

    monkeypatch.setattr(sqlite_writer, "index_batch", flaky)

    async def scenario():
        store = SqliteStore(str(tmp_path / "g.db"))
        await store.record_decisions([_decision("ann@example.com")])  # a serving process: upkeep starts
        for _ in range(40):
            await asyncio.sleep(0.1)
            if len(calls) >= 4:
                break
        await store.close()

    run(scenario())
    assert len(calls) >= 4  # rounds went on after both


def test_sqlite_close_waits_for_a_write_whose_caller_was_cancelled(tmp_path):
    """A write runs in a worker thread; cancelling the task that awaits it does not stop the thread, and
    a shutdown that cancels it must not close the connection under it: the write commits whole."""
    started = threading.Event()

    def slow_write(conn):
        conn.execute("INSERT INTO probe VALUES (1)")
        started.set()
        time.sleep(0.3)  # cancelled, and close() comes in here
        conn.execute("INSERT INTO probe VALUES (2)")
        return "done"

    async def scenario():
        store = SqliteStore(str(tmp_path / "g.db"))
        store.db.conn.execute("CREATE TABLE probe (x)")
        write = asyncio.ensure_future(store.db.write(slow_write))
        assert await asyncio.to_thread(started.wait, 5)
        write.cancel()
        await store.close()

    run(scenario())
    assert sqlite3.connect(tmp_path / "g.db").execute("SELECT x FROM probe").fetchall() == [(1,), (2,)]


def _watch_syncs(monkeypatch, path, fail=None):
    """Each fdatasync of the WAL, with how many decisions a fresh connection saw committed just before it."""
    syncs, real = [], sqlite_writer._fdatasync

    def watched(wal):
        syncs.append((wal, sqlite3.connect(path).execute("SELECT count(*) FROM decisions").fetchone()[0]))
        if fail:
            raise fail
        real(wal)

    monkeypatch.setattr(sqlite_writer, "_fdatasync", watched)
    return syncs


def test_sqlite_decisions_are_acknowledged_after_a_sync_of_the_wal_that_follows_their_commit(
    tmp_path, monkeypatch
):
    """A message's decisions commit on the event loop without a sync, then wait for one fdatasync of the
    WAL (what synchronous=FULL would do inside the commit); the commits made before a sync starts share it."""
    path = str(tmp_path / "g.db")
    syncs = _watch_syncs(monkeypatch, path)

    async def scenario():
        store = SqliteStore(path)
        await store.record_decisions([_decision("ann@example.com")])
        assert syncs == [(path + "-wal", 1)]  # the commit came first, and record waited for the sync
        await asyncio.gather(*(store.record_decisions([_decision(f"u{i}@example.com")]) for i in range(20)))
        assert syncs[1:] == [(path + "-wal", 21)]  # twenty callers, one sync after all their commits
        await store.close()

    run(scenario())


def test_sqlite_a_failed_sync_is_a_store_error_and_outbox_texts_commit_with_their_own_sync(
    tmp_path, monkeypatch
):
    path = str(tmp_path / "g.db")
    syncs = _watch_syncs(monkeypatch, path, fail=OSError(5, "Input/output error"))
    text = OutboxMessage(
        "SM" + "0" * 32, T0, "acme", "+13055550123", "+15005550006", "20% off", Category.MARKETING, {}
    )

    async def scenario():
        store = SqliteStore(path)
        with pytest.raises(StoreError, match="cannot flush the WAL to the disk: .*Input/output error"):
            await store.record_decisions([_decision("ann@example.com")])
        # a text the outbox would send must not be left committed but unsynced when the client hears of a
        # failure: it commits with synchronous=FULL in the writer's thread, not through this sync
        await store.record_decisions([_decision("bob@example.com")], outbox=[text])
        await store.close()

    run(scenario())
    assert len(syncs) == 1


def test_ids_are_time_ordered_and_unique():
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and ids == sorted(ids)


def test_import_streams_and_counts(store):
    def rows():
        for i in range(50_000):
            yield supp(f"bulk{i}@example.com")
        yield "line 50002: not an address"
        yield supp("bulk7@example.com")

    result = run(store.import_suppressions(rows()))
    assert (result.added, result.skipped, result.rejected) == (50_000, 1, 1)
    assert result.errors == ("line 50002: not an address",)


def test_retries_and_intents_are_answered_alike_by_both_engines(store):
    from dataclasses import replace as changed

    from gateway.model import Category, Decision, Verdict

    def d(did, recipient, verdict, message_id="m1@x", at=T0, digest="d1"):
        return Decision(
            did,
            at,
            Channel.EMAIL,
            "acme",
            recipient,
            Category.MARKETING,
            Verdict(verdict),
            message_id=message_id,
            digest=digest,
        )

    run(
        store.record_decisions(
            [
                d("0001", "a@example.com", "relayed"),
                d("0002", "b@example.com", "failed"),
                d("0003", "c@example.com", "relayed", at=T0 - timedelta(days=3)),
                d("0004", "e@example.com", "relaying", at=T0 - timedelta(minutes=10)),
                d("0005", "f@example.com", "relaying"),
                d("0006", "g@example.com", "relayed", digest="d2"),
            ]
        )
    )
    since = T0 - timedelta(days=1)
    asked = [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "f@example.com",
        "g@example.com",
        "z@example.com",
    ]
    assert run(store.relayed("acme", "m1@x", "d1", asked, since)) == {
        "a@example.com": "relayed",
        "f@example.com": "relaying",
    }
    assert run(store.relayed("acme", "m1@x", "d2", asked, since)) == {"g@example.com": "relayed"}
    assert run(store.relayed("acme", "other@x", "d1", asked, since)) == {}
    assert run(store.relayed("other", "m1@x", "d1", asked, since)) == {}
    assert run(store.settle_intents(T0 - timedelta(minutes=5), "outcome unknown")) == 1
    run(
        store.record_decisions(
            [changed(d("0005", "f@example.com", "relayed"), upstream="250 ok")], replace=True
        )
    )
    found = {x.id: (x.verdict.value, x.upstream, x.message_id) for x in run(store.decisions(10))}
    assert found["0004"] == ("unknown", "outcome unknown", "m1@x")
    assert found["0005"] == ("relayed", "250 ok", "m1@x")
    counts: dict = {}
    for r in run(store.summary()):
        counts[r.verdict] = counts.get(r.verdict, 0) + r.count
    assert counts == {"relayed": 4, "failed": 1, "unknown": 1}  # the intents counted out again


def test_text_no_store_takes_is_made_storable_in_a_decision(store):
    from gateway.model import Category, Decision, Verdict

    odd = Decision(
        "0009",
        T0,
        Channel.EMAIL,
        "acme",
        "a@example.com",
        Category.MARKETING,
        Verdict.REJECTED,
        excerpt="Sale\x00 \udcff now",
        upstream="550 x\x00",
        message_id="id\x00@x",
    )
    run(store.record_decisions([odd]))
    (back,) = run(store.decisions(10))
    assert (back.excerpt, back.upstream, back.message_id) == ("Sale \ufffd now", "550 x", "id@x")


def test_what_must_act_once_is_first_only_once_on_both_engines(store):
    assert run(store.first_time("twilio-sid", "SM1", T0)) is True
    assert run(store.first_time("twilio-sid", "SM1", T0)) is False
    assert run(store.first_time("signed-out", "SM1", T0)) is True  # kinds apart
    assert run(store.seen("twilio-sid", "SM1")) and not run(store.seen("twilio-sid", "SM2"))
    assert run(store.forget_seen("twilio-sid", T0 + timedelta(seconds=1))) == 1
    assert not run(store.seen("twilio-sid", "SM1")) and run(store.seen("signed-out", "SM1"))


def test_a_decision_for_an_erased_address_is_written_erased_on_both_engines(store):
    """A journal moved in after `forget`, or a refusal of an erased address: whoever writes the decision,
    the store writes it as erasure left the others (SQLite in its writer, PostgreSQL in a trigger)."""
    from gateway.model import Category, Decision, Verdict, Violation

    run(store.forget(Channel.EMAIL, "gone@example.com", T0))
    late = Decision(
        "0000000000099aaaaaaaa", T0, Channel.EMAIL, "acme", "gone@example.com", Category.MARKETING,
        Verdict.REJECTED, (Violation("SUPPRESSED", "gone@example.com opted out"),),
        excerpt="Hi gone@example.com", upstream="550 <Gone@Example.com> no",
    )  # fmt: skip
    kept = Decision(
        "0000000000099bbbbbbbb",
        T0,
        Channel.EMAIL,
        "acme",
        "kept@example.com",
        Category.MARKETING,
        Verdict.RELAYED,
        excerpt="Spring",
    )
    run(store.record_decisions([late, kept]))
    run(store.record_decisions([late], replace=True))  # the upsert path too
    found = {d.id: d for d in run(store.decisions(10))}
    erased = found["0000000000099aaaaaaaa"]
    assert erased.recipient == f"sha256:{address_hash('gone@example.com')}"
    assert (erased.excerpt, erased.upstream) == ("", "")
    assert [(v.code, v.message) for v in erased.violations] == [("SUPPRESSED", "")]
    assert found["0000000000099bbbbbbbb"].recipient == "kept@example.com"


def test_forget_takes_the_address_out_of_other_peoples_subjects_and_any_case(store):
    from gateway.model import Category, Decision, Verdict

    mine = Decision("0000000000098aaaaaaaa", T0, Channel.EMAIL, "acme", "dee@example.com", Category.MARKETING,
                    Verdict.FAILED, upstream="550 5.1.1 <Dee@Example.COM>: unknown")  # fmt: skip
    theirs = Decision("0000000000098bbbbbbbb", T0, Channel.EMAIL, "acme", "bob@example.com", Category.MARKETING,
                      Verdict.RELAYED, excerpt="Bob, DEE@example.com says hi")  # fmt: skip
    run(store.record_decisions([mine, theirs]))
    run(store.forget(Channel.EMAIL, "dee@example.com", T0))
    found = {d.id: d for d in run(store.decisions(10))}
    assert "dee@example.com" not in found["0000000000098aaaaaaaa"].upstream.lower()
    assert found["0000000000098bbbbbbbb"].excerpt == "Bob, [erased] says hi"
