"""With the store unreachable the SMTP door never passes mail without its facts: 451 4.3.0 at RCPT."""

from __future__ import annotations


import aiosmtplib
import pytest

from gateway import config as config_module
from gateway.server import Gateway
from gateway.store import StoreError
from helpers import REPO
from servers import free_port


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
    text = (REPO / "config" / "gateway.toml").read_text()
    text = text.replace('listen = "127.0.0.1:2525"', f'listen = "127.0.0.1:{port}"')
    text = text.replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{free_port()}"')
    text = text.replace('sqlite:///var/gateway.db', f'sqlite:///{tmp_path}/g.db')
    text = text.replace('maildir:var/outbox', f'maildir:{tmp_path}/outbox')
    text = text.replace('[gateway]', f'[gateway]\nstate_dir = "{tmp_path}/state"', 1)
    (tmp_path / "g.toml").write_text(text)
    config = config_module.load(str(tmp_path / "g.toml"))
    gateway = Gateway(config)
    gateway.handler.store = BrokenStore(gateway.store)
    await gateway.start()
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        await client.login("demo", "demo-smtp-password")
        await client.mail("news@news.demo.example")
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await client.rcpt("reader@example.com")
        assert (refused.value.code, refused.value.message) == (451, "4.3.0 Compliance store unavailable, try again later")
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
    d = Decision("0001", datetime(2026, 5, 5, tzinfo=UTC), Channel.EMAIL, "demo", "a@example.com",
                 Category.MARKETING, Verdict.RELAYED, (), "Hi", 10, "250 ok")
    await log.record([d])  # returns: durable in the journal
    assert (tmp_path / "decisions.journal").exists()
    assert await DecisionLog(real, tmp_path / "decisions.journal").replay_journal() == 1
    assert await DecisionLog(real, tmp_path / "decisions.journal").replay_journal() == 0
    assert [x.id for x in await real.decisions()] == ["0001"]
    await real.close()
