"""Real Node clients against `gateway serve` (issue 21): nodemailer over SMTP and the official `twilio` Node
package over the Twilio-compatible API, each driven the way an application drives it, by the small scripts
in tests/node/ (their packages pinned by tests/node/package-lock.json; `scripts/test` installs Node.js, npm
and them). Each script takes its parameters as JSON on stdin and prints what the library returned or
raised, as JSON."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers import MAIL_GATEWAY, REPO, self_signed_certificate
from servers import GatewayProcess, Sink, free_port
from test_sms_http import ACME_KEY_SID, ACME_SID, ENV, FRIEND, KEYS, MARKETING, Setup, suppress

NODE = REPO / "tests" / "node"
PASSWORD = "node-clients-smtp-secret-1"
API_KEY = "node-clients-api-key-0123456789"
PUBLIC_URL = "https://gw.example"
FROM = "Demo Outfitters <news@news.demo.example>"
SUBJECT = "Advertisement: Frühlingsjacken – 20 % Rabatt ☀ für Sie"
TEXT = (
    "Neue Jacken für den Frühling.\n\nShop: https://demo.example/spring\n\n"
    "Demo Outfitters, 123 Main St, Suite 4, Springfield, IL 62701\n"
    "Unsubscribe: https://demo.example/unsubscribe\n"
)
HTML = (
    "<p>Neue Jacken für den Frühling. <a href='https://demo.example/spring'>Shop</a></p>"
    "<p>This is an advertisement from Demo Outfitters.<br>123 Main St, Suite 4<br>Springfield, IL 62701</p>"
    "<p><a href='https://demo.example/unsubscribe'>Unsubscribe</a></p>"
)


def node(script: str, params: dict, *, whole: bool = False):
    """`node tests/node/SCRIPT` with `params` as JSON on stdin: its results (`whole`: all it printed)."""
    assert (NODE / "node_modules" / ".package-lock.json").exists(), (
        "tests/node's packages are not installed: run `bash scripts/test tests/test_node_clients.py`"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TWILIO_EDGE", "TWILIO_REGION")}
    done = subprocess.run(
        ["node", str(NODE / script)],
        input=json.dumps(params),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=NODE,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    return output if whole else output["results"]


# -- nodemailer --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


class MailGateway:
    """The sink (the upstream), and the gateway with STARTTLS, the acme sender's SMTP login and API key."""

    def __init__(self, tmp: Path, certificate: tuple[Path, Path]) -> None:
        cert, key = certificate
        self.smtp, self.http, upstream = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http}"
        self.ca = cert.read_text()
        self.sink = Sink(tmp / "sink", upstream)
        text = MAIL_GATEWAY.format(
            tmp=tmp, smtp=self.smtp, http=self.http, upstream=f"smtp://127.0.0.1:{upstream}"
        )
        text = text.replace(f'public_url = "{self.url}"', f'public_url = "{PUBLIC_URL}"')
        text = text.replace("\n[http]", f'tls_cert = "{cert}"\ntls_key = "{key}"\n\n[http]', 1)
        config = tmp / "gateway.toml"
        config.write_text(text + 'api_key_env = "ACME_API_KEY"\n')
        env = {
            "ACME_SMTP_PASSWORD": PASSWORD,
            "ACME_API_KEY": API_KEY,
            "GATEWAY_TOKEN_SECRET": "node-clients-token-secret-0123456789",
        }
        self.gateway = GatewayProcess(config, self.http, tmp, env)

    def transport(self, **more) -> dict:
        """nodemailer's SMTP transport as a marketing tool sets it up: a pool, STARTTLS required and
        verified against the test's certificate, the sender's login."""
        return {
            "host": "127.0.0.1",
            "port": self.smtp,
            "secure": False,
            "requireTLS": True,
            "tls": {"ca": self.ca, "servername": "localhost"},
            "pool": True,
            "auth": {"user": "acme", "pass": PASSWORD},
            **more,
        }

    def send(self, *messages: dict, **transport) -> list[dict]:
        return node("send_mail.mjs", {"transport": self.transport(**transport), "messages": list(messages)})

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def relayed(self) -> list[tuple[dict, EmailMessage]]:
        """Each copy the sink took: (envelope, the message parsed)."""
        return [
            (envelope, email.message_from_bytes(data, policy=email.policy.default))
            for envelope, data in self.sink.messages()
        ]

    def close(self) -> None:
        self.sink.stop()
        assert self.gateway.stop() == 0, self.gateway.output()


@pytest.fixture
def mail(tmp_path, certificate):
    gateway = MailGateway(tmp_path, certificate)
    yield gateway
    gateway.close()


def newsletter(to: str | list[str], **more) -> dict:
    return {"from": FROM, "to": to, "subject": SUBJECT, "text": TEXT, "html": HTML, **more}


def list_unsubscribe(message: EmailMessage) -> list[str]:
    """The URIs of the message's one List-Unsubscribe field, in their order."""
    (field,) = message.get_all("List-Unsubscribe")
    return re.findall(r"<([^>]+)>", str(field))


