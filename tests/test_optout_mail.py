"""Mail to the gateway's own addresses, on real sockets: only what refers to a message the gateway relayed
changes the suppression list (gateway/mail/optouts.py). Forged reports change nothing and are kept for
review; real bounces and complaints, made from what the gateway actually sent to a test upstream, suppress
exactly their recipient, in their sender's scope; a person's mail counts when their domain vouches for
it (DKIM through a DNS server on a loopback port) or when ops confirm it in the console."""

from __future__ import annotations

import asyncio
import re
import smtplib
import threading
import time
import urllib.request
from email.utils import make_msgid

import dkim
import pytest
from dns_stub import DnsStub
from helpers import REPO
from test_console import Browser, form_token
from test_optout import (
    ENV,
    PASSWORD,
    RECEIPT,
    SAMPLE,
    Setup,
    big_dsn,
    deliver_unauthenticated,
    refused_next,
)

from gateway.store.sqlite import SqliteStore

KEYS = REPO / "tests" / "keys"
PUBLIC = (KEYS / "dkim-test.pub.b64").read_text().strip()
PRIVATE = (KEYS / "dkim-test.pem").read_bytes()


def audit(gw: Setup, *actions: str) -> list:
    async def read():
        store = SqliteStore(str(gw.tmp / "gateway.db"))
        try:
            return await store.audit_log(limit=1000, actions=actions)
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def dns():
    with DnsStub({("s1._domainkey.example.com", "TXT"): [f"v=DKIM1; k=rsa; p={PUBLIC}"]}) as stub:
        yield stub


@pytest.fixture
def gw(tmp_path, dns):
    setup = Setup(tmp_path, f'dns_resolver = "127.0.0.1:{dns.port}"\n')
    yield setup
    setup.close()


@pytest.fixture
def verp(tmp_path, dns):
    setup = Setup(tmp_path, f'dns_resolver = "127.0.0.1:{dns.port}"\nbounce_domain = "bounce.gw.example"\n')
    yield setup
    setup.close()


def relayed(gw: Setup, to: str, user: str = "acme", message: bytes = SAMPLE) -> tuple[dict, bytes]:
    """What the gateway sent the upstream for one message to `to`."""
    before = len(gw.sink.messages())
    message = message.replace(b"To: reader@example.com", f"To: {to}".encode())
    message = re.sub(rb"(?im)^Message-ID:.*\r\n", b"", message)
    message = f"Message-ID: {make_msgid(domain='news.demo.example')}\r\n".encode() + message
    assert gw.send(user, message, to=to) == {}
    found = gw.sink.messages()
    assert len(found) == before + 1
    return found[-1]


def headers_of(data: bytes) -> str:
    return data.split(b"\r\n\r\n", 1)[0].decode()


def dsn(returned: str, *failed: tuple[str, str], to: str = "bounces@localhost") -> bytes:
    blocks = "".join(
        f"Final-Recipient: rfc822; {a}\r\nAction: failed\r\nStatus: {s}\r\n\r\n" for a, s in failed
    )
    return (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n"
        f"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n{blocks}"
        + (f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}\r\n\r\n" if returned else "")
        + "--b--\r\n"
    ).encode()


def arf(returned: str, recipient: str | None, feedback: str = "abuse") -> bytes:
    rcpt = f"Original-Rcpt-To: <{recipient}>\r\n" if recipient else ""
    return (
        "From: feedback@isp.example\r\nTo: bounces@localhost\r\nSubject: complaint\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\r\n\r\n'
        "--f\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
        f"--f\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: {feedback}\r\nUser-Agent: isp/1.0\r\n"
        f"Version: 1\r\n{rcpt}\r\n"
        f"--f\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}\r\n\r\n--f--\r\n"
    ).encode()


def suppressed(gw: Setup) -> list[tuple[str | None, str, str]]:
    return sorted((s.address, s.reason.value, s.scope) for s in gw.suppressions())


# -- reports that refer to nothing the gateway sent --------------------------------------------------------


