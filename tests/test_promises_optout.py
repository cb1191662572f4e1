"""PROMISES.md rows that involve an opt-out channel, end to end over real sockets: each company's example
config served by `gateway serve`, mail relayed to a test sink, the opt-out taken the way the promise says
(List-Unsubscribe one-click, a reply, mail to the unsubscribe address, a STOP text, an erasure request),
then the very next message."""

from __future__ import annotations

import re
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import dkim
import pytest
from dns_stub import DnsStub
from helpers import REPO, run_cli
from servers import GatewayProcess, Sink, free_port
from test_promises import email
from twilio.request_validator import RequestValidator

EXAMPLES = REPO / "config" / "examples"
PASSWORD = "promise-test-password-1"
TOKEN = "twilio-auth-token-for-tests"


class Company:
    """An example config with its listeners, store and upstream moved into a test directory, and an SMTP
    login for every sender (how a tool authenticates is not what the promises are about)."""

    def __init__(self, example: str, tmp: Path, dns_port: int) -> None:
        self.tmp, self.smtp, self.http, upstream = tmp, free_port(), free_port(), free_port()
        text = (EXAMPLES / example).read_text()
        text = re.sub(r"(?m)^database\s*=.*$", f'database = "sqlite:///{tmp}/company.db"', text)
        text = re.sub(r"(?m)^public_url\s*=.*$", f'public_url = "http://127.0.0.1:{self.http}"', text)
        text = text.replace("[gateway]", f'[gateway]\nstate_dir = "{tmp}/state"', 1)
        text = re.sub(r"(?m)^smtp_password_env\s*=.*$", 'smtp_password_env = "PROMISE_PASSWORD"', text)

        def login(match: re.Match) -> str:
            block = match.group(0)
            name = re.search(r'(?m)^name\s*=\s*"([^"]+)"', block).group(1)
            if "smtp_username" not in block:
                block = (
                    block.rstrip("\n")
                    + f'\nsmtp_username = "{name}"\nsmtp_password_env = "PROMISE_PASSWORD"\n\n'
                )
            return block

        text = re.sub(r"(?ms)^\[\[sender\]\].*?(?=^\[|\Z)", login, text)
        text += (
            (
                f'\n[smtp]\nlisten = "127.0.0.1:{self.smtp}"\nupstream = "smtp://127.0.0.1:{upstream}"\n'
                f'\n[http]\nlisten = "127.0.0.1:{self.http}"\n'
            )
            if "[smtp]" not in text
            else ""
        )
        # people's own mail is DKIM-signed by their domain, as mailbox providers sign it (docs/optouts.md)
        text = text.replace("[smtp]\n", f'[smtp]\ndns_resolver = "127.0.0.1:{dns_port}"\n', 1)
        self.config = tmp / "company.toml"
        self.config.write_text(text)
        self.env = {
            "PROMISE_PASSWORD": PASSWORD,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "GATEWAY_TOKEN_SECRET": "promise-token-secret-0123456789",
        }
        for name in re.findall(r'(?m)^\w+_env\s*=\s*"([A-Z0-9_]+)"', text):
            self.env.setdefault(name, f"key-for-{name.lower()}-0123456789")
        self.sink = Sink(tmp / "sink", upstream)
        self.gateway = GatewayProcess(self.config, self.http, tmp, self.env)

    def cli(self, *args: str) -> str:
        code, out, err = (
            run_cli(*args[:2], "--config", str(self.config), *args[2:])
            if args[0] in ("suppress", "consent")
            else run_cli(args[0], "--config", str(self.config), *args[1:])
        )
        assert code == 0, err
        return out

    def send(self, sender: str, message: bytes, to: str) -> dict:
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=30) as client:
            client.login(sender, PASSWORD)
            frm = re.search(rb"^From: .*<([^>]+)>", message, re.MULTILINE).group(1).decode()
            try:
                return client.sendmail(frm, [to], message)
            except smtplib.SMTPRecipientsRefused as refused:
                return {k: (code, text.decode()) for k, (code, text) in refused.recipients.items()}

    def refused(self, sender: str, message: bytes, to: str) -> bool:
        answer = self.send(sender, message, to)
        return to in answer and answer[to][0] == 550 and "SUPPRESSED" in answer[to][1]

    def to_own_address(self, address: str, message: bytes) -> int:
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=30) as client:
            client.ehlo()
            client.mail("")
            client.rcpt(address)
            return client.data(message)[0]

    def one_click(self) -> int:
        (_, data), *_ = self.sink.messages()[-1:]
        url = re.search(rb"^List-Unsubscribe: <(http[^>]+)>", data, re.MULTILINE).group(1).decode()
        request = urllib.request.Request(
            url,
            data=b"List-Unsubscribe=One-Click",
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    def post_json(self, path: str, body: dict, key: str) -> tuple[int, dict]:
        import json

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def close(self) -> None:
        self.sink.stop()
        assert self.gateway.stop() == 0, self.gateway.output()


PUBLIC = (REPO / "tests" / "keys" / "dkim-test.pub.b64").read_text().strip()
PRIVATE = (REPO / "tests" / "keys" / "dkim-test.pem").read_bytes()


def signed(message: bytes) -> bytes:
    """Mail as example.com's mail servers send it: DKIM-signed."""
    return (
        dkim.sign(message, b"s1", b"example.com", PRIVATE, include_headers=[b"from", b"to", b"subject"])
        + message
    )


@pytest.fixture
def company(tmp_path):
    opened = []
    with DnsStub({("s1._domainkey.example.com", "TXT"): [f"v=DKIM1; k=rsa; p={PUBLIC}"]}) as dns:

        def start(example: str) -> Company:
            opened.append(Company(example, tmp_path, dns.port))
            return opened[-1]

        yield start
        for c in opened:
            c.close()


BOXES = {
    "frm": "news@thecustomizeboxes.com",
    "address": "1200 Commerce Dr, Suite 210, Dallas, TX 75247",
    "brand": "The Customize Boxes",
}


def order(frm: str, to: str, brand: str) -> bytes:
    return (
        f"From: {brand} <{frm}>\r\nTo: {to}\r\nSubject: Your order 1001 has shipped\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\nYour order is on its way.\r\n"
    ).encode()


def test_000_opt_out_by_replying_unsubscribe_or_by_emailing_the_address(company):
    boxes = company("000-customize-boxes.toml")
    for person in ("ann@example.com", "bob@example.com"):
        boxes.cli(
            "consent",
            "add",
            person,
            "--channel",
            "email",
            "--sender",
            "newsletter",
            "--level",
            "implied",
            "--source",
            "registration",
        )
    news = {
        p: email(BOXES["frm"], p, "New box styles", address=BOXES["address"], brand=BOXES["brand"])
        for p in ("ann@example.com", "bob@example.com")
    }
    assert boxes.send("newsletter", news["ann@example.com"], "ann@example.com") == {}
    reply = (
        b"From: Ann <ann@example.com>\r\nTo: bounces@localhost\r\nSubject: Re: unsubscribe\r\n\r\nthanks\r\n"
    )
    assert boxes.to_own_address("bounces@localhost", signed(reply)) == 250
    bob = b"From: bob@example.com\r\nTo: unsubscribe@localhost\r\nSubject: hi\r\n\r\n.\r\n"
    assert boxes.to_own_address("unsubscribe@localhost", signed(bob)) == 250
    for person in ("ann@example.com", "bob@example.com"):
        assert boxes.refused("newsletter", news[person], person)
        assert (
            boxes.send("orders", order("orders@thecustomizeboxes.com", person, BOXES["brand"]), person) == {}
        )


def test_000_and_003_deletion_requests_keep_them_suppressed_without_their_address(company):
    boxes = company("000-customize-boxes.toml")
    boxes.cli(
        "consent",
        "add",
        "cara@example.com",
        "--channel",
        "email",
        "--sender",
        "newsletter",
        "--level",
        "implied",
        "--evidence",
        "registered as cara@example.com",
    )
    message = email(
        BOXES["frm"], "cara@example.com", "New box styles", address=BOXES["address"], brand=BOXES["brand"]
    )
    assert boxes.send("newsletter", message, "cara@example.com") == {}
    boxes.cli("forget", "cara@example.com")
    assert b"cara@example.com" not in (boxes.tmp / "company.db").read_bytes()
    assert boxes.refused("newsletter", message, "cara@example.com")
    assert boxes.refused(
        "orders",
        order("orders@thecustomizeboxes.com", "cara@example.com", BOXES["brand"]),
        "cara@example.com",
    )  # never contacted again, not even about orders


def test_002_texts_withdrawn_by_stop_and_email_by_link_while_order_updates_continue(company):
    belk = company("002-belkcase.toml")
    belk.cli(
        "consent",
        "add",
        "+12135550111",
        "--channel",
        "sms",
        "--sender",
        "belkcase",
        "--level",
        "express_written",
        "--obtained-at",
        "2026-01-01T00:00:00Z",
    )
    belk.cli(
        "consent",
        "add",
        "dee@example.com",
        "--channel",
        "email",
        "--sender",
        "belkcase",
        "--level",
        "express",
    )
    key = belk.env["BELKCASE_API_KEY"]
    text = {
        "to": "+12135550111",
        "body": "Belkcase: our store hours change on Monday. Reply STOP to opt out.",  # (no ad: informational)
        "category": "informational",
    }
    assert belk.post_json("/v1/sms", text, key)[0] == 201
    params = {"From": "+12135550111", "To": "+12135550190", "Body": "Stop", "MessageSid": "SM" + "2" * 32}
    signature = RequestValidator(TOKEN).compute_signature(
        f"http://127.0.0.1:{belk.http}/v1/webhooks/twilio/inbound", params
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{belk.http}/v1/webhooks/twilio/inbound",
        data=urllib.parse.urlencode(params).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert b"unsubscribed" in response.read()
    status, body = belk.post_json("/v1/sms", text, key)
    assert status == 422 and body["violations"][0]["code"] == "SUPPRESSED"
    message = email(
        "news@belkcase.com",
        "dee@example.com",
        "New cases",
        address="450 Harbor Blvd, Suite 300, Los Angeles, CA 90012",
        brand="Belkcase",
        unsubscribe="Cancel Subscription",
    )
    assert belk.send("belkcase", message, "dee@example.com") == {}
    assert belk.one_click() == 200
    assert belk.refused("belkcase", message, "dee@example.com")
    assert (
        belk.send(
            "belkcase-orders", order("orders@belkcase.com", "dee@example.com", "Belkcase"), "dee@example.com"
        )
        == {}
    )


@pytest.mark.parametrize(
    "example, marketing, transactional, domain, brand, address",
    [
        (
            "003-customtronics.toml",
            "customtronics",
            "customtronics-service",
            "customtronics.com",
            "CUSTOMtronics",
            "7400 Industrial Pkwy, Unit B, Kansas City, MO 64120",
        ),
        ("004-shop.toml", "shop", "shop-receipts", "shop.example", "Shop", "PO Box 4410, Portland, OR 97208"),
    ],
)
def test_003_004_unsubscribe_link_stops_marketing_at_once_and_transactional_continues(
    company, example, marketing, transactional, domain, brand, address
):
    c = company(example)
    message = email(f"news@{domain}", "eve@example.com", "What's new", address=address, brand=brand)
    assert c.send(marketing, message, "eve@example.com") == {}
    assert c.one_click() == 200
    assert c.refused(marketing, message, "eve@example.com")
    assert c.send(transactional, order(f"orders@{domain}", "eve@example.com", brand), "eve@example.com") == {}