def test_nodemailer_pooled_starttls_login_relays_attachments_and_utf8_subject_intact(mail):
    attachment = bytes(range(256)) * 40 + os.urandom(997)  # every byte value, and an odd length
    readers = ["reader@example.com", "second.reader@example.com"]
    results = mail.send(
        *(
            newsletter(
                reader,
                attachments=[
                    {
                        "filename": "Frühjahrskatalog.pdf",
                        "content": base64.b64encode(attachment).decode(),
                        "encoding": "base64",
                        "contentType": "application/pdf",
                    }
                ],
            )
            for reader in readers
        ),
        maxConnections=1,  # both messages over one pooled connection, one transaction after the other
    )
    for reader, result in zip(readers, results, strict=True):
        assert result["ok"], result
        assert result["info"]["accepted"] == [reader] and result["info"]["rejected"] == []
        assert result["info"]["response"].startswith("250 ")
    copies = mail.relayed()
    assert sorted(envelope["rcpt_tos"][0] for envelope, _ in copies) == sorted(readers)
    tokens = set()
    for envelope, message in copies:
        assert envelope["mail_from"] == "news@news.demo.example"
        assert message["Subject"] == SUBJECT and message["To"] == envelope["rcpt_tos"][0]
        assert "with ESMTPSA" in str(message["Received"])  # STARTTLS, then AUTH
        (part,) = list(message.iter_attachments())
        assert part.get_filename() == "Frühjahrskatalog.pdf" and part.get_content_type() == "application/pdf"
        assert part.get_payload(decode=True) == attachment
        assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == TEXT
        uris = list_unsubscribe(message)
        assert uris[0].startswith(f"{PUBLIC_URL}/unsubscribe/") and uris[1].startswith(
            "mailto:unsubscribe+acme@"
        )
        assert len(uris) == 2
        assert message.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
        tokens.add(uris[0])
    assert len(tokens) == 2  # one token per recipient


def test_nodemailer_list_unsubscribe_mailto_alone_is_completed_with_the_gateways_one_click_first(mail):
    theirs = "mailto:leave@news.demo.example?subject=leave"
    (result,) = mail.send(newsletter("reader@example.com", list={"unsubscribe": theirs}))
    assert result["ok"], result
    ((_, message),) = mail.relayed()
    uris = list_unsubscribe(message)
    assert uris[0].startswith(f"{PUBLIC_URL}/unsubscribe/") and uris[1].startswith("mailto:unsubscribe+acme@")
    assert uris[2:] == [theirs]  # the client's own URI kept, after the gateway's
    assert message.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]


def test_nodemailer_to_cc_bcc_with_one_suppressed_gets_it_rejected_and_a_copy_per_other_recipient(mail):
    status, body = mail.api(
        "POST", "/v1/suppressions", {"address": "Gone@Example.com", "reason": "unsubscribe"}
    )
    assert status == 201 and body["scope"] == "acme", body
    to, cc, bcc = ["ann@example.com"], ["bob@example.com", "gone@example.com"], ["cy@example.com"]
    (result,) = mail.send(newsletter(to, cc=cc, bcc=bcc))
    assert result["ok"], result
    info = result["info"]
    assert info["rejected"] == ["gone@example.com"]
    assert sorted(info["accepted"]) == ["ann@example.com", "bob@example.com", "cy@example.com"]
    (refusal,) = info["rejectedErrors"]
    assert refusal["responseCode"] == 550 and "SUPPRESSED" in refusal["response"], refusal
    assert sorted(info["envelope"]["to"]) == sorted(to + cc + bcc)  # nodemailer did ask for all four

    copies = {envelope["rcpt_tos"][0]: (envelope, message) for envelope, message in mail.relayed()}
    assert sorted(copies) == ["ann@example.com", "bob@example.com", "cy@example.com"]  # one copy each
    tokens = {}
    for reader, (envelope, message) in copies.items():
        assert envelope["rcpt_tos"] == [reader]
        assert message["Bcc"] is None and "cy@example.com" not in str(message["Cc"])
        uris = list_unsubscribe(message)
        assert uris[0].startswith(f"{PUBLIC_URL}/unsubscribe/")
        assert message.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
        tokens[reader] = uris[0].removeprefix(PUBLIC_URL)
    assert len(set(tokens.values())) == 3

    # each token is its own recipient's: bob's one-click suppresses bob, and no one else
    form = urllib.parse.urlencode({"List-Unsubscribe": "One-Click"}).encode()
    with urllib.request.urlopen(mail.url + tokens["bob@example.com"], data=form, timeout=30) as answer:
        assert answer.status == 200
    for reader, suppressed in [
        ("bob@example.com", True),
        ("ann@example.com", False),
        ("cy@example.com", False),
    ]:
        status, body = mail.api("GET", "/v1/suppressions?" + urllib.parse.urlencode({"address": reader}))
        assert status == 200 and bool(body["suppressions"]) is suppressed, (reader, body)