def test_a_forged_dsn_naming_two_thousand_addresses_changes_nothing_and_does_not_stall(gw):
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            started = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{gw.http}/healthz", timeout=30) as r:
                assert r.status == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.005)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    try:
        code, text = deliver_unauthenticated(gw, "bounces@localhost", big_dsn(2000))
        time.sleep(0.3)
    finally:
        done.set()
        poller.join()
    assert (code, text) == (250, "2.0.0 Received: bounce")  # no oracle: the same as for a real one
    assert gw.suppressions() == []
    (entry,) = audit(gw, "report.unverified")
    assert "naming 2002 address(es)" in entry.detail and entry.address is None
    latencies.sort()
    assert len(latencies) > 20 and latencies[int(len(latencies) * 0.99)] < 0.05, latencies[-5:]


def test_forged_complaints_and_a_not_spam_report_change_nothing(gw):
    made_up = (
        "From: news@news.demo.example\r\nTo: victim@example.com\r\nMessage-ID: <made-up@news.demo.example>"
    )
    assert deliver_unauthenticated(gw, "bounces@localhost", arf(made_up, "victim@example.com"))[0] == 250
    _, data = relayed(gw, "fan@example.com")
    headers = headers_of(data)
    assert (
        deliver_unauthenticated(gw, "bounces@localhost", arf(headers, "fan@example.com", "not-spam"))[0]
        == 250
    )
    assert gw.suppressions() == [] and len(audit(gw, "report.unverified")) == 1
    # a real message's headers do not let a report suppress anyone but that message's recipient
    assert deliver_unauthenticated(gw, "bounces@localhost", arf(headers, "victim@example.com"))[0] == 250
    assert suppressed(gw) == [("fan@example.com", "complaint", "acme")]


# -- real reports, made from what the gateway sent ------------------------------------------------------------


def test_a_real_bounce_suppresses_exactly_its_recipient_in_its_senders_scope(gw):
    _, data = relayed(gw, "gone@example.com")
    report = dsn(headers_of(data), ("gone@example.com", "5.1.1"), ("stranger@example.com", "5.1.1"))
    assert deliver_unauthenticated(gw, "bounces@localhost", report) == (250, "2.0.0 Received: bounce")
    assert suppressed(gw) == [("gone@example.com", "bounce", "acme")]
    assert refused_next(gw, "gone@example.com")
    assert not refused_next(gw, "stranger@example.com")
    assert (
        gw.send("acme-tx", RECEIPT.replace(b"reader@", b"gone@"), to="gone@example.com") == {}
    )  # other sender


def _receipt_to(gw, people: list[str]) -> str:
    mid = make_msgid(domain="orders.demo.example")
    receipt = RECEIPT.replace(b"Subject:", f"Message-ID: {mid}\r\nSubject:".encode())
    with smtplib.SMTP("127.0.0.1", gw.smtp, timeout=30) as client:
        client.login("acme-tx", PASSWORD)
        assert client.sendmail("orders@news.demo.example", people, receipt) == {}
    return mid


def test_a_bounce_by_message_id_counts_for_a_message_to_the_one_recipient_it_names(gw):
    """A transactional message (no token in it) to one person: the report naming that person and a
    stranger suppresses the person."""
    mid = _receipt_to(gw, ["a@example.com"])
    returned = f"From: orders@news.demo.example\r\nTo: a@example.com\r\nMessage-ID: {mid}"
    report = dsn(returned, ("a@example.com", "5.1.1"), ("stranger@example.com", "5.1.1"))
    assert deliver_unauthenticated(gw, "bounces@localhost", report)[0] == 250
    assert suppressed(gw) == [("a@example.com", "bounce", "acme-tx")]


def test_a_bounce_by_the_message_id_of_a_message_to_several_is_kept_for_review(gw):
    """Each of the three recipients holds the Message-ID: one of them could forge a DSN naming another,
    and suppress their receipts. Nothing changes; the report waits for ops."""
    mid = _receipt_to(gw, ["a@example.com", "b@example.com", "c@example.com"])
    returned = f"From: orders@news.demo.example\r\nTo: a@example.com\r\nMessage-ID: {mid}"
    report = dsn(returned, ("b@example.com", "5.1.1"))
    assert deliver_unauthenticated(gw, "bounces@localhost", report)[0] == 250
    assert suppressed(gw) == [] and len(audit(gw, "report.unverified")) == 1


