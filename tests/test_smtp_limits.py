"""A limit on everything one SMTP client can use, each a key of [smtp] with a clear reply at the limit
(docs/smtp.md#limits), on real sockets against `gateway serve` and a real upstream process."""

from __future__ import annotations

import select
import socket
import time

import pytest
from servers import RawClient
from test_smtp import PASSWORD, SAMPLE, Setup

from gateway.mail.outgoing import received

RECEIPT = SAMPLE.replace(b"Advertisement: ", b"Your order: ")  # from acme-tx: transactional
TX = ("acme-tx", PASSWORD)


def gateway(tmp_path, **keys) -> Setup:
    extra = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in keys.items())
    return Setup(tmp_path, smtp_extra=extra.replace("'", '"'))


@pytest.fixture
def made():
    setups = []

    def make(tmp_path, **keys):
        setups.append(gateway(tmp_path, **keys))
        return setups[-1]

    yield make
    for setup in setups:
        setup.close()


def closed_within(client: RawClient, seconds: float) -> tuple[float, tuple[int, bytes]]:
    """How long until the gateway's closing reply came, and that reply."""
    started = time.monotonic()
    client.sock.settimeout(seconds)
    last = client.reply()
    return time.monotonic() - started, last


def test_the_banner_names_the_gateway_not_the_library(made, tmp_path):
    gw = made(tmp_path)
    client = RawClient(gw.port)
    assert client.greeting == (220, b"localhost ESMTP compliance gateway")
    client.close()


def test_the_banner_is_configurable(made, tmp_path):
    gw = made(tmp_path, banner="ESMTP mail.acme.example relay")
    client = RawClient(gw.port)
    assert client.greeting == (220, b"localhost ESMTP mail.acme.example relay")
    client.close()


def test_connections_are_limited_in_all_and_per_client_address(made, tmp_path):
    gw = made(tmp_path, max_connections=4, max_connections_per_client=2)
    first = [RawClient(gw.port, source="127.0.0.5") for _ in range(2)]
    assert all(c.greeting[0] == 220 for c in first)
    over = RawClient(gw.port, source="127.0.0.5")
    assert over.greeting == (421, b"4.7.0 Too many connections from your address, try again later")
    assert over.reply() == (0, b"")  # and closed
    others = [RawClient(gw.port, source="127.0.0.6") for _ in range(2)]  # another client: served
    assert all(c.greeting[0] == 220 for c in others)
    full = RawClient(gw.port, source="127.0.0.7")
    assert full.greeting == (421, b"4.7.0 Too many connections, try again later")
    first[0].close()
    time.sleep(0.3)
    again = RawClient(gw.port, source="127.0.0.5", login=TX)  # a place freed: taken, and works
    assert again.message(b"orders@news.demo.example", RECEIPT)[0] == 250
    for c in [*first[1:], *others, again]:
        c.close()


def test_noop_does_not_keep_an_idle_session_open(made, tmp_path):
    gw = made(tmp_path, idle_timeout=2)
    client = RawClient(gw.port, login=TX)
    started = time.monotonic()
    for _ in range(20):  # NOOP after NOOP, each well within the idle time
        last = client.command(b"NOOP")
        if last[0] != 250:
            break
        time.sleep(0.4)
    took = time.monotonic() - started
    assert last == (421, b"4.4.2 Timeout exceeded, closing") and 1.8 < took < 4, (took, last)


def test_an_idle_session_is_told_why_it_is_closed(made, tmp_path):
    gw = made(tmp_path, idle_timeout=1)
    client = RawClient(gw.port, login=TX)
    took, last = closed_within(client, 5)
    assert last == (421, b"4.4.2 Timeout exceeded, closing") and 0.8 < took < 3, (took, last)


def test_a_command_that_does_something_restarts_the_idle_clock(made, tmp_path):
    gw = made(tmp_path, idle_timeout=2)
    client = RawClient(gw.port, login=TX)
    for _ in range(4):  # 4 x 1 s: longer than the idle time, alive throughout
        time.sleep(1)
        assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
        assert client.command(b"RSET")[0] == 250
    client.close()


def test_a_session_has_a_time_limit(made, tmp_path):
    gw = made(tmp_path, session_timeout=2)
    client = RawClient(gw.port, login=TX)
    assert client.message(b"orders@news.demo.example", RECEIPT)[0] == 250
    time.sleep(2.2)
    assert client.command(b"MAIL FROM:<orders@news.demo.example>") == (
        421,
        b"4.7.0 Session time limit reached, closing",
    )
    assert client.reply() == (0, b"")


def test_a_session_has_a_command_limit(made, tmp_path):
    gw = made(tmp_path, max_commands=12)
    client = RawClient(gw.port, login=TX)  # EHLO, AUTH: 2
    for _ in range(10):
        assert client.command(b"RSET")[0] == 250
    assert client.command(b"RSET") == (421, b"4.7.0 Too many commands in one session, closing")
    assert client.reply() == (0, b"")


