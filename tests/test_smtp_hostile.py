"""The SMTP door against input meant to hurt it, on real sockets, in front of a real upstream process: a
transaction that cannot go on ends with a definite reply and gives its upstream connection back, so the
next sender is served at once (issue 19, point 1)."""

from __future__ import annotations

import base64
import socket
import time

import pytest
from test_smtp import PASSWORD, SAMPLE, Setup

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


class Raw:
    """An SMTP client that writes exactly the bytes it is given."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        assert self.reply()[0] == 220
        self.command(b"EHLO client.example")
        login = base64.b64encode(b"\0acme-tx\0" + PASSWORD.encode())
        assert self.command(b"AUTH PLAIN " + login)[0] == 235

    def reply(self) -> tuple[int, bytes]:
        while True:
            line = self.file.readline()
            assert line, "connection closed"
            if line[3:4] != b"-":
                return int(line[:3]), line[4:].strip()

    def command(self, line: bytes) -> tuple[int, bytes]:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def message(self, mail_from: bytes, data: bytes) -> tuple[int, bytes]:
        code, text = self.command(b"MAIL FROM:<" + mail_from + b">")
        if code != 250:
            return code, text
        assert self.command(b"RCPT TO:<reader@example.com>")[0] == 250
        assert self.command(b"DATA")[0] == 354
        self.sock.sendall(data.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        return self.reply()

    def close(self) -> None:
        self.command(b"QUIT")
        self.sock.close()


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path, smtp_extra=f"upstream_pool_size = {POOL}")
    yield setup
    setup.close()


def test_transactions_that_cannot_go_on_give_their_upstream_connection_back(gw):
    client = Raw(gw.port)
    receipt = SAMPLE.replace(b"Advertisement: ", b"Your order: ")
    for _ in range(POOL * 3):
        code, text = client.message(b'"a\rb"@news.demo.example', receipt)
        assert (code, text[:5]) == (501, b"5.1.7"), text
        code, text = client.message(b"orders@news.demo.example", NUL_CHARSET)
        assert (code, text[:5]) == (554, b"5.6.0") and b"cannot be parsed" in text, text
        code, text = client.message(b"orders@news.demo.example", nested(1000))
        assert (code, text[:5]) == (554, b"5.6.0") and b"multipart" in text, text
        code, text = client.command(b'RCPT TO:<"x\x7fy"@example.com>')
        assert code in (501, 503), text
    started = time.monotonic()
    code, text = client.message(b"orders@news.demo.example", receipt)
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
