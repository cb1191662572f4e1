"""The SMTP door end to end: smtplib and swaks against `gateway serve`, relaying to a real upstream process."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest
from helpers import ACME_SENDER, ACME_TX_SENDER, REPO, run_cli
from servers import GatewayProcess, Sink, free_port, wait_until

from gateway.store.sqlite import SqliteStore

SAMPLE = (REPO / "config" / "samples" / "newsletter.eml").read_bytes().replace(b"\n", b"\r\n")
PASSWORD = "acme-smtp-secret-1"
ENV = {
    "ACME_SMTP_PASSWORD": PASSWORD,
    "TX_SMTP_PASSWORD": PASSWORD,
    "MON_SMTP_PASSWORD": PASSWORD,
    "GATEWAY_TOKEN_SECRET": "test-token-secret-0123456789",
}

CONFIG = (
    """
[gateway]
database = "sqlite:///{tmp}/gateway.db"
state_dir = "{tmp}/state"
public_url = "https://gw.example"

[smtp]
listen = "127.0.0.1:{port}"
upstream = "smtp://127.0.0.1:{upstream}"
max_message_size = 200000
upstream_timeout = 5
upstream_data_timeout = 5
drain_seconds = 20
{smtp_extra}

[http]
listen = "127.0.0.1:{http_port}"

"""
    + ACME_SENDER
    + "\n"
    + ACME_TX_SENDER
    + """
