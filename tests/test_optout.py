"""Closing the opt-out loop end to end: the List-Unsubscribe link a relayed message carries, followed
the way a mailbox provider and a person do, and the very next message to that address."""

from __future__ import annotations

import asyncio
import re
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from helpers import ACME_TX_SENDER, MAIL_GATEWAY, REPO
from servers import GatewayProcess, Sink, free_port

from gateway.store.sqlite import SqliteStore

SAMPLE = (REPO / "config" / "samples" / "newsletter.eml").read_bytes().replace(b"\n", b"\r\n")
RECEIPT = (
    b"From: Demo <orders@news.demo.example>\r\nTo: reader@example.com\r\nSubject: Your order 1001\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThanks for your order.\r\n"
)
PASSWORD = "optout-smtp-secret-1"
ENV = {
    "ACME_SMTP_PASSWORD": PASSWORD,
    "TX_SMTP_PASSWORD": PASSWORD,
    "GATEWAY_OPS_KEY": "ops-key-0123456789abcdef",
    "GATEWAY_TOKEN_SECRET": "new-secret-0123456789abcdef,old-secret-0123456789abcdef",
}

CONFIG = MAIL_GATEWAY + "\n" + ACME_TX_SENDER


class Setup:
    def __init__(self, tmp: Path, smtp_extra: str = "") -> None:
        self.tmp = tmp
        self.smtp, self.http, upstream = free_port(), free_port(), free_port()
        self.sink = Sink(tmp / "sink", upstream)
        self.config = tmp / "gateway.toml"
        text = CONFIG.format(tmp=tmp, smtp=self.smtp, http=self.http, upstream=f"smtp://127.0.0.1:{upstream}")
        self.config.write_text(text.replace("\n[http]\n", "\n" + smtp_extra + "\n[http]\n", 1))
        self.gateway = GatewayProcess(self.config, self.http, tmp, ENV)

    def send(self, user: str, message: bytes, to: str = "reader@example.com") -> dict:
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=30) as client:
            client.login(user, PASSWORD)
            try:
                return client.sendmail("news@news.demo.example", [to], message)
            except smtplib.SMTPRecipientsRefused as refused:
                return {k: (code, text.decode()) for k, (code, text) in refused.recipients.items()}

    def request(
        self,
        method: str,
        url: str,
        data: bytes | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> tuple[int, str, dict]:
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
    header = re.search(rb"^List-Unsubscribe: <(http[^>]+)>", data, re.MULTILINE)
    assert header, data[:600]
    assert re.search(rb"^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$", data, re.MULTILINE)
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
    assert '<form method="post"' in body and "Demo Outfitters" in body
    assert gw.suppressions() == []
    assert gw.send("acme", SAMPLE) == {}
    form = re.search(r'action="([^"]+)"', body).group(1)
    status, body, _ = gw.request("POST", urllib.parse.urljoin(url, form), b"List-Unsubscribe=One-Click")
    assert status == 200 and len(gw.suppressions()) == 1


def test_multipart_one_click_as_some_mailbox_providers_send_it(gw):
    url = one_click_url(gw)
    body = b'--xyz\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--xyz--\r\n'
    status, _, _ = gw.request("POST", url, body, "multipart/form-data; boundary=xyz")
    assert status == 200 and len(gw.suppressions()) == 1


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded; charset=x-nonexistent"),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n'
            b"Content-Type: text/plain; charset=bogus\r\n\r\nOne-Click\r\n--xyz--\r\n",
            "multipart/form-data; boundary=xyz",
        ),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n'
            b"Content-Transfer-Encoding: zzz\r\n\r\nOne-Click\r\n--xyz--\r\n",
            "multipart/form-data; boundary=xyz",
        ),
    ],
    ids=["unknown-charset", "part-charset", "part-encoding"],
)
def test_a_form_that_cannot_be_read_is_a_400_not_an_error(gw, body, content_type):
    status, _, _ = gw.request("POST", one_click_url(gw), body, content_type)
    assert status == 400 and gw.suppressions() == []
    assert "Traceback" not in gw.gateway.output()


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


