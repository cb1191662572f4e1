"""Postfix 3.7 relaying to the gateway (issue 21), as a company would put it in front: its own Postfix takes
the mail and relays everything to the gateway over STARTTLS with SASL (and `AUTH=<>` on MAIL FROM), and the
gateway relays to an upstream that wants STARTTLS and a login too. What the tests read is what its users
see: Postfix's log (status=sent, bounced, deferred and the reason) and the mail that arrives."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from helpers import run_cli, self_signed_certificate
from postfix_relay import PostfixRelay
from servers import GatewayProcess, Sink, free_port
from test_smtp import CONFIG, ENV, PASSWORD, SAMPLE

UPSTREAM_LOGIN = ("relayuser", "relay-pass-123")
FROM = "news@news.demo.example"


def newsletter(message_id: str) -> bytes:
    """The compliant sample newsletter, with a Message-ID of its own (the gateway remembers what it relayed
    by Message-ID, subject, body and recipient)."""
    return SAMPLE.replace(b"<spring-2026@news.demo.example>", f"<{message_id}@news.demo.example>".encode())


def people(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02d}@example.com" for i in range(n)]


class Stack:
    """A Postfix instance relaying to `gateway serve` (STARTTLS, AUTH only after it, the acme sender's
    login), relaying to tests/smtp_sink.py (STARTTLS and a login too, and `sink_args`)."""

    def __init__(self, tmp: Path, certificate: tuple[Path, Path], *sink_args: str) -> None:
        cert, key = certificate
        self.tmp, self.upstream_port = tmp, free_port()
        self.sink_tls = ("--tls-cert", str(cert), "--tls-key", str(key), "--auth", ":".join(UPSTREAM_LOGIN))
        self.sink = Sink(tmp / "sink", self.upstream_port, *self.sink_tls, *sink_args)
        self.gateway_port = port = free_port()
        self.config = tmp / "gateway.toml"
        smtp_extra = (
            f'tls_cert = "{cert}"\ntls_key = "{key}"\nallow_plaintext_auth = false\n'
            'upstream_password_env = "RELAY_PASSWORD"\nupstream_verify_tls = false'
        )
        text = CONFIG.format(
            http_port=free_port(), tmp=tmp, port=port, upstream=self.upstream_port, smtp_extra=smtp_extra
        )
        self.config.write_text(
            text.replace(
                f"smtp://127.0.0.1:{self.upstream_port}", f"smtp://relayuser@127.0.0.1:{self.upstream_port}"
            )
        )
        self.postfix = PostfixRelay(
            free_port(), port, tls=True, sasl=("acme", PASSWORD), keep_log=tmp / "postfix.log"
        )
        self.gateway: GatewayProcess | None = None
        try:
            self.gateway = GatewayProcess(
                self.config, port, tmp, {**ENV, "RELAY_PASSWORD": UPSTREAM_LOGIN[1]}
            )
            self.postfix.start()
        except BaseException:
            self.close()
            raise

    def arrived(self, message_id: str) -> list[tuple[dict, bytes]]:
        """What the upstream took of one message: (envelope, bytes) per copy."""
        mid = f"<{message_id}@news.demo.example>".encode()
        return [(e, d) for e, d in self.sink.messages() if mid in d.split(b"\r\n\r\n", 1)[0]]

    def restart_sink(self, *sink_args: str) -> None:
        self.sink.stop()
        self.sink = Sink(self.tmp / "sink", self.upstream_port, *self.sink_tls, *sink_args)

    def close(self) -> None:
        self.postfix.stop()
        self.sink.stop()
        if self.gateway is not None:
            assert self.gateway.stop() == 0, self.gateway.output()[-3000:]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, certificate):
    """One stack for the tests that leave nothing in Postfix's queue (each sends its own messages)."""
    s = Stack(tmp_path_factory.mktemp("stack"), certificate)
    yield s
    s.close()