def test_a_redacted_complaint_works_through_the_token(gw):
    _, data = relayed(gw, "angry@example.com")
    redacted = re.sub(r"(?m)^To: .*$", "To: redacted@redacted.invalid", headers_of(data))
    assert deliver_unauthenticated(gw, "bounces@localhost", arf(redacted, None))[0] == 250
    assert suppressed(gw) == [("angry@example.com", "complaint", "acme")]
    assert refused_next(gw, "angry@example.com")


def test_delays_change_nothing(gw):
    _, data = relayed(gw, "busy@example.com")
    report = dsn(headers_of(data), ("busy@example.com", "4.2.2"))
    assert deliver_unauthenticated(gw, "bounces@localhost", report)[0] == 250
    assert gw.suppressions() == [] and audit(gw, "report.unverified") == []


# -- the per-recipient return path (smtp.bounce_domain) -----------------------------------------------------


def test_with_a_bounce_domain_each_message_names_its_recipient_in_its_return_path(verp):
    envelope, _ = relayed(verp, "gone@example.com")
    return_path = envelope["mail_from"]
    assert re.fullmatch(r"bounces\+[0-9a-f]{21}-[0-9a-f]{16}@bounce\.gw\.example", return_path), return_path
    assert len(return_path.split("@")[0]) <= 64
    # a bounce to it, saying nothing useful about the recipient (rewritten by a forwarder), is enough
    report = dsn("", ("someone-else@forwarder.example", "5.1.1"), to=return_path)
    assert deliver_unauthenticated(verp, return_path.upper(), report)[0] == 250  # case folded on the way
    assert suppressed(verp) == [("gone@example.com", "bounce", "acme")]
    # a return path with its MAC altered is not the gateway's
    local, domain = return_path.split("@")
    forged = local[:-1] + ("0" if local[-1] != "0" else "1") + "@" + domain
    assert deliver_unauthenticated(verp, forged, dsn("", ("x@example.com", "5.1.1"), to=forged))[0] == 250
    assert len(verp.suppressions()) == 1 and len(audit(verp, "report.unverified")) == 1


def test_a_complaint_naming_the_return_path_works_when_everything_else_is_redacted(verp):
    envelope, _ = relayed(verp, "angry@example.com")
    returned = f"Return-Path: <{envelope['mail_from']}>\r\nFrom: news@news.demo.example\r\nTo: redacted"
    assert deliver_unauthenticated(verp, "bounces@localhost", arf(returned, None))[0] == 250
    assert suppressed(verp) == [("angry@example.com", "complaint", "acme")]


def test_transactional_mail_keeps_the_clients_envelope_sender(verp):
    with smtplib.SMTP("127.0.0.1", verp.smtp, timeout=30) as client:
        client.login("acme-tx", PASSWORD)
        assert client.sendmail("orders@news.demo.example", ["a@example.com", "b@example.com"], RECEIPT) == {}
    ((envelope, _),) = verp.sink.messages()
    assert envelope["mail_from"] == "orders@news.demo.example"


# -- a person's own mail -------------------------------------------------------------------------------------


def personal(sender: str, to: str, subject: str = "unsubscribe") -> bytes:
    return f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nPlease take me off.\r\n".encode()


def signed(message: bytes) -> bytes:
    return (
        dkim.sign(message, b"s1", b"example.com", PRIVATE, include_headers=[b"from", b"to", b"subject"])
        + message
    )


def test_an_unsubscribe_mail_signed_by_the_senders_domain_counts(gw):
    mail = signed(personal("Reader <reader@example.com>", "unsubscribe+acme@localhost"))
    assert deliver_unauthenticated(gw, "unsubscribe+acme@localhost", mail) == (
        250,
        "2.0.0 Received: unsubscribe",
    )
    assert suppressed(gw) == [("reader@example.com", "unsubscribe", "acme")]