# -- mail to the gateway's own addresses: mailto unsubscribe, replies, bounces, complaints ----------------


def deliver_unauthenticated(gw: Setup, to: str, message: bytes, mail_from: str = "") -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", gw.smtp, timeout=30) as client:
        client.ehlo()
        assert client.mail(mail_from)[0] == 250
        code, text = client.rcpt(to)
        if code != 250:
            return code, text.decode()
        code, text = client.data(message)
        return code, text.decode()


def refused_next(gw: Setup, to: str = "reader@example.com") -> bool:
    answer = gw.send("acme", SAMPLE.replace(b"To: reader@example.com", f"To: {to}".encode()), to=to)
    return to in answer and answer[to][0] == 550 and "SUPPRESSED" in answer[to][1]


def test_mailto_unsubscribe_from_the_list_unsubscribe_header(gw):
    assert gw.send("acme", SAMPLE) == {}
    ((_, data),) = gw.sink.messages()
    mailto = re.search(rb"<mailto:([^?>]+)\?subject=([^>]+)>", data).groups()
    address, subject = mailto[0].decode(), urllib.parse.unquote(mailto[1].decode())
    assert address == "unsubscribe+acme@localhost" and subject.startswith("unsubscribe ")
    code, _text = deliver_unauthenticated(
        gw,
        address,
        (f"From: reader@example.com\r\nTo: {address}\r\nSubject: {subject}\r\n\r\n").encode(),
        "reader@example.com",
    )
    assert code == 250
    assert refused_next(gw)
    assert gw.send("acme-tx", RECEIPT) == {}  # receipts still go
    assert len(gw.sink.messages()) == 2  # the unsubscribe mail itself went nowhere


DSN = """From: MAILER-DAEMON@mx.example.net
To: bounces@localhost
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Fri, 1 May 2026 10:00:00 -0400

Final-Recipient: rfc822; gone@example.com
Original-Recipient: rfc822;gone@example.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown

Final-Recipient: rfc822; busy@example.com
Action: delayed
Status: 4.2.2

--b
Content-Type: text/rfc822-headers

From: Demo Outfitters <news@news.demo.example>
To: gone@example.com
Subject: Advertisement: the spring collection is here

--b--
""".replace("\n", "\r\n").encode()


def test_unauthenticated_clients_reach_only_the_gateways_own_addresses(gw):
    with smtplib.SMTP("127.0.0.1", gw.smtp, timeout=30) as client:
        client.ehlo()
        assert client.mail("x@example.com")[0] == 250
        assert client.rcpt("reader@example.com")[0] == 530
        assert client.rcpt("unsubscribe@localhost")[0] == 250
        assert client.rcpt("reader@example.com")[0] == 452
    with smtplib.SMTP("127.0.0.1", gw.smtp, timeout=30) as client:
        client.login("acme", PASSWORD)
        assert client.mail("news@news.demo.example")[0] == 250
        assert client.rcpt("reader@example.com")[0] == 250
        assert client.rcpt("unsubscribe@localhost")[0] == 452  # not in a relayed transaction
    garbage = b"\x00\xff not a message at all \r\n" * 20
    assert deliver_unauthenticated(gw, "bounces@localhost", garbage)[0] == 250
    # parts nested 3,000 deep (past the parser's recursion): one line in the log, not a traceback each
    deep = (
        b"From: a@example.org\r\nTo: unsubscribe@localhost\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        + b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(3000)
        )
    )
    assert deliver_unauthenticated(gw, "unsubscribe@localhost", deep + b"\r\nhi\r\n")[0] == 250
    assert gw.sink.messages() == [] and gw.suppressions() == []
    assert "Traceback" not in gw.gateway.output()


# -- erasure ------------------------------------------------------------------------------------------------