[[sender]]
name = "watched"
brand = "Demo Outfitters"
physical_address = "123 Main St, Suite 4, Springfield, IL 62701"
from_domains = ["news.demo.example"]
mode = "monitor"
smtp_username = "watched"
smtp_password_env = "MON_SMTP_PASSWORD"
"""
)

RECEIPT = (
    b"From: Demo <orders@news.demo.example>\r\nTo: a@example.com\r\nSubject: Your order 1001\r\n"
    b"X-Gateway-Note: internal\r\n  continued\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    + "Thanks for your order \u2014 caf\u00e9 cr\u00e8me, 2 \u00d7 \u20ac4.\r\n.leading dot\r\n"
    "..two dots\r\n\r\n".encode()
)


class Setup:
    def __init__(
        self, tmp: Path, smtp_extra: str = "", sink_args: tuple[str, ...] = (), start_sink: bool = True
    ):
        self.tmp = tmp
        self.port = free_port()
        self.upstream_port = free_port()
        self.sink = Sink(tmp / "sink", self.upstream_port, *sink_args) if start_sink else None
        self.config = tmp / "gateway.toml"
        self.config.write_text(
            CONFIG.format(
                http_port=free_port(),
                tmp=tmp,
                port=self.port,
                upstream=self.upstream_port,
                smtp_extra=smtp_extra,
            )
        )
        self.gateway = GatewayProcess(self.config, self.port, tmp, ENV)

    def client(self, user: str | None = "acme") -> smtplib.SMTP:
        c = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        if user:
            c.login(user, PASSWORD)
        return c

    def cli(self, *args: str) -> str:
        code, out, err = run_cli(*args[:2], "--config", str(self.config), *args[2:])
        assert code == 0, err
        return out

    def decisions(self, count: int | None = None):
        """The decisions in the store; with `count`, once that many are there (refusals are written
        right after the reply, not before it)."""
        if count is not None:
            wait_until(lambda: len(self.decisions()) >= count)
        store = SqliteStore(str(self.tmp / "gateway.db"))
        try:
            return asyncio.run(store.decisions(1000))
        finally:
            asyncio.run(store.close())

    def close(self):
        if self.sink:
            self.sink.stop()
        return self.gateway.stop()


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path)
    yield setup
    setup.close()


def test_compliant_mail_is_relayed_with_body_bytes_unchanged(gw):
    with gw.client() as c:
        refused = c.sendmail("news@news.demo.example", ["reader@example.com"], SAMPLE)
    assert refused == {}
    ((envelope, data),) = gw.sink.messages()
    assert envelope["rcpt_tos"] == ["reader@example.com"]
    head, _, body = data.partition(b"\r\n\r\n")
    assert body == SAMPLE.partition(b"\r\n\r\n")[2]  # the sample is CRLF, as sent over SMTP
    assert head.startswith(b"Received: from ")
    assert b"List-Unsubscribe: <https://gw.example/unsubscribe/" in head
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in head
    (decision,) = gw.decisions()
    assert (decision.recipient, decision.verdict.value, decision.sender) == (
        "reader@example.com",
        "relayed",
        "acme",
    )
    assert "SINK1" in decision.upstream


def test_utf8_and_8bit_bodies_and_dot_lines_arrive_byte_exact(gw):
    with gw.client("acme-tx") as c:
        c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT)
    ((_, data),) = gw.sink.messages()
    original_body = RECEIPT.partition(b"\r\n\r\n")[2]
    assert data.partition(b"\r\n\r\n")[2] == original_body
    assert b"X-Gateway-Note" not in data and b"continued" not in data
    assert b"Subject: Your order 1001" in data


def test_smtputf8_recipient(gw):
    with gw.client("acme-tx") as c:
        c.ehlo()
        refused = c.sendmail(
            "orders@news.demo.example", ["j\u00f6rg@b\u00fccher.example"], RECEIPT, mail_options=["SMTPUTF8"]
        )
    assert refused == {}
    ((envelope, _),) = gw.sink.messages()
    assert envelope["rcpt_tos"] == ["j\u00f6rg@b\u00fccher.example"]


def test_no_open_relay(gw):
    with smtplib.SMTP("127.0.0.1", gw.port) as c:
        _code, msg = c.ehlo()
        assert b"AUTH" in msg and b"PIPELINING" in msg and b"SIZE 200000" in msg and b"8BITMIME" in msg
        assert c.mail("news@news.demo.example")[0] == 250  # the gateway's own addresses take mail from anyone
        assert c.rcpt("reader@example.com") == (530, b"5.7.0 Authentication required")
        c.rset()
        with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
            c.login("acme", "not-the-password")
        assert wrong.value.smtp_code == 535
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login("nobody", PASSWORD)
        assert c.mail("news@news.demo.example")[0] == 250
        assert c.rcpt("reader@example.com")[0] == 530
    assert gw.sink.messages() == []


def test_recipients_refused_one_by_one_with_the_rule(gw):
    gw.cli(
        "suppress",
        "add",
        "gone@example.com",
        "--channel",
        "email",
        "--sender",
        "acme-tx",
        "--reason",
        "unsubscribe",
    )
    gw.cli("suppress", "add", "bounced@example.com", "--channel", "email", "--global", "--reason", "bounce")
    with gw.client("acme-tx") as c:
        c.ehlo()
        assert c.mail("orders@news.demo.example")[0] == 250
        assert c.rcpt("ok@example.com")[0] == 250
        code, text = c.rcpt("bounced@example.com")
        assert code == 550 and text.startswith(
            b"5.7.1 <bounced@example.com> rejected: SUPPRESSED (suppressed "
        )
        code, text = c.rcpt("bad@@example.com")
        assert code == 553  # not even an address: refused by the SMTP parser
        code, text = c.rcpt("bad@nodot")
        assert (
            code == 550
            and text
            == b"5.7.1 <bad@nodot> rejected: INVALID_RECIPIENT ('bad@nodot' is not a valid email address)"
        )
        assert c.rcpt("gone@example.com")[0] == 250  # an unsubscribe does not stop receipts
        code, _ = c.data(RECEIPT)
        assert code == 250
    ((envelope, _),) = gw.sink.messages()
    assert envelope["rcpt_tos"] == ["ok@example.com", "gone@example.com"]
    verdicts = sorted((d.recipient, d.verdict.value) for d in gw.decisions(4))
    assert verdicts == [
        ("bad@nodot", "rejected"),
        ("bounced@example.com", "rejected"),
        ("gone@example.com", "relayed"),
        ("ok@example.com", "relayed"),
    ]


def test_marketing_opt_out_refused_at_rcpt_with_spec_text(gw):
    gw.cli(
        "suppress",
        "add",
        "gone@example.com",
        "--channel",
        "email",
        "--sender",
        "acme",
        "--reason",
        "unsubscribe",
    )
    with gw.client() as c:
        c.ehlo()
        c.mail("news@news.demo.example")
        code, text = c.rcpt("gone@example.com")
    day = gw.decisions(1)[0].at.date().isoformat()
    assert code == 550
    assert text.decode() == f"5.7.1 <gone@example.com> rejected: SUPPRESSED (opted out {day} via unsubscribe)"


def test_pipelined_transaction_with_some_recipients_refused(gw):
    gw.cli("suppress", "add", "x2@example.com", "--channel", "email", "--global", "--reason", "complaint")
    with gw.client("acme-tx") as c:
        c.ehlo()
        assert c.has_extn("pipelining")
        refused = c.sendmail("orders@news.demo.example", [f"x{i}@example.com" for i in range(1, 5)], RECEIPT)
    assert set(refused) == {"x2@example.com"} and refused["x2@example.com"][0] == 550
    ((envelope, _),) = gw.sink.messages()
    assert envelope["rcpt_tos"] == ["x1@example.com", "x3@example.com", "x4@example.com"]
    # raw pipelining: every command written at once, the replies read afterwards
    with gw.client("acme-tx") as c:
        c.ehlo()
        c.send(
            b"MAIL FROM:<orders@news.demo.example>\r\nRCPT TO:<p1@example.com>\r\nRCPT TO:<x2@example.com>\r\n"
            b"RCPT TO:<p2@example.com>\r\nDATA\r\n"
        )
        codes = [c.getreply()[0] for _ in range(5)]
        assert codes == [250, 250, 550, 250, 354]
        c.send(RECEIPT + b".\r\n")
        assert c.getreply()[0] == 250
    assert gw.sink.messages()[-1][0]["rcpt_tos"] == ["p1@example.com", "p2@example.com"]


def test_a_multi_line_reply_is_written_at_once(gw):
    """EHLO's lines go out in one write: the first read after EHLO holds the whole reply, last line too."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        assert s.recv(4096).startswith(b"220 ")
        s.sendall(b"EHLO client.example\r\n")
        reply = s.recv(65536)
    lines = reply.decode().split("\r\n")
    assert (
        lines[-1] == ""
        and lines[-2].startswith("250 ")
        and all(line.startswith("250-") for line in lines[:-2])
    )
    assert any("PIPELINING" in line for line in lines)