def test_data_trickled_in_is_cut_off_and_nothing_is_relayed(made, tmp_path):
    gw = made(tmp_path, data_timeout=2, data_idle_timeout=1)
    client = RawClient(gw.port, login=TX)
    assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
    assert client.command(b"RCPT TO:<reader@example.com>")[0] == 250
    assert client.command(b"DATA")[0] == 354
    started = time.monotonic()
    for byte in RECEIPT[:40]:  # a byte every 0.5 s: never idle for 1 s, but 2 s in all
        if select.select([client.sock], [], [], 0.5)[0]:
            break
        client.sock.sendall(bytes([byte]))
    last = client.reply()
    took = time.monotonic() - started
    assert last == (421, b"4.4.2 Timeout exceeded, closing") and 1.8 < took < 3.5, (took, last)
    assert gw.sink.messages() == []


def test_data_with_no_bytes_for_a_while_is_cut_off(made, tmp_path):
    gw = made(tmp_path, data_idle_timeout=1)
    client = RawClient(gw.port, login=TX)
    assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
    assert client.command(b"RCPT TO:<reader@example.com>")[0] == 250
    assert client.command(b"DATA")[0] == 354
    client.sock.sendall(RECEIPT[:100])
    took, last = closed_within(client, 5)
    assert last == (421, b"4.4.2 Timeout exceeded, closing") and 0.8 < took < 3, (took, last)
    assert gw.sink.messages() == []


def test_recipients_per_message_are_limited_at_no_fewer_than_rfc_5321s_hundred(made, tmp_path):
    gw = made(tmp_path, max_recipients=100)
    client = RawClient(gw.port, login=TX)
    assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
    for i in range(100):
        assert client.command(b"RCPT TO:<reader%d@example.com>" % i)[0] == 250
    assert client.command(b"RCPT TO:<one-too-many@example.com>") == (452, b"4.5.3 Too many recipients")
    assert client.command(b"DATA")[0] == 354
    client.sock.sendall(RECEIPT.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
    assert client.reply()[0] == 250
    client.close()
    ((envelope, _),) = gw.sink.messages()
    assert len(envelope["rcpt_tos"]) == 100 and "one-too-many@example.com" not in envelope["rcpt_tos"]


def test_a_slow_client_does_not_keep_an_upstream_connection_from_others(made, tmp_path):
    gw = made(tmp_path, upstream_pool_size=1, upstream_hold_timeout=1)
    slow = RawClient(gw.port, login=TX)
    assert slow.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
    assert slow.command(b"RCPT TO:<slow@example.com>")[0] == 250  # holds the only upstream connection
    assert slow.command(b"DATA")[0] == 354
    slow.sock.sendall(RECEIPT[:200])
    time.sleep(1.5)  # past the hold time: given back
    fast = RawClient(gw.port, login=TX)
    started = time.monotonic()
    assert fast.message(b"orders@news.demo.example", RECEIPT)[0] == 250
    assert time.monotonic() - started < 2  # not the 5 s upstream_timeout a busy pool would cost
    fast.close()
    slow.sock.sendall(RECEIPT[200:].replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
    assert slow.reply()[0] == 250  # taken again at the end of DATA, its recipient named anew
    slow.close()
    delivered = sorted(envelope["rcpt_tos"][0] for envelope, _ in gw.sink.messages())
    assert delivered == ["reader@example.com", "slow@example.com"]
    assert "given back after" in gw.gateway.output()


def test_ehlo_must_be_one_printable_word_and_received_never_carries_a_line_break(made, tmp_path):
    gw = made(tmp_path)
    client = RawClient(gw.port, ehlo=b"evil\rX-Injected: yes")
    assert client.command(b"EHLO evil\rX-Injected: yes")[0] == 501
    assert client.command(b"HELO a\x7fb")[0] == 501
    assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 503  # still no EHLO
    client.close()
    field = received(
        helo="evil\rX-Injected: yes",
        peer="127.0.0.1",
        tls=False,
        authenticated=True,
        by="gw.example",
        message_id="x",
        recipients=["a@example.com"],
        now=__import__("datetime").datetime(2026, 12, 3, tzinfo=__import__("datetime").UTC),
    )
    assert "\rX" not in field and field.startswith("from evil?X-Injected:?yes ")


def test_the_limits_do_not_cut_off_an_ordinary_client(made, tmp_path):
    """Defaults: a session sending 50 messages over one connection, as bulk senders do."""
    gw = made(tmp_path)
    client = RawClient(gw.port, login=TX)
    for i in range(50):
        message = RECEIPT.replace(b"<spring-2026@", b"<spring-2026-%d@" % i)  # 50 messages, not retries
        assert client.message(b"orders@news.demo.example", message)[0] == 250
    client.close()
    assert len(gw.sink.messages()) == 50


def test_a_client_that_never_reads_does_not_stop_others(made, tmp_path):
    gw = made(tmp_path)
    hog = socket.create_connection(("127.0.0.1", gw.port))
    hog.sendall(b"NOOP\r\n" * 20_000)  # replies it never reads
    client = RawClient(gw.port, login=TX)
    assert client.message(b"orders@news.demo.example", RECEIPT)[0] == 250
    client.close()
    hog.close()


def test_a_stopping_gateway_says_so_to_every_open_session(made, tmp_path):
    gw = made(tmp_path)
    clients = [RawClient(gw.port, login=TX) for _ in range(3)]
    gw.gateway.stop()
    for client in clients:
        assert client.reply() == (421, b"4.3.2 Service shutting down, try again later")