def test_forget_leaves_no_plain_address_in_the_database_file_yet_it_stays_suppressed(gw):
    from helpers import run_cli

    assert gw.send("acme", SAMPLE) == {}  # a relayed decision
    assert (
        run_cli(
            "consent",
            "add",
            "reader@example.com",
            "--channel",
            "email",
            "--sender",
            "acme",
            "--level",
            "express",
            "--evidence",
            "signed up as reader@example.com",
            "--config",
            str(gw.config),
        )[0]
        == 0
    )
    assert (
        run_cli(
            "suppress",
            "add",
            "reader@example.com",
            "--channel",
            "email",
            "--sender",
            "acme-tx",
            "--reason",
            "manual",
            "--config",
            str(gw.config),
        )[0]
        == 0
    )
    assert refused_next_tx(gw)
    code, out, err = run_cli("forget", "reader@example.com", "--config", str(gw.config))
    assert code == 0, err
    assert '"decisions": ' in out and '"suppressions_hashed": 1' in out
    for path in (gw.tmp / "gateway.db", gw.tmp / "gateway.db-wal"):
        if path.exists():
            assert b"reader@example.com" not in path.read_bytes(), path
    assert refused_next(gw)  # still blocked, by its hash
    assert refused_next_tx(gw)  # erased blocks even receipts
    assert all(s.address is None for s in gw.suppressions())


def refused_next_tx(gw: Setup) -> bool:
    answer = gw.send("acme-tx", RECEIPT)
    return "reader@example.com" in answer and answer["reader@example.com"][0] == 550