def test_marketing_mail_to_several_recipients_goes_as_one_copy_each(gw):
    """Fan-out: every recipient taken in one transaction, one upstream copy per recipient, each with its own
    unsubscribe link and a Received naming its recipient; a retry sends none of them again."""
    import re

    people = [f"r{i}@example.com" for i in range(1, 6)]
    with gw.client() as c:
        assert c.sendmail("news@news.demo.example", people, SAMPLE) == {}
    copies = gw.sink.messages()
    assert sorted(r for e, _ in copies for r in e["rcpt_tos"]) == people and all(
        len(e["rcpt_tos"]) == 1 for e, _ in copies
    )
    links = set()
    for envelope, data in copies:
        head = data.split(b"\r\n\r\n", 1)[0]
        assert f"for <{envelope['rcpt_tos'][0]}>".encode() in head
        links.add(re.search(rb"/unsubscribe/([A-Za-z0-9_-]+)", head).group(1))
    assert len(links) == 5  # one token each
    with gw.client() as c:  # sent again (the client never heard the 250, say)
        assert c.sendmail("news@news.demo.example", people, SAMPLE) == {}
    assert len(gw.sink.messages()) == 5


def test_content_violations_refuse_the_message_after_data(gw):
    bad = (
        SAMPLE.replace(b"123 Main St, Suite 4", b"Somewhere")
        .replace(b">Unsubscribe<", b">Bye<")
        .replace(b"Unsubscribe: https://demo.example/unsubscribe", b"")
        .replace(b"demo.example/unsubscribe", b"demo.example/a")
    )
    with gw.client() as c, pytest.raises(smtplib.SMTPDataError) as refused:
        c.sendmail("news@news.demo.example", ["reader@example.com"], bad)
    assert refused.value.smtp_code == 550
    text = refused.value.smtp_error.decode()
    assert text.startswith("5.7.1 Rejected: CANSPAM_PHYSICAL_ADDRESS: ") and "CANSPAM_UNSUBSCRIBE: " in text
    assert gw.sink.messages() == []
    (decision,) = gw.decisions(1)
    assert decision.verdict.value == "rejected"
    assert {v.code for v in decision.violations} == {"CANSPAM_PHYSICAL_ADDRESS", "CANSPAM_UNSUBSCRIBE"}


