"""The SMS door end to end: the official `twilio` client and plain HTTP against `gateway serve`, relaying
through the `twilio` package to a fake Twilio on loopback that records what arrives and fails on demand."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import jsonschema
import pytest
from fake_twilio import FakeTwilio
from helpers import REPO
from servers import GatewayProcess, free_port, wait_until
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from gateway.addresses import address_hash
from gateway.model import Channel, Consent, ConsentLevel, Reason, Suppression
from gateway.secrets import hash_secret
from gateway.store.sqlite import SqliteStore

ACME_SID = "AC" + "0" * 31 + "1"
OPS_SID = "AC" + "0" * 31 + "2"
NIGHT_SID = "AC" + "0" * 31 + "3"
PROVIDER_SID = "AC" + "f" * 32
KEYS = {
    "acme": "acme-api-key-0123456789",
    "ops": "ops-sender-key-0123456789",
    "night": "night-api-key-0123456789",
}
ENV = {
    "ACME_API_KEY": KEYS["acme"],
    "NIGHT_API_KEY": KEYS["night"],
    "GATEWAY_OPS_KEY": "ops-console-key-0123456789",
    "TWILIO_AUTH_TOKEN": "provider-auth-token",
    "GATEWAY_TOKEN_SECRET": "test-token-secret-0123456789",
    "ACME_TWILIO_KEY_SECRET": "acme-twilio-api-key-secret-0123456789",
}
ACME_KEY_SID = "SK" + "a" * 32
OPS_HASH = hash_secret(KEYS["ops"], log_n=10)

FRIEND = "+12125550123"  # express_written consent for every sender
STRANGER = "+12125550188"  # no consent
HAWAII = "+18085550123"  # consent; calling hours for 808 set by the test config
MARKETING = "Acme Outfitters: 20% off all jackets today. Reply STOP to opt out."
SCHEMA = json.loads(
    (REPO / "tests" / "twilio" / "messages_v2010.openapi.json").read_text()
)  # from ../shared/twilio


def _quiet_window() -> tuple[str, str]:
    """An hour of calling time in Honolulu that does not include now."""
    hour = datetime.now(ZoneInfo("Pacific/Honolulu")).hour
    return ("01:00", "02:00") if hour >= 12 else ("20:00", "21:00")


CONFIG = """
[gateway]
database = "sqlite:///{tmp}/gateway.db"
state_dir = "{tmp}/state"
public_url = "https://gw.example"
{gateway_extra}

[smtp]
listen = "127.0.0.1:{smtp_port}"
upstream = "maildir:{tmp}/outbox"
workers = {workers}

[http]
listen = "127.0.0.1:{http_port}"

[sms]
provider = "{provider}"
account_sid = "{provider_sid}"
base_url = "http://127.0.0.1:{twilio_port}"
timeout = 2
retry_after = 17
{sms_extra}

[policy]
default_state_rules = false
{policy_extra}

[policy.sms_hours]
start = "00:00"
end = "24:00"

[[policy.state]]
name = "HI-test"
citation = "test window"
area_codes = ["808"]
windows = [{{ start = "{quiet_start}", end = "{quiet_end}" }}]

[[sender]]
name = "acme"
brand = "Acme Outfitters"
api_key_env = "ACME_API_KEY"
sms_from = ["+15005550006", "+15005550009"]
twilio_account_sid = "{acme_sid}"
twilio_api_key_sid = "{acme_key_sid}"
twilio_api_key_secret_env = "ACME_TWILIO_KEY_SECRET"

[[sender]]
name = "ops"
brand = "Acme Outfitters"
category = "transactional"
allowed_categories = ["transactional"]
api_key_hash = "{ops_hash}"
sms_from = ["+15005550007"]
twilio_account_sid = "{ops_sid}"