def head(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")


def field(data: bytes, name: bytes) -> list[bytes]:
    return [
        line.split(b":", 1)[1].strip()
        for line in head(data).split(b"\r\n")
        if line.lower().startswith(name.lower() + b":")
    ]


def token(data: bytes) -> bytes:
    (value,) = field(data, b"List-Unsubscribe")
    found = re.search(rb"<https://gw\.example/unsubscribe/([A-Za-z0-9_-]+)>", value)
    assert found, value
    return found.group(1)


def test_a_newsletter_goes_through_postfix_over_starttls_with_sasl_and_dummy_mail_auth(stack):
    """One recipient: Postfix logs status=sent with the gateway's 250; the gateway saw TLS and a login
    (ESMTPSA in its Received), took Postfix's `AUTH=<>` (passed on upstream as such, which the gateway does
    only when its client wrote one), and added its one-click unsubscribe headers."""
    mta = stack.postfix
    before = len(mta.log())
    queue_id = mta.submit(FROM, ["reader@example.com"], newsletter("single"))
    (sent,) = mta.wait_for(queue_id, ["reader@example.com"]).values()
    assert (sent.status, sent.dsn) == ("sent", "2.0.0") and sent.reason.startswith(
        "250 2.0.0 Accepted upstream"
    )
    log = mta.log()[before:]
    assert f"Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:{stack.gateway_port}" in log
    ((envelope, data),) = stack.arrived("single")
    assert envelope["rcpt_tos"] == ["reader@example.com"] and envelope["mail_from"] == FROM
    assert "AUTH=<>" in envelope["mail_options"]
    assert envelope["tls"] and envelope["authenticated_as"] == "relayuser"
    assert token(data) and field(data, b"List-Unsubscribe-Post") == [b"List-Unsubscribe=One-Click"]
    received = field(data, b"Received")
    assert "(Postfix) with ESMTP id " + queue_id in received[1].decode()  # Postfix's own, under the gateway's
    assert b"(compliance-gateway) with ESMTPSA" in received[0]
    # no refusal, no SASL or TLS trouble anywhere on the way
    assert not re.search(r"said: 5\d\d|SASL|warning: |error: |fatal: ", log), log


def test_fifty_recipients_are_delivered_in_one_queue_run_each_with_its_own_link(stack):
    """Postfix sends the 50 in one transaction (smtp_destination_recipient_limit 50, its default); the
    gateway takes every recipient, fans the message out into 50 upstream copies, and answers once: all 50
    are status=sent on the first attempt, none deferred."""
    mta, everyone = stack.postfix, people("fan", 50)
    start = time.monotonic()
    queue_id = mta.submit(FROM, everyone, newsletter("fifty"))
    done = mta.wait_for(queue_id, everyone, timeout=30)
    elapsed = time.monotonic() - start
    attempts = mta.deliveries(queue_id)
    assert len(attempts) == 50 and {d.status for d in attempts} == {"sent"}, attempts
    assert len({d.reason for d in done.values()}) == 1  # one DATA reply for all of them: one transaction
    copies = stack.arrived("fifty")
    assert sorted(e["rcpt_tos"][0] for e, _ in copies) == everyone
    assert all(len(e["rcpt_tos"]) == 1 for e, _ in copies)
    assert len({token(d) for _, d in copies}) == 50  # each copy its own recipient's unsubscribe token
    assert elapsed < 30


def test_a_message_the_gateway_refuses_bounces_with_the_rule(stack):
    mta, readers = stack.postfix, people("bad", 2)
    bad = newsletter("no-address").replace(b"123 Main St, Suite 4", b"Somewhere")
    queue_id = mta.submit(FROM, readers, bad)
    bounced = mta.wait_for(queue_id, readers)
    for d in bounced.values():
        assert (d.status, d.dsn) == ("bounced", "5.7.1"), d
        assert "said: 550 5.7.1 Rejected: CANSPAM_PHYSICAL_ADDRESS: " in d.reason
        assert d.reason.endswith("(in reply to end of DATA command)")
    assert f"{queue_id}: sender non-delivery notification: " in mta.log()  # the sender hears why
    assert stack.arrived("no-address") == []


def test_a_suppressed_recipient_bounces_alone_and_the_others_are_delivered(stack):
    mta = stack.postfix
    code, _, err = run_cli("suppress", "add", "--config", str(stack.config), "gone@example.com",
                           "--channel", "email", "--sender", "acme", "--reason", "unsubscribe")  # fmt: skip
    assert code == 0, err
    readers = ["stay1@example.com", "gone@example.com", "stay2@example.com"]
    queue_id = mta.submit(FROM, readers, newsletter("some-gone"))
    result = mta.wait_for(queue_id, readers)
    gone = result.pop("gone@example.com")
    assert (gone.status, gone.dsn) == ("bounced", "5.7.1")
    assert "said: 550 5.7.1 <gone@example.com> rejected: SUPPRESSED (opted out " in gone.reason
    assert gone.reason.endswith("(in reply to RCPT TO command)")
    assert {d.status for d in result.values()} == {"sent"}
    copies = stack.arrived("some-gone")
    assert sorted(e["rcpt_tos"][0] for e, _ in copies) == ["stay1@example.com", "stay2@example.com"]


def test_a_temporary_refusal_upstream_is_deferred_then_delivered_once_on_a_flush(tmp_path, certificate):
    stack = Stack(tmp_path, certificate, "--data-reply", "451 4.3.0 Queue full, try later")
    try:
        mta, readers = stack.postfix, people("later", 3)
        queue_id = mta.submit(FROM, readers, newsletter("later"))
        for d in mta.wait_for(queue_id, readers, statuses=["deferred"]).values():
            assert d.reason.startswith("host 127.0.0.1[127.0.0.1] said: 451 4.3.0 "), d
            assert d.reason.endswith("(in reply to end of DATA command)")
        assert queue_id in mta.mailq() and mta.queued() == 1
        assert stack.arrived("later") == []
        stack.restart_sink()  # the upstream has room again
        mta.flush()
        for d in mta.wait_for(queue_id, readers).values():
            assert d.status == "sent", d
        mta.wait_until_empty()
        mta.flush()  # nothing left to send again
        time.sleep(0.5)
        copies = stack.arrived("later")
        assert sorted(e["rcpt_tos"][0] for e, _ in copies) == readers  # each once
        assert [d.status for d in mta.deliveries(queue_id)] == ["deferred"] * 3 + ["sent"] * 3
    finally:
        stack.close()


def test_a_copy_refused_for_good_among_delivered_ones_is_reported_not_bounced_for_all(tmp_path, certificate):
    """The upstream refuses one recipient's copy at DATA: Postfix must not bounce the two who received
    the message; the gateway accepts it and sends the envelope sender an RFC 3464 report for the third."""
    stack = Stack(tmp_path, certificate, "--refuse-data", "part01")
    try:
        mta, readers = stack.postfix, people("part", 3)
        queue_id = mta.submit(FROM, readers, newsletter("partly"))
        assert {r: d.status for r, d in mta.wait_for(queue_id, readers).items()} == dict.fromkeys(
            readers, "sent"
        )
        copies = stack.arrived("partly")
        assert sorted(e["rcpt_tos"][0] for e, _ in copies) == ["part00@example.com", "part02@example.com"]
        reports = [d for e, d in stack.sink.messages() if e["rcpt_tos"] == [FROM]]
        assert len(reports) == 1 and b"Final-Recipient: rfc822; part01@example.com" in reports[0]
        assert b"report-type=delivery-status" in reports[0]
    finally:
        stack.close()