def test_monitor_mode_relays_and_flags(gw):
    bad = SAMPLE.replace(b"123 Main St, Suite 4", b"Somewhere")
    with gw.client("watched") as c:
        assert c.sendmail("news@news.demo.example", ["reader@example.com"], bad) == {}
    ((_, data),) = gw.sink.messages()
    assert b"X-Compliance-Violations: CANSPAM_PHYSICAL_ADDRESS\r\n" in data
    assert gw.decisions()[0].verdict.value == "monitored"


def test_size_limit(gw):
    with gw.client("acme-tx") as c:
        c.ehlo()
        code, text = c.mail("orders@news.demo.example", ["SIZE=900000"])
        assert (code, text[:5]) == (552, b"5.3.4")
        c.rset()
        big = RECEIPT.replace(b"\r\n\r\n", b"\r\n\r\n" + (b"y" * 998 + b"\r\n") * 250, 1)
        assert c.mail("orders@news.demo.example")[0] == 250  # no SIZE given: found out while reading DATA
        assert c.rcpt("a@example.com")[0] == 250
        code, text = c.data(big)
        assert code == 552 and text.startswith(b"5.3.4")
        assert c.noop()[0] == 250  # the session goes on
    assert gw.sink.messages() == []


def test_upstream_refusal_of_one_recipient_is_that_recipients_answer(tmp_path):
    setup = Setup(tmp_path, sink_args=("--refuse-rcpt", "nobody"))
    try:
        with setup.client("acme-tx") as c:
            refused = c.sendmail("orders@news.demo.example", ["a@example.com", "nobody@example.com"], RECEIPT)
        assert refused == {
            "nobody@example.com": (
                550,
                b"5.1.1 <nobody@example.com>: Recipient address rejected: User unknown",
            )
        }
        assert [e["rcpt_tos"] for e, _ in setup.sink.messages()] == [["a@example.com"]]
        failed = [d for d in setup.decisions(2) if d.verdict.value == "failed"]
        assert [d.recipient for d in failed] == ["nobody@example.com"] and "User unknown" in failed[
            0
        ].upstream
    finally:
        setup.close()


def test_upstream_temporary_failure_at_data_is_passed_back(tmp_path):
    setup = Setup(tmp_path, sink_args=("--data-reply", "451 4.3.0 Queue full, try later"))
    try:
        with setup.client("acme-tx") as c, pytest.raises(smtplib.SMTPDataError) as failed:
            c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT)
        assert (failed.value.smtp_code, failed.value.smtp_error) == (451, b"4.3.0 Queue full, try later")
        assert setup.decisions(1)[0].verdict.value == "failed"
    finally:
        setup.close()


def test_upstream_down_then_retry_delivers_exactly_once(tmp_path):
    setup = Setup(tmp_path, start_sink=False)
    try:
        with setup.client("acme-tx") as c, pytest.raises(smtplib.SMTPRecipientsRefused) as down:
            c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT)
        assert down.value.recipients["a@example.com"] == (451, b"4.4.1 Upstream unavailable, try again later")
        setup.sink = Sink(tmp_path / "sink", setup.upstream_port)
        with setup.client("acme-tx") as c:
            assert c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT) == {}
        assert len(setup.sink.messages()) == 1
    finally:
        setup.close()


