"""The SMTP door against input meant to hurt it, on real sockets, in front of a real upstream process: a
transaction that cannot go on ends with a definite reply and gives its upstream connection back, so the
next sender is served at once; no bare CR or LF reaches an upstream, so one that ends DATA on them
(tests/lenient_smtp.py) cannot be handed a second, never-judged message."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import pytest
from servers import RawClient, Sink, wait_until
from test_smtp import PASSWORD, SAMPLE, Setup

from gateway.mail import lineends
from gateway.smtp.relay import SmtpRelay, UpstreamSettings

RECEIPT = SAMPLE.replace(b"Advertisement: ", b"Your order: ")  # from acme-tx: transactional
POOL = 2  # upstream connections: a leak of two would stall every later message


def nested(depth: int) -> bytes:
    head = b"From: Demo <news@news.demo.example>\r\nTo: reader@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    body = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth)
    )
    return (
        head
        + body
        + b"Content-Type: text/plain\r\n\r\nhi\r\n"
        + b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    )


NUL_CHARSET = (
    b"From: Demo <news@news.demo.example>\r\nTo: reader@example.com\r\nSubject: nul\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="utf-8\x00"\r\n\r\nhello\r\n'
)


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path, smtp_extra=f"upstream_pool_size = {POOL}")
    yield setup
    setup.close()


def test_transactions_that_cannot_go_on_give_their_upstream_connection_back(gw):
    client = RawClient(gw.port, login=("acme-tx", PASSWORD))
    for _ in range(POOL * 3):
        code, text = client.message(b'"a\rb"@news.demo.example', RECEIPT)
        assert (code, text[:5]) == (501, b"5.1.7"), text
        code, text = client.message(b"orders@news.demo.example", NUL_CHARSET)
        assert (code, text[:5]) == (554, b"5.6.0") and b"cannot be parsed" in text, text
        code, text = client.message(b"orders@news.demo.example", nested(1000))
        assert (code, text[:5]) == (554, b"5.6.0") and b"multipart" in text, text
        code, text = client.command(b'RCPT TO:<"x\x7fy"@example.com>')
        assert code in (501, 503), text
    started = time.monotonic()
    code, text = client.message(b"orders@news.demo.example", RECEIPT)
    assert code == 250, text
    assert time.monotonic() - started < 3  # at once: no slot was left behind (upstream_timeout is 5 s)
    client.close()
    assert len(gw.sink.messages()) == 1  # nothing of the refused ones reached the upstream
    refused = [d for d in gw.decisions(POOL * 3 * 2 + 1) if d.verdict.value == "rejected"]
    assert len(refused) == POOL * 3 * 2 and all("cannot be parsed" in d.upstream for d in refused)
    assert "Traceback" not in gw.gateway.output() and "unexpected error" not in gw.gateway.output()


def test_gateway_check_of_the_same_files_is_bad_input_not_an_internal_error(gw, tmp_path):
    from helpers import run_cli

    for name, data in (("nul.eml", NUL_CHARSET), ("deep.eml", nested(1000))):
        (tmp_path / name).write_bytes(data)
        code, _, err = run_cli("check", "--config", str(gw.config), "--sender", "acme", str(tmp_path / name))
        assert code == 2 and "cannot be parsed" in err and "internal error" not in err, err


# Line ends an upstream may take for one, around the dot that would end DATA there (RFC 5321 allows only
# CRLF.CRLF); with what follows them in an attack: a second message, to a recipient the gateway refuses.
BARE_ENDS = [b"\n.\n", b"\r.\r", b"\r.\n", b"\n.\r", b"\r\n.\r", b"\r\n.\n", b"\r.\r\n", b"\n.\r\n", b"\n"]
SMUGGLED = (
    b"MAIL FROM:<ceo@news.demo.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
    b"From: CEO <ceo@news.demo.example>\r\nTo: victim@example.com\r\nSubject: smuggled\r\n\r\nwire the money"
)


@pytest.fixture(params=["refuse", "normalize"])
def lenient(tmp_path, request):
    setup = Setup(tmp_path, smtp_extra=f'bare_newlines = "{request.param}"', start_sink=False)
    setup.sink = Sink(tmp_path / "lenient", setup.upstream_port, script="lenient_smtp.py")
    setup.mode = request.param
    yield setup
    setup.close()


def test_no_bare_line_end_reaches_an_upstream_that_would_end_data_on_it(lenient):
    client = RawClient(lenient.port, login=("acme-tx", PASSWORD))
    for n, end in enumerate(BARE_ENDS):
        message = RECEIPT.replace(b"<spring-2026@", b"<spring-2026-%d@" % n)  # each a message of its own
        code, text = client.message(b"orders@news.demo.example", message + end + SMUGGLED)
        if lenient.mode == "refuse":
            assert (code, text[:5]) == (554, b"5.5.2") and b"bare CR or LF" in text, text
        else:
            assert code == 250, text
    assert client.message(b"orders@news.demo.example", RECEIPT)[0] == 250  # the session goes on
    client.close()
    delivered = lenient.sink.messages()
    assert len(delivered) == (1 if lenient.mode == "refuse" else len(BARE_ENDS) + 1)
    for envelope, data in delivered:  # one message each, the envelope the gateway judged
        assert (envelope["mail_from"], envelope["rcpt_tos"]) == (
            "orders@news.demo.example",
            ["reader@example.com"],
        )
        assert not lineends.has_bare(data)
    if lenient.mode == "refuse":
        refused = [d for d in lenient.decisions(len(BARE_ENDS) + 1) if d.verdict.value == "rejected"]
        assert len(refused) == len(BARE_ENDS) and all("bare CR or LF" in d.upstream for d in refused)


async def _relay_through(port: int, data: bytes) -> None:
    relay = SmtpRelay(
        UpstreamSettings.from_url(
            f"smtp://127.0.0.1:{port}", password=None, timeout=5, pool_size=1, local_hostname="gw.example"
        )
    )
    tx = await relay.begin("orders@news.demo.example", ())
    assert (await tx.add_recipient("reader@example.com", ())).ok
    assert (await tx.send(data)).ok
    await relay.close()


def test_the_relay_itself_sends_nothing_but_crlf_whatever_it_is_given(tmp_path):
    """Below the engine: bytes handed straight to the relay with every bare variant still arrive as one
    message, its lines ended by CRLF, its dots stuffed."""
    sink = Sink(tmp_path / "lenient", None, script="lenient_smtp.py")
    try:
        for end in BARE_ENDS:
            asyncio.run(_relay_through(sink.port, RECEIPT + end + SMUGGLED + b"\r\n.\r\n..\r\n"))
        delivered = sink.messages()
    finally:
        sink.stop()
    assert len(delivered) == len(BARE_ENDS)
    for envelope, data in delivered:
        assert envelope["rcpt_tos"] == ["reader@example.com"] and not lineends.has_bare(data)
        assert data.endswith(b"wire the money\r\n.\r\n..\r\n")  # the dots as they were, unstuffed


# -- found by review: each reproduced before its fix ------------------------------------------------------


def test_a_client_gone_while_the_upstream_answers_rset_does_not_keep_the_slot(tmp_path):
    gw = Setup(tmp_path, smtp_extra="upstream_pool_size = 1", sink_args=("--rset-delay", "2"))
    try:
        client = RawClient(gw.port, login=("acme-tx", PASSWORD))
        assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
        assert client.command(b"RCPT TO:<a@example.com>")[0] == 250  # the only upstream connection
        client.sock.sendall(b"RSET\r\n")  # the gateway sends RSET upstream, which takes 2 s ...
        time.sleep(0.3)
        client.sock.shutdown(socket.SHUT_RDWR)  # ... and the client is gone meanwhile
        client.file.close()
        client.sock.close()
        other = RawClient(gw.port, login=("acme-tx", PASSWORD))
        started = time.monotonic()
        assert other.message(b"orders@news.demo.example", RECEIPT)[0] == 250
        assert time.monotonic() - started < 4.5  # not the 5 s upstream_timeout of a pool with no slot
        for _ in range(3):  # and for good
            assert (
                other.message(b"orders@news.demo.example", RECEIPT.replace(b"<spring", b"<s%d" % _))[0] == 250
            )
        other.close()
    finally:
        gw.close()


def test_bytes_that_are_not_utf8_in_an_address_are_refused_and_the_store_goes_on(gw):
    client = RawClient(gw.port, login=("acme-tx", PASSWORD))
    assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
    for address in (b"x\xff@nodot", b"r\xe9ader@example.com", b"\xc3(@example.com"):
        code, text = client.command(b"RCPT TO:<" + address + b">")
        assert code == 501 and b"not UTF-8" in text, text
    assert client.command(b"RSET")[0] == 250
    assert client.command(b"MAIL FROM:<o\xffrders@news.demo.example>")[0] == 501
    for n in range(3):  # every later message still gets its decision written
        assert client.message(b"orders@news.demo.example", RECEIPT.replace(b"<spring", b"<u%d" % n))[0] == 250
    client.close()
    assert len([d for d in gw.decisions(3) if d.verdict.value == "relayed"]) == 3


def test_a_client_gone_after_its_final_dot_still_gets_its_outcome_recorded(tmp_path):
    gw = Setup(tmp_path, sink_args=("--delay", "1.5"))
    try:
        client = RawClient(gw.port, login=("acme-tx", PASSWORD))
        assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
        assert client.command(b"RCPT TO:<reader@example.com>")[0] == 250
        assert client.command(b"DATA")[0] == 354
        client.sock.sendall(RECEIPT.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        time.sleep(0.3)
        client.sock.shutdown(socket.SHUT_RDWR)  # no answer heard: it will send the message again
        client.file.close()
        client.sock.close()
        again = RawClient(gw.port, login=("acme-tx", PASSWORD))
        code, text = again.message(b"orders@news.demo.example", RECEIPT)  # while the first is in flight
        assert (code, text) == (451, b"4.3.0 The same message is being relayed right now, try again later")
        wait_until(lambda: [d.verdict.value for d in gw.decisions()] == ["relayed"], timeout=10)
        code, text = again.message(b"orders@news.demo.example", RECEIPT)  # later: the upstream has it
        assert (code, text) == (250, b"2.0.0 Already relayed (a retry of the same message): not sent again")
        again.close()
        assert len(gw.sink.messages()) == 1
    finally:
        gw.close()


def test_a_reused_message_id_on_another_message_is_not_taken_for_a_retry(gw):
    client = RawClient(gw.port, login=("acme-tx", PASSWORD))
    assert client.message(b"orders@news.demo.example", RECEIPT)[0] == 250
    other = RECEIPT.replace(b"Your order: ", b"Your refund: ")  # the tool reused the Message-ID
    assert client.message(b"orders@news.demo.example", other)[0] == 250
    retry = RECEIPT.replace(b"Date: ", b"X-Resent: yes\r\nDate: ")  # headers made anew, same message
    assert client.message(b"orders@news.demo.example", retry)[1].startswith(b"2.0.0 Already relayed")
    client.close()
    assert len(gw.sink.messages()) == 2


def test_a_421_at_a_limit_does_not_swallow_the_250_held_for_pipelining(tmp_path):
    gw = Setup(tmp_path, smtp_extra="max_commands = 10")
    try:
        client = RawClient(gw.port, login=("acme-tx", PASSWORD))  # EHLO, AUTH: 2
        for _ in range(5):
            assert client.command(b"NOOP")[0] == 250  # 7
        assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250  # 8
        assert client.command(b"RCPT TO:<reader@example.com>")[0] == 250  # 9
        assert client.command(b"DATA")[0] == 354  # 10
        # the message and the 11th command in one write: its 250 is held for the RSET's reply
        client.sock.sendall(RECEIPT.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\nRSET\r\n")
        assert client.reply()[0] == 250  # the message's, not swallowed
        assert client.reply() == (421, b"4.7.0 Too many commands in one session, closing")
        assert len(gw.sink.messages()) == 1
    finally:
        gw.close()


def test_a_long_data_section_is_activity_for_the_idle_clock(tmp_path):
    gw = Setup(tmp_path, smtp_extra="idle_timeout = 2")
    try:
        client = RawClient(gw.port, login=("acme-tx", PASSWORD))
        assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
        assert client.command(b"RCPT TO:<reader@example.com>")[0] == 250
        assert client.command(b"DATA")[0] == 354
        body = RECEIPT.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n"
        for i in range(0, len(body), len(body) // 6 + 1):  # six pieces over 3 s: longer than idle_timeout
            client.sock.sendall(body[i : i + len(body) // 6 + 1])
            time.sleep(0.5)
        assert client.reply()[0] == 250
        assert client.command(b"RSET")[0] == 250  # not a 421: the DATA just ended
        assert client.command(b"NOOP")[0] == 250
        client.close()
    finally:
        gw.close()


def test_starttls_in_the_middle_of_a_transaction_gives_its_upstream_slot_back(tmp_path):
    from helpers import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    gw = Setup(tmp_path, smtp_extra=f'upstream_pool_size = 1\ntls_cert = "{cert}"\ntls_key = "{key}"')
    try:
        client = RawClient(gw.port, login=("acme-tx", PASSWORD))
        assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
        assert client.command(b"RCPT TO:<a@example.com>")[0] == 250  # the only upstream connection
        assert client.command(b"STARTTLS")[0] == 220
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        tls = context.wrap_socket(client.sock, server_hostname="localhost")  # and then it just waits
        other = RawClient(gw.port, login=("acme-tx", PASSWORD))
        started = time.monotonic()
        assert other.message(b"orders@news.demo.example", RECEIPT)[0] == 250
        assert time.monotonic() - started < 4  # the slot came back at STARTTLS, not at upstream_timeout
        other.close()
        tls.close()
    finally:
        gw.close()


def test_a_refusal_quoting_a_non_ascii_subject_is_an_ascii_reply(gw):
    """RFC 5321 2.4: reply text is US-ASCII (SMTPUTF8 or not): a quoted "ö" goes as \\xf6, never as UTF-8."""
    client = RawClient(gw.port, login=("acme", PASSWORD))
    data = SAMPLE.replace(
        b"Subject:", b"Subject: =?utf-8?q?Re=3A_Sch=C3=B6ne_Angebote?=\r\nX-Old-Subject:", 1
    )
    code, text = client.message(b"news@news.demo.example", data)
    assert code == 550 and b"Sch\\xf6ne" in text, text
    assert text.isascii()
