"""With the store unreachable the SMTP door never passes mail without its facts: 451 4.3.0 at RCPT."""

from __future__ import annotations

import aiosmtplib
import pytest
from helpers import shipped_config
from servers import free_port

from gateway import config as config_module
from gateway.server import Gateway
from gateway.store import StoreError


class BrokenStore:
    """Stands in for a store whose database went away."""

    def __init__(self, real) -> None:
        self.real = real

    async def facts(self, *args, **kwargs):
        raise StoreError("database is locked")

    async def record_decisions(self, decisions, replace=False, **more):
        raise StoreError("database is locked")

    def __getattr__(self, name):
        return getattr(self.real, name)


async def test_store_down_means_451_and_nothing_relayed(tmp_path, monkeypatch):
    port = free_port()
    (tmp_path / "g.toml").write_text(shipped_config(tmp_path, port, free_port()))
    config = config_module.load(str(tmp_path / "g.toml"))
    gateway = Gateway(config)
    gateway.mail.pipeline.store = BrokenStore(gateway.store)
    await gateway.start()
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        await client.login("demo", "demo-smtp-password")
        await client.mail("news@news.demo.example")
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await client.rcpt("reader@example.com")
        assert (refused.value.code, refused.value.message) == (
            451,
            "4.3.0 Compliance store unavailable, try again later",
        )
        await client.quit()
    finally:
        await gateway.stop()
    assert not list((tmp_path / "outbox" / "new").iterdir())


async def test_decisions_journaled_when_the_store_fails_after_delivery(tmp_path):
    from datetime import UTC, datetime

    from gateway.decisions import DecisionLog
    from gateway.model import Category, Channel, Decision, Verdict
    from gateway.store.sqlite import SqliteStore

    real = SqliteStore(str(tmp_path / "d.db"))
    log = DecisionLog(BrokenStore(real), tmp_path / "decisions.journal")
    d = Decision(
        "0001",
        datetime(2026, 5, 5, tzinfo=UTC),
        Channel.EMAIL,
        "demo",
        "a@example.com",
        Category.MARKETING,
        Verdict.RELAYED,
        (),
        "Hi",
        10,
        "250 ok",
    )
    await log.record([d])  # returns: durable in the journal
    assert (tmp_path / "decisions.journal").exists()
    assert await DecisionLog(real, tmp_path / "decisions.journal").replay_journal() == 1
    assert await DecisionLog(real, tmp_path / "decisions.journal").replay_journal() == 0
    assert [x.id for x in await real.decisions()] == ["0001"]
    await real.close()


def _decision(did: str, recipient: str = "a@example.com"):
    from datetime import UTC, datetime

    from gateway.model import Category, Channel, Decision, Verdict

    return Decision(
        did,
        datetime(2026, 5, 5, tzinfo=UTC),
        Channel.EMAIL,
        "demo",
        recipient,
        Category.MARKETING,
        Verdict.RELAYED,
        (),
        "Hi",
        10,
        "250 ok",
    )


class FlakyStore(BrokenStore):
    """Down until `up` is set: then the real store again."""

    up = False

    async def record_decisions(self, decisions, replace=False, **more):
        if not self.up:
            raise StoreError("connection refused")
        return await self.real.record_decisions(decisions, replace, **more)


async def test_journaled_decisions_move_into_the_store_as_soon_as_it_answers_again(tmp_path):
    from gateway.decisions import DecisionLog
    from gateway.store.sqlite import SqliteStore

    real = SqliteStore(str(tmp_path / "d.db"))
    flaky = FlakyStore(real)
    log = DecisionLog(flaky, tmp_path / "decisions.journal")
    await log.record([_decision("0001")])
    await log.record([_decision("0002")])
    assert (tmp_path / "decisions.journal").exists() and await real.decisions() == []
    flaky.up = True
    await log.record([_decision("0003")])  # the first write that works takes the journal along
    assert not (tmp_path / "decisions.journal").exists()
    assert sorted(x.id for x in await real.decisions()) == ["0001", "0002", "0003"]
    await real.close()


async def test_a_journal_torn_by_a_crash_keeps_its_whole_lines_and_damage_is_refused(tmp_path, caplog):
    import json

    from gateway.decisions import DecisionLog
    from gateway.store.base import decision_row
    from gateway.store.sqlite import SqliteStore

    real = SqliteStore(str(tmp_path / "d.db"))
    journal = tmp_path / "decisions-1.journal"
    whole = json.dumps(decision_row(_decision("0001"), ""))
    journal.write_text(whole + "\n" + whole[:40])  # the crash cut the second write off before its fsync
    assert await DecisionLog(real, journal).replay_journal() == 1
    assert "torn last line" in caplog.text and not journal.exists()
    journal.write_text(whole[:40] + "\n" + whole + "\n")  # not a torn end: damage, left for a person
    with pytest.raises(ValueError, match="line 1"):
        await DecisionLog(real, journal).replay_journal()
    assert journal.exists()
    await real.close()


async def test_journals_left_by_an_earlier_run_are_moved_in_before_the_workers_start(tmp_path):
    import json

    from gateway.server import ServeError, prepare_store
    from gateway.store import open_store
    from gateway.store.base import decision_row

    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "g.toml").write_text(
        f'[gateway]\ndatabase = "sqlite:///{tmp_path}/g.db"\nstate_dir = "{state}"\n'
    )
    config = config_module.load(str(tmp_path / "g.toml"))
    for pid, did in ((101, "0001"), (102, "0002")):  # two workers of the run before
        (state / f"decisions-{pid}.journal").write_text(json.dumps(decision_row(_decision(did), "")) + "\n")
    await prepare_store(config)
    store = open_store(config.database)
    assert sorted(d.id for d in await store.decisions()) == ["0001", "0002"]
    await store.close()
    assert not list(state.glob("*.journal"))
    (state / "decisions-103.journal").write_text(
        "{not json\n" + json.dumps(decision_row(_decision("3"), "")) + "\n"
    )
    with pytest.raises(ServeError, match="decisions-103.journal.*line 1"):
        await prepare_store(config)