def test_sigterm_during_a_transaction_loses_nothing(gw):
    c = gw.client("acme-tx")
    c.ehlo()
    assert c.mail("orders@news.demo.example")[0] == 250
    assert c.rcpt("a@example.com")[0] == 250
    c.putcmd("data")
    assert c.getreply()[0] == 354
    c.send(RECEIPT[:100])
    gw.gateway.proc.send_signal(15)
    wait_until(lambda: "stopping: draining 1 open transactions" in gw.gateway.output())
    with pytest.raises(OSError):  # no new connections while draining
        smtplib.SMTP("127.0.0.1", gw.port, timeout=2)
    c.send(RECEIPT[100:] + b".\r\n")
    code, _ = c.getreply()
    assert code == 250
    assert gw.gateway.proc.wait(20) == 0
    assert len(gw.sink.messages()) == 1
    assert gw.decisions()[0].verdict.value == "relayed"


def test_swaks_with_pipelining_and_auth_login(gw):
    message = gw.tmp / "m.eml"
    message.write_bytes(SAMPLE)
    proc = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{gw.port}",
            "--auth",
            "LOGIN",
            "--auth-user",
            "acme",
            "--auth-password",
            PASSWORD,
            "--from",
            "news@news.demo.example",
            "--to",
            "reader@example.com",
            "--data",
            f"@{message}",
            "--pipeline",
            "--timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "<** " not in proc.stdout
    assert len(gw.sink.messages()) == 1


def test_swaks_sees_the_rule_in_the_refusal(gw):
    gw.cli(
        "suppress",
        "add",
        "gone@example.com",
        "--channel",
        "email",
        "--sender",
        "acme",
        "--reason",
        "unsubscribe",
    )
    proc = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{gw.port}",
            "--auth",
            "PLAIN",
            "--auth-user",
            "acme",
            "--auth-password",
            PASSWORD,
            "--from",
            "news@news.demo.example",
            "--to",
            "gone@example.com",
            "--timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "<** 550 5.7.1 <gone@example.com> rejected: SUPPRESSED (opted out" in proc.stdout


@contextlib.contextmanager
def behind_postfix_smtp_sink(tmp_path, *sink_args: str):
    """The gateway relaying to Postfix's smtp-sink (with `sink_args`) instead of the test sink."""
    port = free_port()
    sink = subprocess.Popen(
        ["/usr/sbin/smtp-sink", *sink_args, "-u", "root", f"127.0.0.1:{port}", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        from servers import wait_for_port

        wait_for_port(port, sink)
        setup = Setup(tmp_path, start_sink=False)
        setup.config.write_text(
            setup.config.read_text().replace(f"127.0.0.1:{setup.upstream_port}", f"127.0.0.1:{port}")
        )
        setup.gateway.stop()
        setup.gateway = GatewayProcess(setup.config, setup.port, tmp_path, ENV)
        yield setup
        setup.close()
    finally:
        sink.terminate()
        sink.wait(10)


def test_relay_to_postfix_smtp_sink(tmp_path):
    dump = tmp_path / "dump"
    dump.mkdir()
    with behind_postfix_smtp_sink(tmp_path, "-d", f"{dump}/%M.") as setup:
        with setup.client("acme-tx") as c:
            assert c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT) == {}
        wait_until(lambda: any(dump.iterdir()))
        (dumped,) = list(dump.iterdir())
        assert b"Thanks for your order" in dumped.read_bytes() and b"Received: from " in dumped.read_bytes()


def test_pooled_upstream_connections_closed_by_the_upstream_are_replaced_not_failed(tmp_path):
    """smtp-sink drops connections idle for 2 seconds (Postfix's own default is minutes): the pooled ones it
    closed while the gateway had nothing to send must not turn the next messages into 451s."""
    from concurrent.futures import ThreadPoolExecutor

    with behind_postfix_smtp_sink(tmp_path, "-t", "2") as setup:

        def send(n: int) -> dict:
            with setup.client("acme-tx") as c:
                return c.sendmail("orders@news.demo.example", [f"a{n}@example.com"], RECEIPT)

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(send, range(4))) == [{}] * 4  # four pooled connections
            time.sleep(3.5)  # all four closed by the upstream meanwhile
            assert list(pool.map(send, range(4, 8))) == [{}] * 4


def test_two_workers_share_the_port_and_stop_together(tmp_path):
    setup = Setup(tmp_path, smtp_extra="workers = 2")
    try:
        for i in range(12):
            with setup.client("acme-tx") as c:
                assert c.sendmail("orders@news.demo.example", [f"w{i}@example.com"], RECEIPT) == {}
        assert len(setup.sink.messages()) == 12
        assert len(setup.decisions(12)) == 12
        assert setup.gateway.output().count("gateway: serving SMTP") == 2
    finally:
        assert setup.close() == 0


def test_consent_required_by_the_sender_is_checked_at_rcpt(tmp_path):
    setup = Setup(tmp_path, start_sink=True)
    setup.gateway.stop()
    setup.config.write_text(
        setup.config.read_text().replace(
            '[[sender]]\nname = "acme-tx"',
            '[[sender]]\nname = "acme-tx"\nemail_consent_required = "express"\nemail_consent_categories = ["transactional"]',
        )
    )
    setup.gateway = GatewayProcess(setup.config, setup.port, tmp_path, ENV)
    try:
        setup.cli(
            "consent",
            "add",
            "yes@example.com",
            "--channel",
            "email",
            "--sender",
            "acme-tx",
            "--level",
            "express",
            "--obtained-at",
            "2026-01-01T00:00:00Z",
        )
        with setup.client("acme-tx") as c:
            refused = c.sendmail("orders@news.demo.example", ["yes@example.com", "no@example.com"], RECEIPT)
        assert refused == {
            "no@example.com": (
                550,
                b"5.7.1 <no@example.com> rejected: CONSENT_MISSING (consent on "
                b"record is none; transactional email needs express)",
            )
        }
        assert [e["rcpt_tos"] for e, _ in setup.sink.messages()] == [["yes@example.com"]]
    finally:
        setup.close()


def test_slow_upstream_is_451_and_nothing_is_acknowledged(tmp_path):
    setup = Setup(tmp_path, sink_args=("--delay", "8"))  # upstream_timeout is 5 s
    try:
        with setup.client("acme-tx") as c, pytest.raises(smtplib.SMTPDataError) as slow:
            c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT)
        assert slow.value.smtp_code == 451 and slow.value.smtp_error.startswith(b"4.4.1")
        # given up after the final dot (upstream_data_timeout): the upstream may have it after all
        assert setup.decisions(1)[0].verdict.value == "unknown"
    finally:
        setup.close()