[[sender]]
name = "night"
brand = "Acme Outfitters"
defer_quiet_hours = true
api_key_env = "NIGHT_API_KEY"
sms_from = ["+15005550008"]
twilio_account_sid = "{night_sid}"
"""


def seed(db: Path) -> None:
    async def go() -> None:
        store = SqliteStore(str(db))
        then = datetime(2026, 1, 1, tzinfo=UTC)
        for number in (FRIEND, HAWAII):
            await store.add_consent(
                Consent(
                    Channel.SMS,
                    address_hash(number),
                    number,
                    "global",
                    ConsentLevel.EXPRESS_WRITTEN,
                    "test",
                    "web form",
                    then,
                )
            )
        await store.close()

    asyncio.run(go())


def suppress(db: Path, number: str, reason: Reason = Reason.STOP, scope: str = "global") -> None:
    async def go() -> None:
        store = SqliteStore(str(db))
        await store.add_suppression(
            Suppression(Channel.SMS, address_hash(number), number, scope, reason, "test", datetime.now(UTC))
        )
        await store.close()

    asyncio.run(go())


class Setup:
    def __init__(
        self,
        tmp: Path,
        provider: str = "twilio",
        policy_extra: str = "",
        twilio: FakeTwilio | None = None,
        workers: int = 1,
        sms_extra: str = "",
    ):
        self.tmp = tmp
        self.twilio = twilio or FakeTwilio().start()
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.quiet = _quiet_window()
        self.config = tmp / "gateway.toml"
        self.config.write_text(
            CONFIG.format(
                tmp=tmp,
                smtp_port=free_port(),
                http_port=self.http_port,
                provider=provider,
                provider_sid=PROVIDER_SID,
                twilio_port=self.twilio.port,
                policy_extra=policy_extra,
                quiet_start=self.quiet[0],
                quiet_end=self.quiet[1],
                acme_sid=ACME_SID,
                acme_key_sid=ACME_KEY_SID,
                ops_sid=OPS_SID,
                night_sid=NIGHT_SID,
                ops_hash=OPS_HASH,
                gateway_extra="",
                workers=workers,
                sms_extra=sms_extra,
            )
        )
        self.db = tmp / "gateway.db"
        if not self.db.exists():
            seed(self.db)
        self.start()

    def start(self) -> None:
        self.gateway = GatewayProcess(self.config, self.http_port, self.tmp, ENV)

    def post(
        self,
        path: str,
        body: bytes | dict | None,
        *,
        key: str | None = KEYS["acme"],
        content_type: str = "application/json",
        headers: dict | None = None,
    ) -> tuple[int, dict, dict]:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method="POST",
            headers={"Content-Type": content_type, **(headers or {})},
        )
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}"), dict(error.headers)

    def sms(
        self, to: str = FRIEND, body: str = MARKETING, key: str = KEYS["acme"], **more
    ) -> tuple[int, dict, dict]:
        return self.post("/v1/sms", {"to": to, "body": body, **more}, key=key)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def client(self, account: str = ACME_SID, key: str = KEYS["acme"], http_client=None) -> Client:
        client = Client(account, key, http_client=http_client)
        client.api.base_url = self.url  # the one change an app makes
        return client

    def store(self) -> SqliteStore:
        return SqliteStore(str(self.db))

    def decisions(self, count: int | None = None):
        def read():
            store = self.store()
            try:
                return asyncio.run(store.decisions(1000))
            finally:
                asyncio.run(store.close())

        if count is not None:
            wait_until(lambda: len(read()) >= count)
        return read()

    def decision(self, decision_id: str):
        wait_until(lambda: any(d.id == decision_id for d in self.decisions()))
        return next(d for d in self.decisions() if d.id == decision_id)

    def close(self) -> int:
        code = self.gateway.stop()
        self.twilio.stop()
        return code


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path)
    yield setup
    assert setup.close() == 0, setup.gateway.output()


def _json_schema(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema says it (a null is allowed beside the type)."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "$ref" in out:
            out = {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
    return out


def message_schema_errors(message: dict) -> list[str]:
    components = _json_schema(SCHEMA["components"])
    schema = {**components["schemas"]["api.v2010.account.message"], "components": components}
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(message)]


# -- the official twilio client, base URL changed and nothing else ----------------------------------------


def test_official_twilio_client_sync_create_is_relayed_through_twilio(gw):
    message = gw.client().messages.create(
        to=FRIEND,
        from_="+15005550006",
        body=MARKETING,
        status_callback="https://app.example/status",
        validity_period=600,
        provide_feedback=True,
    )
    assert message.sid.startswith("SM") and message.status == "queued" and message.account_sid == ACME_SID
    (arrived,) = gw.twilio.received
    assert arrived["account"] == PROVIDER_SID and arrived["auth"] == (PROVIDER_SID, "provider-auth-token")
    assert arrived["form"] == {
        "To": FRIEND,
        "From": "+15005550006",
        "Body": MARKETING,
        "StatusCallback": "https://app.example/status",
        "ValidityPeriod": "600",
        "ProvideFeedback": "true",
    }
    decision = gw.decision(gw.decisions(1)[0].id)
    assert (decision.verdict.value, decision.recipient, decision.sender, decision.upstream) == (
        "relayed",
        FRIEND,
        "acme",
        message.sid,
    )


async def test_official_twilio_client_async_create(gw):
    http = AsyncTwilioHttpClient()
    try:
        client = gw.client(http_client=http)
        message = await client.messages.create_async(to=FRIEND, from_="+15005550009", body=MARKETING)
    finally:
        await http.close()
    assert message.sid.startswith("SM") and message.to == FRIEND
    assert gw.twilio.received[0]["form"]["From"] == "+15005550009"


def test_twilio_client_sees_refusals_as_twilio_errors(gw):
    suppress(gw.db, "+12125550199")
    client = gw.client()
    cases = [
        ("+12125550199", MARKETING, 21610, "SUPPRESSED"),
        ("+1212555", MARKETING, 21211, "INVALID_RECIPIENT"),
        (STRANGER, MARKETING, 79101, "CONSENT_MISSING"),
        (FRIEND, "Acme: 20% off today", 79105, "SMS_OPT_OUT_NOTICE"),
    ]
    for to, body, code, name in cases:
        with pytest.raises(TwilioRestException) as refused:
            client.messages.create(to=to, from_="+15005550006", body=body)
        assert (refused.value.status, refused.value.code) == (400, code), refused.value.msg
        assert name in refused.value.msg
    assert gw.twilio.received == []
    assert {d.verdict.value for d in gw.decisions(4)} == {"rejected"}


def basic(account: str, key: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{account}:{key}".encode()).decode()}


def form_post(gw, account: str, key: str, form: dict, headers: dict | None = None):
    return gw.post(
        f"/2010-04-01/Accounts/{account}/Messages.json",
        urllib.parse.urlencode(form).encode(),
        key=None,
        content_type="application/x-www-form-urlencoded",
        headers={**basic(account, key), **(headers or {})},
    )


def test_category_comes_from_a_form_field_or_header_and_is_limited_to_the_sender(gw):
    ops = gw.client(OPS_SID, KEYS["ops"])
    assert ops.messages.create(to=FRIEND, body="Acme Outfitters: your order shipped.").sid  # transactional
    status, body, _ = form_post(
        gw, OPS_SID, KEYS["ops"], {"To": FRIEND, "Body": MARKETING, "Category": "marketing"}
    )
    assert (status, body["code"]) == (400, 79102) and "CATEGORY_NOT_ALLOWED" in body["message"]
    status, body, _ = form_post(
        gw, OPS_SID, KEYS["ops"], {"To": FRIEND, "Body": MARKETING}, {"X-Gateway-Category": "marketing"}
    )
    assert (status, body["code"]) == (400, 79102)
    status, body, _ = gw.sms(key=KEYS["ops"], category="marketing")
    assert status == 422 and [v["code"] for v in body["violations"]] == ["CATEGORY_NOT_ALLOWED"]
    assert len(gw.twilio.received) == 1 and "Category" not in gw.twilio.received[0]["form"]


def test_answers_match_twilios_schema(gw):
    status, body, headers = form_post(gw, ACME_SID, KEYS["acme"], {"To": FRIEND, "Body": MARKETING})
    assert status == 201 and message_schema_errors(body) == []
    assert body["from"] == "+15005550006" and body["account_sid"] == ACME_SID  # the sender's first number
    assert headers["X-Gateway-Decision"]
    status, body, _ = form_post(gw, ACME_SID, KEYS["acme"], {"To": "+1212", "Body": "hi"})
    assert status == 400 and set(body) >= {"code", "message", "more_info", "status"} and body["code"] == 21211


def test_outbox_answers_match_twilios_schema_too(tmp_path):
    gw = Setup(tmp_path, provider="outbox")
    try:
        status, body, _ = form_post(
            gw,
            ACME_SID,
            KEYS["acme"],
            {"To": FRIEND, "Body": MARKETING, "StatusCallback": "https://app.example/s"},
        )
        assert status == 201 and message_schema_errors(body) == [] and body["status"] == "sent"
        status, v1, _ = gw.sms()
        assert status == 201 and v1["provider_id"].startswith("SM")
        store = gw.store()
        stored = asyncio.run(store.outbox())
        asyncio.run(store.close())
        assert {m.id for m in stored} == {body["sid"], v1["provider_id"]}
        assert {m.fields.get("StatusCallback") for m in stored} == {"https://app.example/s", None}
        assert gw.twilio.received == []
    finally:
        assert gw.close() == 0


# -- POST /v1/sms -------------------------------------------------------------------------------------------


def test_a_sender_names_only_its_own_messaging_service_and_public_callbacks(gw):
    other_service = "MG" + "9" * 32
    bad = [
        ({"MessagingServiceSid": other_service}, 21701),
        ({"ApplicationSid": "AP" + "1" * 32}, 21609),
        ({"StatusCallback": f"{gw.url}/v1/webhooks/twilio/inbound"}, 21609),  # the gateway itself
        ({"StatusCallback": "http://127.0.0.1:9/status"}, 21609),
        ({"StatusCallback": "https://10.1.2.3/status"}, 21609),
        ({"StatusCallback": "https://user:pw@app.example/status"}, 21609),
        ({"StatusCallback": "ftp://app.example/status"}, 21609),
        ({"StatusCallback": "https://app.example/" + "x" * 3000}, 21609),
        ({"StatusCallback": "http://localhost./s"}, 21609),  # what a review tried
        ({"StatusCallback": "http://metadata.google.internal./"}, 21609),
        ({"StatusCallback": "http://127.1/s"}, 21609),
        ({"StatusCallback": "http://0x7f.0.0.1/s"}, 21609),
        ({"StatusCallback": "http://2130706433/s"}, 21609),
        ({"StatusCallback": "http://[64:ff9b::7f00:1]/s"}, 21609),
        ({"StatusCallback": "http://[::ffff:10.0.0.1]/s"}, 21609),
    ]
    for extra, code in bad:
        status, body, _ = form_post(gw, ACME_SID, KEYS["acme"], {"To": FRIEND, "Body": MARKETING, **extra})
        assert status == 400 and body["code"] == code, (extra, body)
    assert gw.twilio.received == [] and gw.decisions(0) == []
    status, body, _ = form_post(
        gw,
        ACME_SID,
        KEYS["acme"],
        {"To": FRIEND, "Body": MARKETING, "StatusCallback": "https://app.example/s"},
    )
    assert status == 201


def test_v1_relayed_rejected_and_monitored(gw):
    status, body, headers = gw.sms()
    assert status == 201 and body["status"] == "relayed" and body["provider_id"].startswith("SM")
    assert headers["X-Gateway-Decision"] == body["id"]
    status, body, _ = gw.sms(to=STRANGER)
    assert (
        status == 422 and body["status"] == "rejected" and body["violations"][0]["code"] == "CONSENT_MISSING"
    )
    assert gw.decision(body["id"]).verdict.value == "rejected"
    assert len(gw.twilio.received) == 1


def test_v1_bad_input_is_a_clear_4xx_and_nothing_is_sent(gw):
    cases = [
        (b'{"body": "x"}', "application/json", KEYS["acme"], 400, "MISSING_TO"),
        (b'{"to": "+12125550123"}', "application/json", KEYS["acme"], 400, "MISSING_BODY"),
        (
            json.dumps({"to": FRIEND, "body": "x" * 1601}).encode(),
            "application/json",
            KEYS["acme"],
            400,
            "BODY_TOO_LONG",
        ),
        (
            b'{"to": "+12125550123", "body": "caf\xe9"}'.replace(b"\\xe9", b"\xe9"),
            "application/json",
            KEYS["acme"],
            400,
            "BAD_REQUEST",
        ),
        (
            '{"to": "+12125550123", "body": "café"}'.encode("latin-1"),
            "application/json",
            KEYS["acme"],
            400,
            "BAD_REQUEST",
        ),
        (
            b"to=+12125550123&body=hi",
            "application/x-www-form-urlencoded",
            KEYS["acme"],
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (b"{not json", "application/json", KEYS["acme"], 400, "BAD_REQUEST"),
        (b"[1, 2]", "application/json", KEYS["acme"], 400, "BAD_REQUEST"),
        (
            b'{"to": "+12125550123", "body": "hi", "tto": 1}',
            "application/json",
            KEYS["acme"],
            400,
            "BAD_REQUEST",
        ),
        (
            b'{"to": "+12125550123", "body": "hi", "category": "spam"}',
            "application/json",
            KEYS["acme"],
            400,
            "BAD_CATEGORY",
        ),
        (
            b'{"to": "+12125550123", "body": "hi", "from": "+19999999999"}',
            "application/json",
            KEYS["acme"],
            400,
            "FROM_NOT_ALLOWED",
        ),
        (
            b'{"to": "+12125550123", "body": "hi", "send_at": "tomorrow"}',
            "application/json",
            KEYS["acme"],
            400,
            "BAD_SEND_AT",
        ),
        (  # past the last year there is once in UTC
            b'{"to": "+12125550123", "body": "hi", "send_at": "9999-12-31T23:59:59-05:00"}',
            "application/json",
            KEYS["acme"],
            400,
            "BAD_SEND_AT",
        ),
        (b'{"to": 5, "body": "hi"}', "application/json", KEYS["acme"], 400, "MISSING_TO"),
        (b'{"to": "+12125550123", "body": "hi"}', "application/json", "wrong-key", 401, "UNAUTHORIZED"),
        (b'{"to": "+12125550123", "body": "hi"}', "application/json", None, 401, "UNAUTHORIZED"),
        (
            b'{"to": "+12125550123", "body": "hi"}',
            "application/json",
            ENV["GATEWAY_OPS_KEY"],
            403,
            "FORBIDDEN",
        ),
        (b"x" * 70_000, "application/json", KEYS["acme"], 413, "PAYLOAD_TOO_LARGE"),
    ]
    for data, content_type, key, status, code in cases:
        got, body, _ = gw.post("/v1/sms", data, key=key, content_type=content_type)
        assert (got, body.get("error", {}).get("code")) == (status, code), (data[:60], body)
        assert body["error"]["message"]
    assert gw.get("/v1/nothing-here")[0] == 404
    # a multipart part whose header line is no header: aiohttp's parser refuses it, before any login too
    broken = b"--XyZ\r\nNoColonHeader\r\n\r\nx\r\n--XyZ--\r\n"
    twilio_create = f"/2010-04-01/Accounts/{ACME_SID}/Messages.json"
    login = urllib.request.Request(
        gw.url + "/ops/login",
        data=broken,
        method="POST",
        headers={"Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(login, timeout=30)
    assert refused.value.code == 400
    got, body, _ = gw.post(
        twilio_create,
        broken,
        key=None,
        content_type="multipart/form-data; boundary=XyZ",
        headers=basic(ACME_SID, KEYS["acme"]),
    )
    assert got == 400 and body["code"] == 79100, body
    assert gw.twilio.received == [] and "Traceback" not in gw.gateway.output()


def test_twilio_path_bad_input_unknown_accounts_and_wrong_passwords(gw):
    form = {"To": FRIEND, "Body": MARKETING}
    cases = [
        (ACME_SID, "wrong-key", form, {}, 401, 20003),
        ("AC" + "9" * 32, KEYS["acme"], form, {}, 401, 20003),
        (OPS_SID, KEYS["acme"], form, {}, 401, 20003),
        (ACME_SID, KEYS["acme"], {"Body": "hi"}, {}, 400, 21604),
        (ACME_SID, KEYS["acme"], {"To": FRIEND}, {}, 400, 21602),
        (ACME_SID, KEYS["acme"], {"To": FRIEND, "Body": "y" * 1601}, {}, 400, 21617),
        (ACME_SID, KEYS["acme"], {"To": FRIEND, "Body": "hi", "From": "+15550000000"}, {}, 400, 21606),
    ]
    for account, key, data, headers, status, code in cases:
        got, body, _ = form_post(gw, account, key, data, headers)
        assert (got, body.get("code")) == (status, code), (account, data, body)
        assert body["more_info"].endswith(str(code)) and body["status"] == status
    got, body, _ = gw.post(
        f"/2010-04-01/Accounts/{ACME_SID}/Messages.json",
        b"To=%2B12125550123&Body=caf%E9",
        key=None,
        content_type="application/x-www-form-urlencoded",
        headers=basic(ACME_SID, KEYS["acme"]),
    )
    assert got == 400 and "UTF-8" in body["message"]
    got, body, _ = gw.post(
        f"/2010-04-01/Accounts/{ACME_SID}/Messages.json",
        b'{"To": "x"}',
        key=None,
        headers=basic(ACME_SID, KEYS["acme"]),
    )
    assert got == 415
    got, body, _ = gw.post(
        f"/2010-04-01/Accounts/{ACME_SID}/Messages.json",
        b"To=x",
        key=None,
        content_type="application/x-www-form-urlencoded",
        headers=basic(OPS_SID, KEYS["ops"]),
    )
    assert got == 403  # credentials for another account than the path's
    assert gw.twilio.received == [] and "Traceback" not in gw.gateway.output()


# -- the provider failing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, status", [("500", 502), ("timeout", 503), ("reset", 503)])
def test_provider_failure_is_502_or_503_with_retry_after_and_a_failed_decision(gw, mode, status):
    gw.twilio.mode = mode
    got, body, headers = gw.sms()
    assert got == status and headers["Retry-After"] == "17" and body["status"] == "failed"
    assert body["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert gw.decision(body["id"]).verdict.value == "failed"
    with pytest.raises(TwilioRestException) as failed:
        gw.client().messages.create(to=FRIEND, body=MARKETING)
    assert failed.value.status == status and failed.value.code in (20500, 20503)
    gw.twilio.mode = "ok"
    got, body, _ = gw.sms()  # the failed attempts took no place under any cap
    assert got == 201 and len(gw.twilio.received) == 1


def test_provider_failure_does_not_echo_the_providers_words(gw):
    gw.twilio.mode = "500"
    got, body, _headers = gw.sms()
    assert got == 502 and body["error"]["message"].endswith("it answered HTTP 500")
    assert "Internal Server Error" not in body["error"]["message"]


def test_a_provider_that_takes_a_text_without_naming_a_sid_is_not_sent_it_again(gw):
    gw.twilio.mode = "nosid"
    got, body, _headers = gw.sms()
    assert got == 201 and body["status"] == "relayed", body
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["provider_id"])  # the gateway's own sid for it
    assert len(gw.twilio.received) == 1 and "Traceback" not in gw.gateway.output()


def test_provider_refusal_is_passed_back(gw):
    gw.twilio.mode = "refuse"
    got, body, _headers = gw.sms()
    assert got == 502 and body["error"]["code"] == "PROVIDER_REFUSED" and body["provider_code"] == 21211
    with pytest.raises(TwilioRestException) as refused:
        gw.client().messages.create(to=FRIEND, body=MARKETING)
    assert (refused.value.status, refused.value.code) == (400, 21211)  # Twilio's own answer, as it gave it


# -- caps, quiet hours, held texts ----------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_frequency_cap_is_atomic_under_concurrency(tmp_path, workers):
    gw = Setup(tmp_path, policy_extra="[policy.frequency_cap]\nmax = 3\nhours = 24", workers=workers)
    try:

        async def burst():
            async with aiohttp.ClientSession() as session:

                async def one():
                    async with session.post(
                        f"{gw.url}/v1/sms",
                        json={"to": FRIEND, "body": MARKETING},
                        headers={"Authorization": f"Bearer {KEYS['acme']}"},
                    ) as response:
                        return response.status, await response.json()

                return await asyncio.gather(*(one() for _ in range(20)))

        answers = asyncio.run(burst())
        statuses = sorted(status for status, _ in answers)
        assert statuses == [201] * 3 + [422] * 17
        assert all(
            body["violations"][0]["code"] == "FREQUENCY_CAP" for status, body in answers if status == 422
        )
        assert len(gw.twilio.received) == 3
    finally:
        assert gw.close() == 0


def test_quiet_hours_refuse_or_hold_until_the_window_opens(gw):
    status, body, _ = gw.sms(to=HAWAII)
    assert status == 422 and [v["code"] for v in body["violations"]] == ["QUIET_HOURS"]
    status, body, _ = gw.sms(to=HAWAII, key=KEYS["night"])
    assert status == 202 and body["status"] == "deferred"
    send_at = datetime.fromisoformat(body["send_at"])
    local = send_at.astimezone(ZoneInfo("Pacific/Honolulu"))
    assert f"{local:%H:%M}" == gw.quiet[0] and timedelta(0) < send_at - datetime.now(UTC) <= timedelta(days=1)
    assert gw.decision(body["id"]).verdict.value == "deferred"
    store = gw.store()
    (held,) = asyncio.run(store.deferred())
    asyncio.run(store.close())
    assert (held.id, held.state, held.recipient) == (body["id"], "pending", HAWAII)
    assert gw.twilio.received == []


def test_held_text_goes_when_due_rechecked_and_survives_a_restart(gw):
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    status, first, _ = gw.sms(send_at=soon)
    assert status == 202
    status, _second, _ = gw.sms(to="+12125550177", send_at=soon)  # no consent: refused at once, not held
    assert status == 422
    status, third, _ = gw.sms(
        body="Acme Outfitters: order 7 shipped. Reply STOP to opt out.",
        send_at=soon,
        category="transactional",
    )
    assert status == 202
    assert gw.gateway.stop() == 0  # the gateway is down when they fall due
    suppress(gw.db, FRIEND, Reason.MANUAL)  # ... and one recipient is suppressed meanwhile (blocks all)
    __import__("time").sleep(2.5)
    gw.start()
    wait_until(lambda: gw.decision(first["id"]).verdict.value != "deferred", timeout=15)
    assert gw.decision(first["id"]).verdict.value == "rejected"  # judged again when it went
    assert gw.decision(third["id"]).verdict.value == "rejected"
    assert gw.twilio.received == []


def test_held_text_is_sent_once_when_due(gw):
    status, body, _ = gw.sms(send_at=(datetime.now(UTC) + timedelta(seconds=1)).isoformat())
    assert status == 202
    wait_until(lambda: gw.decision(body["id"]).verdict.value == "relayed", timeout=15)
    assert len(gw.twilio.received) == 1 and gw.twilio.received[0]["form"]["To"] == FRIEND
    status, body, _ = form_post(
        gw,
        ACME_SID,
        KEYS["acme"],
        {
            "To": FRIEND,
            "Body": MARKETING,
            "ScheduleType": "fixed",
            # whole seconds: 1 s ahead could be truncated to a moment already past when it arrives
            "SendAt": (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    assert status == 201 and body["status"] == "scheduled" and message_schema_errors(body) == []
    wait_until(lambda: len(gw.twilio.received) == 2, timeout=15)
    assert "SendAt" not in gw.twilio.received[1]["form"]


# -- health, metrics, shutdown ----------------------------------------------------------------------------------


def test_healthz_and_metrics(gw):
    status, body = gw.get("/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    gw.sms()
    gw.sms(to=STRANGER)
    status, text = gw.get("/metrics")
    text = text.decode()
    assert status == 200
    assert 'gateway_decisions_total{channel="sms",verdict="relayed"} 1.0' in text
    wait_until(
        lambda: (
            'gateway_violations_total{channel="sms",code="CONSENT_MISSING"} 1.0'
            in gw.get("/metrics")[1].decode()
        )
    )
    assert 'gateway_http_request_seconds_bucket{le="0.05",route="/v1/sms",status="201"}' in text
    assert "gateway_sms_provider_seconds" in text


def test_sigterm_lets_requests_in_flight_finish(gw):
    gw.twilio.delay = 1.0
    answers = []
    thread = threading.Thread(target=lambda: answers.append(gw.sms()))
    thread.start()
    wait_until(lambda: gw.twilio.attempts == 1)
    gw.gateway.proc.send_signal(signal.SIGTERM)
    thread.join(20)
    assert answers[0][0] == 201 and len(gw.twilio.received) == 1
    assert gw.gateway.proc.wait(20) == 0
    gw.start()  # for the fixture's own stop


def test_http_port_taken_and_missing_twilio_credentials_are_clear_errors(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "g.toml"
        config.write_text(
            CONFIG.format(
                tmp=tmp_path,
                smtp_port=free_port(),
                http_port=port,
                provider="outbox",
                provider_sid=PROVIDER_SID,
                twilio_port=free_port(),
                policy_extra="",
                quiet_start="01:00",
                quiet_end="02:00",
                acme_sid=ACME_SID,
                acme_key_sid=ACME_KEY_SID,
                ops_sid=OPS_SID,
                night_sid=NIGHT_SID,
                ops_hash=OPS_HASH,
                gateway_extra="",
                workers=1,
                sms_extra="",
            )
        )
        proc = subprocess.run(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **ENV},
        )
    assert proc.returncode == 2 and f"cannot listen for HTTP on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
    config.write_text(config.read_text().replace('provider = "outbox"', 'provider = "twilio"'))
    env = {k: v for k, v in {**os.environ, **ENV}.items() if k != "TWILIO_AUTH_TOKEN"}
    proc = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2 and "$TWILIO_AUTH_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


def test_a_failed_send_gives_its_place_under_the_cap_back(tmp_path):
    gw = Setup(tmp_path, policy_extra="[policy.frequency_cap]\nmax = 1\nhours = 24")
    try:
        gw.twilio.mode = "500"
        assert gw.sms()[0] == 502
        gw.twilio.mode = "ok"
        assert gw.sms()[0] == 201  # the failed attempt did not use up the one place
        status, body, _ = gw.sms()
        assert status == 422 and body["violations"][0]["code"] == "FREQUENCY_CAP"
        assert len(gw.twilio.received) == 1
    finally:
        assert gw.close() == 0


def test_an_mms_album_goes_through_the_official_client_with_every_media_url(gw):
    urls = [f"https://cdn.example/spring-{i}.jpg" for i in range(3)]
    message = gw.client().messages.create(to=FRIEND, from_="+15005550006", body=MARKETING, media_url=urls)
    assert message.sid.startswith("SM")
    (arrived,) = gw.twilio.received
    assert arrived["form"]["MediaUrl"] == urls  # in their order, the field repeated as Twilio takes it
    eleven = [("To", FRIEND), ("Body", MARKETING)] + [
        ("MediaUrl", f"https://cdn.example/{i}.jpg") for i in range(11)
    ]
    request = urllib.request.Request(
        f"{gw.url}/2010-04-01/Accounts/{ACME_SID}/Messages.json",
        data=urllib.parse.urlencode(eleven).encode(),
        headers={**basic(ACME_SID, KEYS["acme"]), "Content-Type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400 and json.loads(refused.value.read())["code"] == 21623


def test_the_official_client_built_with_an_api_key_as_twilio_recommends(gw):
    client = Client(ACME_KEY_SID, ENV["ACME_TWILIO_KEY_SECRET"], ACME_SID)  # (api_key_sid, secret, account)
    client.api.base_url = gw.url
    message = client.messages.create(to=FRIEND, from_="+15005550006", body=MARKETING)
    assert message.sid.startswith("SM") and message.account_sid == ACME_SID
    wrong = Client(ACME_KEY_SID, "not-the-secret", ACME_SID)
    wrong.api.base_url = gw.url
    with pytest.raises(TwilioRestException) as refused:
        wrong.messages.create(to=FRIEND, from_="+15005550006", body=MARKETING)
    assert refused.value.status == 401 and refused.value.code == 20003
    elsewhere = Client(ACME_KEY_SID, ENV["ACME_TWILIO_KEY_SECRET"], NIGHT_SID)  # another sender's account
    elsewhere.api.base_url = gw.url
    with pytest.raises(TwilioRestException) as refused:
        elsewhere.messages.create(to=FRIEND, from_="+15005550006", body=MARKETING)
    assert refused.value.status == 403
