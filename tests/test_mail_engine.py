"""The email engine alone (gateway/mail/engine.py), with a relay that misbehaves on demand: what it answers
when the upstream goes away in the middle of a transaction, when mail to its own addresses carries a
malformed report, and how long its refusals can be."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from helpers import REPO, shipped_config
from servers import free_port

from gateway import config as config_module
from gateway.decisions import DecisionLog
from gateway.lists import Lists
from gateway.mail.actions import REPLY_TEXT, fitted
from gateway.mail.engine import Client, Delivery, EmailEngine
from gateway.mail.upstream import Reply, UpstreamUnavailable
from gateway.model import Channel
from gateway.store.sqlite import SqliteStore
from gateway.tokens import TokenSigner

SAMPLE = (REPO / "config" / "samples" / "newsletter.eml").read_bytes().replace(b"\n", b"\r\n")


class FlakyTransaction:
    def __init__(self, relay: FlakyRelay) -> None:
        self.relay, self.recipients, self.done = relay, [], False

    async def add_recipient(self, address: str, options: Sequence[str]) -> Reply:
        if address in self.relay.lost_at:
            self.done = True
            raise UpstreamUnavailable("timed out")
        self.recipients.append(address)
        return Reply(250, "2.1.5 OK")

    async def send(self, data: bytes) -> Reply:
        self.relay.delivered.append(list(self.recipients))
        self.done = True
        return Reply(250, "2.0.0 queued")

    async def abort(self) -> None:
        self.done = True


class FlakyRelay:
    """Loses its connection when asked about one of `lost_at`; records what it delivered."""

    def __init__(self, *lost_at: str) -> None:
        self.lost_at, self.delivered = set(lost_at), []

    async def begin(self, mail_from: str, options: Sequence[str]) -> FlakyTransaction:
        return FlakyTransaction(self)

    async def close(self) -> None:
        return None


def _engine(tmp_path, relay, category: str = "transactional") -> tuple[EmailEngine, SqliteStore, DecisionLog]:
    text = shipped_config(tmp_path, free_port(), free_port())
    (tmp_path / "g.toml").write_text(text.replace('category = "marketing"', f'category = "{category}"', 1))
    config = config_module.load(str(tmp_path / "g.toml"))
    store = SqliteStore(str(tmp_path / "g.db"))
    decisions = DecisionLog(store, tmp_path / "journal")
    signer = TokenSigner([b"test-token-secret-0123456789"])
    engine = EmailEngine(config, store, Delivery(relay, decisions, signer, Lists(store, config.senders)))
    return engine, store, decisions


def test_an_upstream_lost_mid_transaction_takes_the_recipients_it_had_with_it(tmp_path):
    """a is accepted, the upstream goes away at b: c must not be taken into a new upstream transaction,
    and DATA must not be acknowledged for a, which the upstream no longer has."""

    async def go():
        relay = FlakyRelay("b@example.com")
        engine, store, decisions = _engine(tmp_path, relay)
        client = Client(sender="demo", peer="127.0.0.1", authenticated=True)
        _, tx = engine.mail(client, "orders@news.demo.example", [])
        answers = [
            (await engine.recipient(tx, a, [])).code
            for a in ("a@example.com", "b@example.com", "c@example.com")
        ]
        data = await engine.message(tx, SAMPLE)
        await decisions.flush()
        relayed = [d for d in await store.decisions(10) if d.verdict.value == "relayed"]
        await store.close()
        return answers, data, relay.delivered, relayed

    answers, data, delivered, relayed = asyncio.run(go())
    assert answers == [250, 451, 451]
    assert data.code == 451 and data.text.startswith("4.4.1")  # the client sends it all again later
    assert delivered == [] and relayed == []


def test_an_upstream_lost_before_anything_was_accepted_is_opened_again_for_the_next_recipient(tmp_path):
    async def go():
        relay = FlakyRelay("a@example.com")
        engine, store, decisions = _engine(tmp_path, relay)
        _, tx = engine.mail(Client(sender="demo", authenticated=True), "orders@news.demo.example", [])
        answers = [(await engine.recipient(tx, a, [])).code for a in ("a@example.com", "b@example.com")]
        data = await engine.message(tx, SAMPLE)
        await decisions.flush()
        await store.close()
        return answers, data, relay.delivered

    answers, data, delivered = asyncio.run(go())
    assert answers == [451, 250] and data.code == 250 and delivered == [["b@example.com"]]


def test_a_malformed_report_to_the_bounce_address_is_answered_and_changes_nothing(tmp_path):
    """A DSN whose Status line runs on for hundreds of characters and names a non-address (anyone can send
    one) gets 250, not an error forever; it refers to nothing the gateway relayed, so it changes nothing,
    and what is kept of it (for the console) is cut to size, without the stranger's Status text."""
    status = "5.1.1 " + "x" * 300
    report = (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: bounces@localhost\r\nSubject: failure\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: {status}\r\n\r\n"
        "Final-Recipient: rfc822; not an address\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
    ).encode()

    async def go():
        engine, store, _ = _engine(tmp_path, FlakyRelay())
        _, tx = engine.mail(Client(sender=None, peer="192.0.2.9"), "", [])
        assert (await engine.recipient(tx, "bounces@localhost", [])).code == 250
        answer = await engine.message(tx, report)
        entries = [s async for s in store.suppressions(Channel.EMAIL)]
        kept = await store.audit_log(actions=["report.unverified"])
        await store.close()
        return answer, entries, kept

    answer, entries, kept = asyncio.run(go())
    assert answer.code == 250 and answer.text == "2.0.0 Received: bounce"  # the same whatever it changed
    assert entries == []
    (entry,) = kept
    assert "[192.0.2.9]" in entry.detail and "x" * 20 not in entry.detail and len(entry.detail) <= 200


def test_a_refusal_names_every_code_and_fits_in_an_smtp_reply():
    found = [(f"CODE_{i}", "a reason that goes on " * 30) for i in range(8)]
    line = fitted("5.7.1 Rejected: ", found, ": %s")
    assert len(line.encode()) <= REPLY_TEXT and all(f"CODE_{i}" in line for i in range(8))
    short = [("SUPPRESSED", "opted out 2026-05-01 via unsubscribe")]
    assert fitted("5.7.1 <a@b.example> rejected: ", short, " (%s)") == (
        "5.7.1 <a@b.example> rejected: SUPPRESSED (opted out 2026-05-01 via unsubscribe)"
    )