def test_garbage_and_abrupt_clients_do_not_hurt_the_server(gw):
    import socket

    junk = [
        b"\x00\xff\xfe garbage\r\n",
        b"HELO\r\n" * 50,
        b"A" * 100_000 + b"\r\n",
        b"MAIL FROM:<<<>>>\r\n",
        b"RCPT TO:<a@b>\r\nDATA\r\n",
        b"AUTH PLAIN !!!notbase64\r\n",
        b"AUTH LOGIN\r\n\x80\x81\r\n",
        b"EHLO x\r\nMAIL FROM:<a@news.demo.example> SIZE=abc\r\n",
        b"\r\n\r\n\r\n",
        b"QUIT",
    ]
    for payload in junk:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            s.recv(1024)  # greeting
            s.sendall(payload)
            s.settimeout(0.5)
            try:
                while s.recv(65536):
                    pass
            except (TimeoutError, ConnectionError):
                pass
    # a client that vanishes in the middle of DATA
    c = gw.client("acme-tx")
    c.mail("orders@news.demo.example")
    c.rcpt("a@example.com")
    c.putcmd("data")
    c.getreply()
    c.send(RECEIPT[:50])
    c.sock.close()
    with gw.client("acme-tx") as c:
        assert c.sendmail("orders@news.demo.example", ["after@example.com"], RECEIPT) == {}
    assert [e["rcpt_tos"] for e, _ in gw.sink.messages()] == [["after@example.com"]]
    assert "Traceback" not in gw.gateway.output()