def test_a_signed_mail_the_person_sent_elsewhere_replayed_to_the_gateway_does_not_count(gw):
    """Anyone who ever received a DKIM-signed mail from someone holds one: relayed unchanged to the
    unsubscribe address, it would opt them out of any sender. It is kept for review instead."""
    lunch = personal("Reader <reader@example.com>", "friend@elsewhere.example", "Lunch tomorrow?")
    assert deliver_unauthenticated(gw, "unsubscribe+acme@localhost", signed(lunch))[0] == 250
    # a real request to one sender's address, replayed to the untagged one: it would count for all
    real = signed(personal("Reader <reader@example.com>", "unsubscribe+acme@localhost"))
    assert deliver_unauthenticated(gw, "unsubscribe@localhost", real)[0] == 250
    assert suppressed(gw) == [] and len(audit(gw, "request.unverified")) == 2


def test_unauthenticated_requests_are_kept_for_review_and_ops_confirm_them(gw):
    forged = personal("victim@example.com", "unsubscribe@localhost")
    code, text = deliver_unauthenticated(gw, "unsubscribe@localhost", forged)
    assert (code, text) == (250, "2.0.0 Received: unsubscribe")
    tampered = signed(personal("Other <other@example.com>", "unsubscribe@localhost")).replace(
        b"off.", b"off!"
    )
    assert deliver_unauthenticated(gw, "unsubscribe@localhost", tampered)[0] == 250
    reply = personal("third@example.com", "bounces@localhost", "Re: spring sale")
    reply = reply.replace(b"Please take me off.", b"Remove me")
    assert deliver_unauthenticated(gw, "bounces@localhost", reply)[0] == 250
    chatty = personal("fourth@example.com", "bounces@localhost", "Re: spring").replace(
        b"Please take me off.", b"Nice!"
    )
    assert deliver_unauthenticated(gw, "bounces@localhost", chatty)[0] == 250
    assert gw.suppressions() == []
    requests = audit(gw, "request.unverified")
    assert sorted(r.address for r in requests) == [
        "other@example.com",
        "third@example.com",
        "victim@example.com",
    ]

    browser = Browser(f"http://127.0.0.1:{gw.http}")
    assert browser.open("/ops/login", {"key": ENV["GATEWAY_OPS_KEY"]})[0] == 302
    status, page, _ = browser.open("/ops/optouts")
    assert status == 200 and "victim@example.com" in page and page.count(">Confirm</button>") == 3
    form = {"csrf": form_token(page), "address": "third@example.com", "scope": "global"}
    status, _, headers = browser.open("/ops/actions/confirm-request", form)
    assert status == 303 and "done=confirmed" in headers["Location"]
    assert suppressed(gw) == [("third@example.com", "unsubscribe", "global")]
    assert refused_next(gw, "third@example.com") and not refused_next(gw, "victim@example.com")


def test_an_operator_may_trust_unauthenticated_requests(tmp_path, dns):
    gw = Setup(tmp_path, f'dns_resolver = "127.0.0.1:{dns.port}"\ntrust_unauthenticated_opt_outs = true\n')
    try:
        assert deliver_unauthenticated(gw, "unsubscribe@localhost", personal("p@example.com", "x"))[0] == 250
        assert suppressed(gw) == [("p@example.com", "unsubscribe", "global")]
    finally:
        gw.close()


# -- what an attacker tried (a review of this work) ---------------------------------------------------------


def test_a_recipient_cannot_suppress_the_others_with_a_shared_message_id(gw):
    """Marketing mail carries a token and return path per recipient: its Message-ID, which every recipient
    sees, suppresses no one."""
    mid = make_msgid(domain="news.demo.example")
    message = SAMPLE.replace(b"Subject:", f"Message-ID: {mid}\r\nSubject:".encode(), 1)
    for person in ("attacker@example.com", "victim1@example.com", "victim2@example.com"):
        assert (
            gw.send("acme", message.replace(b"To: reader@example.com", f"To: {person}".encode()), to=person)
            == {}
        )
    returned = f"From: news@news.demo.example\r\nTo: attacker@example.com\r\nMessage-ID: {mid}"
    report = dsn(returned, ("victim1@example.com", "5.1.1"), ("victim2@example.com", "5.1.1"))
    assert deliver_unauthenticated(gw, "bounces@localhost", report) == (250, "2.0.0 Received: bounce")
    assert gw.suppressions() == [] and len(audit(gw, "report.unverified")) == 1