def test_nodemailer_gets_a_550_naming_the_violations_and_its_pool_goes_on(mail):
    bare = newsletter(
        "reader@example.com",
        text="Neue Jacken für den Frühling. Shop: https://demo.example/spring\n",
        html="<p>Neue Jacken. <a href='https://demo.example/spring'>Shop</a></p>",
    )
    refused, relayed = mail.send(bare, newsletter("reader@example.com"), maxConnections=1)
    error = refused["error"]
    assert not refused["ok"] and error["responseCode"] == 550, refused
    assert error["code"] == "EMESSAGE" and error["command"] == "DATA", error
    assert error["response"].startswith("550 5.7.1 Rejected: ")
    assert "CANSPAM_UNSUBSCRIBE" in error["response"] and "CANSPAM_PHYSICAL_ADDRESS" in error["response"]
    assert relayed["ok"], relayed  # the same pooled connection, after the refusal
    ((envelope, message),) = mail.relayed()
    assert envelope["rcpt_tos"] == ["reader@example.com"] and message["Subject"] == SUBJECT


# -- the twilio Node client --------------------------------------------------------------------------------


@pytest.fixture
def sms(tmp_path):
    setup = Setup(tmp_path)  # tests/test_sms_http.py's gateway, relaying to a fake Twilio
    yield setup
    assert setup.close() == 0, setup.gateway.output()


def twilio_send(sms: Setup, *messages: dict, **auth: str) -> list[dict]:
    auth = auth or {"accountSid": ACME_SID, "authToken": KEYS["acme"]}
    return node("twilio_send.mjs", {"baseUrl": sms.url, **auth, "messages": list(messages)})


def test_twilio_node_client_with_the_senders_api_key_as_auth_token(sms):
    (result,) = twilio_send(sms, {"to": FRIEND, "from": "+15005550006", "body": MARKETING})
    assert result["ok"], result
    message = result["message"]
    assert message["sid"].startswith("SM") and message["status"] == "queued", message
    assert (message["accountSid"], message["to"], message["from"], message["body"]) == (
        ACME_SID,
        FRIEND,
        "+15005550006",
        MARKETING,
    )
    (arrived,) = sms.twilio.received
    assert {k: arrived["form"][k] for k in ("To", "From", "Body")} == {
        "To": FRIEND,
        "From": "+15005550006",
        "Body": MARKETING,
    }
    decision = sms.decision(sms.decisions(1)[0].id)
    assert (decision.verdict.value, decision.upstream) == ("relayed", message["sid"])


def test_twilio_node_client_built_with_an_api_key(sms):
    text = {"to": FRIEND, "from": "+15005550006", "body": MARKETING}
    key = {"apiKey": ACME_KEY_SID, "accountSid": ACME_SID}
    (result,) = twilio_send(sms, text, **key, apiSecret=ENV["ACME_TWILIO_KEY_SECRET"])
    assert result["ok"] and result["message"]["sid"].startswith("SM"), result
    assert result["message"]["accountSid"] == ACME_SID
    (wrong,) = twilio_send(sms, text, **key, apiSecret="not-the-secret")
    assert not wrong["ok"] and wrong["error"]["restException"], wrong
    assert (wrong["error"]["status"], wrong["error"]["code"]) == (401, 20003)
    assert len(sms.twilio.received) == 1


def test_twilio_node_client_sends_an_mms_with_three_media_urls(sms):
    urls = [f"https://cdn.example/spring-{i}.jpg" for i in range(3)]
    (result,) = twilio_send(sms, {"to": FRIEND, "from": "+15005550006", "body": MARKETING, "mediaUrl": urls})
    assert result["ok"] and result["message"]["sid"].startswith("SM"), result
    (arrived,) = sms.twilio.received
    assert arrived["form"]["MediaUrl"] == urls  # in their order, the field repeated


def test_twilio_node_client_raises_rest_exception_21610_for_a_suppressed_number(sms):
    suppress(sms.db, "+12125550199")
    (result,) = twilio_send(sms, {"to": "+12125550199", "from": "+15005550006", "body": MARKETING})
    assert not result["ok"], result
    error = result["error"]
    assert error["restException"] and error["name"] == "RestException", error
    assert (error["status"], error["code"]) == (400, 21610) and "SUPPRESSED" in error["message"]
    assert error["moreInfo"].endswith("/21610")
    assert sms.twilio.received == []


def test_twilio_node_client_fetches_and_lists_what_it_sent(sms):
    texts = [{"to": FRIEND, "from": origin, "body": MARKETING} for origin in ("+15005550006", "+15005550009")]
    output = node(
        "twilio_send.mjs",
        {
            "baseUrl": sms.url,
            "accountSid": ACME_SID,
            "authToken": KEYS["acme"],
            "messages": texts,
            "fetch": True,
            "list": {"to": FRIEND, "from": "+15005550009", "pageSize": 1},
        },
        whole=True,
    )
    sids = [r["message"]["sid"] for r in output["results"]]
    assert [(m["sid"], m["status"], m["from"], m["body"]) for m in output["fetched"]] == [
        (sid, "queued", text["from"], MARKETING) for sid, text in zip(sids, texts)
    ]
    assert [m["sid"] for m in output["listed"]] == [sids[1]]