def test_forget_over_http_needs_an_ops_key(gw):
    import json

    url = f"http://127.0.0.1:{gw.http}/v1/forget"
    for key, status in (("", 401), ("wrong", 401), (ENV["GATEWAY_OPS_KEY"], 200)):
        req = urllib.request.Request(
            url,
            data=json.dumps({"address": "Someone@Example.com"}).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                got, body = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            got, body = error.code, json.loads(error.read())
        assert got == status, body
    assert body["channel"] == "email" and body["erased"] is True
    assert refused_next(gw, "someone@example.com")


def big_dsn(count: int) -> bytes:
    recipients = "".join(
        f"Final-Recipient: rfc822; gone{i}@example.com\nAction: failed\nStatus: 5.1.1\n\n"
        for i in range(count)
    )
    return (
        DSN.decode()
        .replace(
            "Final-Recipient: rfc822; gone@example.com",
            recipients + "Final-Recipient: rfc822; gone@example.com",
            1,
        )
        .encode()
    )


def test_an_old_link_asks_for_the_address_and_still_unsubscribes(gw):
    from datetime import UTC, datetime, timedelta

    from gateway.model import Channel
    from gateway.tokens import TokenSigner

    signer = TokenSigner([b"new-secret-0123456789abcdef"])
    old = int((datetime.now(UTC) - timedelta(days=181)).timestamp())
    base = f"http://127.0.0.1:{gw.http}/unsubscribe/"
    expired = base + signer.make(Channel.EMAIL, "acme", "reader@example.com", old)
    dated_2001 = base + signer.make(Channel.EMAIL, "acme", "reader@example.com", 978_307_200)
    for url in (expired, dated_2001):
        status, body, _ = gw.request("GET", url)
        assert status == 200 and 'name="address"' in body and "older than 180 days" in body
        status, body, _ = gw.request("POST", url, b"List-Unsubscribe=One-Click")
        assert status == 410 and 'name="address"' in body
    assert gw.suppressions() == []
    status, body, _ = gw.request("POST", expired, b"address=someone-else%40example.com")
    assert status == 400 and "not the address" in body and gw.suppressions() == []
    status, body, _ = gw.request("POST", expired, b"address=Reader%40Example.com")
    assert status == 200 and "You are unsubscribed" in body
    (entry,) = gw.suppressions()
    assert (entry.reason.value, entry.scope, entry.source) == (
        "unsubscribe",
        "acme",
        "unsubscribe page, address confirmed",
    )
    assert refused_next(gw)
    fresh = base + signer.make(
        Channel.EMAIL, "acme", "b@example.com", int(datetime.now(UTC).timestamp()) - 86400 * 179
    )
    assert gw.request("POST", fresh, b"List-Unsubscribe=One-Click")[0] == 200  # within 180 days: one click


def test_forget_leaves_the_address_nowhere_under_the_state_directory_or_in_the_database(gw):
    """Decisions still waiting in a journal (the store was busy when they were made) are erased there, and
    arrive erased; free text quoting the address (a consent's evidence, a source, a note) is scrubbed in
    everyone's rows."""
    import json

    from helpers import run_cli

    from gateway.decisions import DecisionLog
    from gateway.model import Category, Channel, Decision, Verdict
    from gateway.store.base import decision_row, now

    assert gw.send("acme", SAMPLE) == {}
    config = ["--config", str(gw.config)]
    consent = ["consent", "add", "--channel", "email", "--sender", "acme", "--level", "express"]
    assert run_cli(*consent[:2], "reader@example.com", *consent[2:], "--source", "form reader@example.com",
                   "--evidence", "typed Reader@Example.com", *config)[0] == 0  # fmt: skip
    assert run_cli(*consent[:2], "other@example.com", *consent[2:], "--evidence", "referred by READER@example.com",
                   *config)[0] == 0  # fmt: skip
    journal = gw.tmp / "state" / "decisions-999999.journal"  # a worker's, left while the store was busy
    waiting = [
        Decision("0000000000001aaaaaaaa", now(), Channel.EMAIL, "acme", "reader@example.com", Category.MARKETING,
                 Verdict.RELAYED, excerpt="Hello reader@example.com", upstream="250 ok <reader@example.com>"),
        Decision("0000000000002bbbbbbbb", now(), Channel.EMAIL, "acme", "other@example.com", Category.MARKETING,
                 Verdict.RELAYED, excerpt="Spring sale"),
    ]  # fmt: skip
    journal.write_text("".join(json.dumps(decision_row(d, "")) + "\n" for d in waiting))

    code, out, err = run_cli("forget", "reader@example.com", *config)
    assert code == 0 and json.loads(out)["journaled"] == 1, (out, err)

    def everywhere() -> list[str]:
        found = []
        for path in [*(gw.tmp / "state").rglob("*"), *gw.tmp.glob("gateway.db*")]:
            if path.is_file() and b"reader@example.com" in path.read_bytes().lower():
                found.append(str(path))
        return found

    assert everywhere() == []
    assert "other@example.com" in journal.read_text()  # others' decisions wait as they were

    async def replay():
        store = SqliteStore(str(gw.tmp / "gateway.db"))
        try:
            await DecisionLog(store, journal).replay_journal()
            return {d.id: d for d in await store.decisions(10)}
        finally:
            await store.close()

    stored = asyncio.run(replay())
    assert stored["0000000000001aaaaaaaa"].recipient.startswith("sha256:")
    assert stored["0000000000001aaaaaaaa"].excerpt == ""
    assert stored["0000000000002bbbbbbbb"].recipient == "other@example.com"
    assert everywhere() == [] and not journal.exists()
    assert refused_next(gw)  # a message to the erased address, refused: its decision is written erased
    time.sleep(0.5)  # refusals are written with the next batch
    assert everywhere() == []


def test_a_scrubbed_journal_takes_the_next_append_whole(tmp_path):
    """A writer that opened the journal before erasure replaced it writes into the new file, not the old."""
    import json

    from gateway.decisions import _locked, scrub_journals

    journal = tmp_path / "decisions-1.journal"
    journal.write_text(json.dumps({"id": "1", "recipient": "a@example.com", "violations": "[]"}) + "\n")
    with _locked(journal, "a") as f:
        f.write(json.dumps({"id": "2", "recipient": "b@example.com", "violations": "[]"}) + "\n")
    assert scrub_journals(tmp_path, "a@example.com") == 1
    with _locked(journal, "a") as f:
        f.write(json.dumps({"id": "3", "recipient": "c@example.com", "violations": "[]"}) + "\n")
    ids = [json.loads(line)["id"] for line in journal.read_text().splitlines()]
    assert ids == ["1", "2", "3"] and "a@example.com" not in journal.read_text()