def test_an_old_token_in_an_unsigned_mail_is_only_a_request(gw):
    from gateway.model import Channel
    from gateway.tokens import TokenSigner

    signer = TokenSigner([ENV["GATEWAY_TOKEN_SECRET"].split(",")[0].encode()])
    old = signer.make(Channel.EMAIL, "acme", "victim@example.com", int(time.time()) - 3000 * 86400)
    mail = personal("someone@example.com", "unsubscribe@localhost", f"unsubscribe {old}")
    assert deliver_unauthenticated(gw, "unsubscribe@localhost", mail)[0] == 250
    assert gw.suppressions() == []
    assert [r.address for r in audit(gw, "request.unverified")] == ["someone@example.com"]


def test_a_flood_of_forged_requests_is_not_all_kept(gw):
    for i in range(40):
        assert (
            deliver_unauthenticated(gw, "unsubscribe@localhost", personal(f"f{i}@example.com", "x"))[0] == 250
        )
    assert len(audit(gw, "request.unverified")) == 30
    browser = Browser(f"http://127.0.0.1:{gw.http}")
    assert browser.open("/ops/login", {"key": ENV["GATEWAY_OPS_KEY"]})[0] == 302
    status, page, _ = browser.open("/ops/optouts?kind=request&page=1")
    assert status == 200 and page.count(">Confirm</button>") == 30
    assert browser.open("/ops/optouts?kind=report&page=x")[0] == 200


def test_an_spf_record_that_breaks_the_evaluator_still_leaves_the_request(tmp_path):
    with DnsStub(
        {("broken.example", "TXT"): ["v=spf1 a/99 -all"], ("broken.example", "A"): ["127.0.0.1"]}
    ) as dns:
        gw = Setup(tmp_path, f'dns_resolver = "127.0.0.1:{dns.port}"\n')
        try:
            mail = personal("p@broken.example", "unsubscribe@localhost")
            assert deliver_unauthenticated(gw, "unsubscribe@localhost", mail, "p@broken.example")[0] == 250
            assert [r.address for r in audit(gw, "request.unverified")] == ["p@broken.example"]
        finally:
            gw.close()


def test_postmaster_takes_mail_without_a_domain_and_relays_none_of_it(gw):
    """RFC 5321 4.5.1: "Postmaster" (no domain) and postmaster at the gateway's name are always taken, with
    no login; they are the bounce address: a bounce there counts as one to bounces@ would, nothing goes on."""
    _, data = relayed(gw, "gone@example.com")
    before = len(gw.sink.messages())
    report = dsn(headers_of(data), ("gone@example.com", "5.1.1"), to="Postmaster")
    assert deliver_unauthenticated(gw, "<Postmaster>", report) == (250, "2.0.0 Received: bounce")
    assert suppressed(gw) == [("gone@example.com", "bounce", "acme")]
    letter = b"From: someone@example.net\r\nTo: postmaster@localhost\r\nSubject: hello\r\n\r\nA question.\r\n"
    assert deliver_unauthenticated(gw, "postmaster@localhost", letter)[0] == 250
    assert len(gw.sink.messages()) == before  # never relayed
    with smtplib.SMTP("127.0.0.1", gw.smtp, timeout=30) as client:  # not beside other recipients
        client.ehlo()
        client.mail("someone@example.net")
        assert client.rcpt("<Postmaster>")[0] == 250
        assert client.rcpt("reader@example.com")[0] == 452  # a transaction of its own
    assert deliver_unauthenticated(gw, "postmaster@example.com", letter)[0] == 530  # someone else's: AUTH
