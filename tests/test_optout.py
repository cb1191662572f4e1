"""Closing the opt-out loop end to end: the List-Unsubscribe link a relayed message carries, followed
the way a mailbox provider and a person do, and the very next message to that address."""

from __future__ import annotations

import asyncio
import re
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from gateway.store.sqlite import SqliteStore
from helpers import REPO
from servers import GatewayProcess, Sink, free_port

SAMPLE = (REPO / "config" / "samples" / "newsletter.eml").read_bytes().replace(b"\n", b"\r\n")
RECEIPT = (b"From: Demo <orders@news.demo.example>\r\nTo: reader@example.com\r\nSubject: Your order 1001\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThanks for your order.\r\n")
PASSWORD = "optout-smtp-secret-1"
ENV = {"ACME_SMTP_PASSWORD": PASSWORD, "TX_SMTP_PASSWORD": PASSWORD,
       "GATEWAY_TOKEN_SECRET": "new-secret-0123456789abcdef,old-secret-0123456789abcdef"}

CONFIG = """
[gateway]
database = "sqlite:///{tmp}/gateway.db"
state_dir = "{tmp}/state"
public_url = "http://127.0.0.1:{http}"

[smtp]
listen = "127.0.0.1:{smtp}"
upstream = "smtp://127.0.0.1:{upstream}"

[http]
listen = "127.0.0.1:{http}"

[[sender]]
name = "acme"
brand = "Demo Outfitters"
physical_address = "123 Main St, Suite 4, Springfield, IL 62701"
from_domains = ["news.demo.example"]
smtp_username = "acme"
smtp_password_env = "ACME_SMTP_PASSWORD"

[[sender]]
name = "acme-tx"
brand = "Demo Outfitters"
from_domains = ["news.demo.example"]
category = "transactional"
smtp_username = "acme-tx"
smtp_password_env = "TX_SMTP_PASSWORD"
"""


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.smtp, self.http, upstream = free_port(), free_port(), free_port()
        self.sink = Sink(tmp / "sink", upstream)
        self.config = tmp / "gateway.toml"
        self.config.write_text(CONFIG.format(tmp=tmp, smtp=self.smtp, http=self.http, upstream=upstream))
        self.gateway = GatewayProcess(self.config, self.http, tmp, ENV)

    def send(self, user: str, message: bytes, to: str = "reader@example.com") -> dict:
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=30) as client:
            client.login(user, PASSWORD)
            try:
                return client.sendmail("news@news.demo.example", [to], message)
            except smtplib.SMTPRecipientsRefused as refused:
                return {k: (code, text.decode()) for k, (code, text) in refused.recipients.items()}

    def request(self, method: str, url: str, data: bytes | None = None,
                content_type: str = "application/x-www-form-urlencoded") -> tuple[int, str, dict]:
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def suppressions(self):
        async def read():
            store = SqliteStore(str(self.tmp / "gateway.db"))
            try:
                return [s async for s in store.suppressions()]
            finally:
                await store.close()
        return asyncio.run(read())

    def close(self) -> None:
        self.sink.stop()
        assert self.gateway.stop() == 0, self.gateway.output()


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path)
    yield setup
    setup.close()


def one_click_url(gw: Setup) -> str:
    assert gw.send("acme", SAMPLE) == {}
    (_, data), *_ = gw.sink.messages()[-1:]
    header = re.search(rb"^List-Unsubscribe: <(http[^>]+)>", data, re.M)
    assert header, data[:600]
    assert re.search(rb"^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$", data, re.M)
    return header.group(1).decode()


def test_one_click_post_suppresses_at_once_and_the_next_rcpt_is_refused(gw):
    url = one_click_url(gw)
    status, body, headers = gw.request("POST", url, b"List-Unsubscribe=One-Click")
    assert status == 200 and "unsubscribed" in body and "Location" not in headers
    refused = gw.send("acme", SAMPLE)
    assert refused["reader@example.com"][0] == 550 and "SUPPRESSED" in refused["reader@example.com"][1]
    assert gw.send("acme-tx", RECEIPT) == {}  # an unsubscribe does not stop receipts (SPEC.md)
    (entry,) = gw.suppressions()
    assert (entry.reason.value, entry.scope, entry.address) == ("unsubscribe", "acme", None)  # hashed
    status, _, _ = gw.request("POST", url, b"List-Unsubscribe=One-Click")
    assert status == 200 and len(gw.suppressions()) == 1  # idempotent


def test_get_and_head_change_nothing_then_the_page_button_unsubscribes(gw):
    url = one_click_url(gw)
    for method in ("GET", "HEAD", "GET"):
        status, body, headers = gw.request(method, url)
        assert status == 200 and headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "<form method=\"post\"" in body and "Demo Outfitters" in body
    assert gw.suppressions() == []
    assert gw.send("acme", SAMPLE) == {}
    form = re.search(r'action="([^"]+)"', body).group(1)
    status, body, _ = gw.request("POST", urllib.parse.urljoin(url, form), b"List-Unsubscribe=One-Click")
    assert status == 200 and len(gw.suppressions()) == 1


def test_multipart_one_click_as_some_mailbox_providers_send_it(gw):
    url = one_click_url(gw)
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--xyz--\r\n")
    status, _, _ = gw.request("POST", url, body, "multipart/form-data; boundary=xyz")
    assert status == 200 and len(gw.suppressions()) == 1


def test_forged_or_altered_tokens_change_nothing(gw):
    url = one_click_url(gw)
    base, token = url.rsplit("/", 1)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, token[:-1], "x" * 40, "A" * 700, token + "A"):
        for method, data in (("GET", None), ("POST", b"List-Unsubscribe=One-Click")):
            status, body, _ = gw.request(method, f"{base}/{bad}", data)
            assert status == 404 and "not valid" in body, bad
    status, _, _ = gw.request("POST", url, b"something=else")
    assert status == 400
    assert gw.suppressions() == []
    assert gw.send("acme", SAMPLE) == {}
