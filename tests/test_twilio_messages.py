"""Twilio's Messages API beyond create, as apps use it through the official `twilio` client: fetch one
message, list them with Twilio's filters and paging, and delivery statuses from the provider's signed
status callbacks. Answers are checked against Twilio's own OpenAPI description."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from engines import engine  # noqa: F401  (the fixture)
from test_sms_http import (
    ACME_SID,
    ENV,
    FRIEND,
    KEYS,
    MARKETING,
    NIGHT_SID,
    OPS_SID,
    SCHEMA,
    Setup,
    _json_schema,
    message_schema_errors,
)
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from gateway.model import Category, Channel, Decision, Verdict
from gateway.sms.messages import RANK, detail, held_sid
from gateway.store.base import TextQuery

OTHER = "+12125550124"
STATUS_URL = "https://gw.example/v1/webhooks/twilio/status"  # public_url + the path


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path)
    yield setup
    assert setup.close() == 0, setup.gateway.output()


def _get(gw, path: str, account: str = ACME_SID, key: str = KEYS["acme"]) -> tuple[int, dict]:
    request = urllib.request.Request(gw.url + path)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{account}:{key}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _callback(gw, form: dict, *, token: str = ENV["TWILIO_AUTH_TOKEN"]) -> int:
    signature = RequestValidator(token).compute_signature(STATUS_URL, form)
    request = urllib.request.Request(
        gw.url + "/v1/webhooks/twilio/status",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _list_schema_errors(page: dict) -> list[str]:
    components = _json_schema(SCHEMA["components"])
    listing = SCHEMA["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["get"]
    schema = {
        **_json_schema(listing["responses"]["200"]["content"]["application/json"]["schema"]),
        "components": components,
    }
    return [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(page)]


def test_fetch_answers_from_the_log_and_callbacks_update_the_status(gw):
    client = gw.client()
    created = client.messages.create(
        to=FRIEND, from_="+15005550006", body=MARKETING, media_url=["https://cdn.example/a.png"] * 2
    )
    # the provider was asked to report back to the gateway, the client having asked nothing
    assert gw.twilio.received[0]["form"]["StatusCallback"] == STATUS_URL
    fetched = client.messages(created.sid).fetch()
    assert (fetched.sid, fetched.to, fetched.from_, fetched.body, fetched.status) == (
        created.sid,
        FRIEND,
        "+15005550006",
        MARKETING,
        "queued",  # what the provider answered when it took the text
    )
    assert fetched.num_media == "2" and fetched.account_sid == ACME_SID and fetched.date_sent is None
    status, raw = _get(gw, f"/2010-04-01/Accounts/{ACME_SID}/Messages/{created.sid}.json")
    assert status == 200 and message_schema_errors(raw) == []

    # the provider's callbacks, in the wrong order as Twilio allows: delivered, then a late "sent"
    base = {"MessageSid": created.sid, "AccountSid": "AC" + "f" * 32, "To": FRIEND}
    assert _callback(gw, {**base, "MessageStatus": "delivered"}) == 204
    assert _callback(gw, {**base, "MessageStatus": "sent"}) == 204
    fetched = client.messages(created.sid).fetch()
    assert fetched.status == "delivered" and fetched.date_sent is not None

    # forged or malformed callbacks change nothing
    assert _callback(gw, {**base, "MessageStatus": "undelivered"}, token="not-the-token") == 403
    assert _callback(gw, {**base, "MessageStatus": "exploded"}) == 400
    assert _callback(gw, {"MessageSid": "SM1", "MessageStatus": "failed"}) == 400
    assert client.messages(created.sid).fetch().status == "delivered"
    # a final status may still be corrected (a carrier's late failure report), with its error code
    assert _callback(gw, {**base, "MessageStatus": "undelivered", "ErrorCode": "30003"}) == 204
    fetched = client.messages(created.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)
    # an error code that is not one ("²" is a digit to str.isdigit only): the status, without a code
    assert _callback(gw, {**base, "MessageStatus": "failed", "ErrorCode": "\u00b2"}) == 204
    assert client.messages(created.sid).fetch().error_code is None


def test_a_clients_own_status_callback_is_kept(gw):
    gw.client().messages.create(
        to=FRIEND, from_="+15005550006", body=MARKETING, status_callback="https://app.example/s"
    )
    assert gw.twilio.received[0]["form"]["StatusCallback"] == "https://app.example/s"


def test_list_filters_and_pages_as_twilio_does(gw):
    assert gw.post("/v1/consents", {"address": OTHER, "level": "express_written"})[0] == 201
    client = gw.client()
    sids = [
        client.messages.create(to=number, from_=origin, body=MARKETING).sid
        for number, origin in [
            (FRIEND, "+15005550006"),
            (OTHER, "+15005550006"),
            (FRIEND, "+15005550009"),
            (FRIEND, "+15005550006"),
            (OTHER, "+15005550009"),
        ]
    ]
    with pytest.raises(TwilioRestException):  # refused at once: no message, as on Twilio
        client.messages.create(to="+12125550188", from_="+15005550006", body=MARKETING)
    assert [m.sid for m in client.messages.list()] == sids[::-1]
    assert [m.sid for m in client.messages.list(to=FRIEND)] == [sids[3], sids[2], sids[0]]
    assert [m.sid for m in client.messages.list(from_="+15005550009")] == [sids[4], sids[2]]
    assert [m.sid for m in client.messages.list(to=OTHER, from_="+15005550009")] == [sids[4]]
    # paging: the client follows next_page_uri, two at a time
    assert [m.sid for m in client.messages.list(page_size=2)] == sids[::-1]
    assert [m.sid for m in client.messages.list(limit=3, page_size=2)] == sids[::-1][:3]
    now = datetime.now(UTC)
    assert len(client.messages.list(date_sent_after=now - timedelta(minutes=5))) == 5
    assert client.messages.list(date_sent_after=now + timedelta(minutes=5)) == []
    assert client.messages.list(date_sent_before=now - timedelta(minutes=5)) == []
    # a date names a whole day (UTC)
    status, page = _get(
        gw, f"/2010-04-01/Accounts/{ACME_SID}/Messages.json?DateSent={now:%Y-%m-%d}&PageSize=2"
    )
    assert status == 200 and len(page["messages"]) == 2 and _list_schema_errors(page) == []
    assert page["next_page_uri"] and "DateSent=" in page["next_page_uri"]
    status, rest = _get(gw, page["next_page_uri"])
    assert status == 200 and [m["sid"] for m in rest["messages"]] == sids[::-1][2:4]
    assert (rest["page"], rest["start"], rest["end"]) == (1, 2, 3) and _list_schema_errors(rest) == []
    yesterday = now - timedelta(days=1)
    status, page = _get(gw, f"/2010-04-01/Accounts/{ACME_SID}/Messages.json?DateSent={yesterday:%Y-%m-%d}")
    assert status == 200 and page["messages"] == [] and page["next_page_uri"] is None


def test_a_sender_sees_only_its_own_messages_and_bad_queries_are_clear(gw):
    sid = gw.client().messages.create(to=FRIEND, from_="+15005550006", body=MARKETING).sid
    night = gw.client(NIGHT_SID, KEYS["night"])
    with pytest.raises(TwilioRestException) as raised:
        night.messages(sid).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)
    assert night.messages.list() == []
    for path, status in [
        (f"/Messages/SM{'0' * 32}.json", 404),
        ("/Messages/not-a-sid.json", 404),
        ("/Messages.json?PageToken=nonsense", 400),
        ("/Messages.json?PageSize=0", 400),
        ("/Messages.json?PageSize=1001", 400),
        ("/Messages.json?DateSent=yesterday", 400),
        ("/Messages.json?PageSize=%C2%B2", 400),  # "²": a digit to str.isdigit, not to int()
        ("/Messages.json?Page=%D9%A3", 400),  # Arabic-Indic 3
        ("/Messages.json?DateSent=9999-12-31", 400),  # its next day is past the last one
        ("/Messages.json?DateSent%3C=9999-12-31", 400),
        ("/Messages.json?DateSent%3E=0001-01-01T00:00:00%2B05:00", 400),  # before year 1 in UTC
        ("/Messages.json?To=not-a-number", 400),
    ]:
        code, body = _get(gw, f"/2010-04-01/Accounts/{ACME_SID}{path}")
        assert code == status and body["status"] == status and isinstance(body["code"], int), (path, body)
    # another account's path, or no credentials: refused before anything is read
    assert _get(gw, f"/2010-04-01/Accounts/{OPS_SID}/Messages/{sid}.json")[0] == 403
    assert _get(gw, f"/2010-04-01/Accounts/{ACME_SID}/Messages/{sid}.json", key="wrong-key")[0] == 401


def test_a_held_text_is_scheduled_under_the_sid_its_client_was_given(gw):
    status, body, _ = gw.sms(key=KEYS["night"], send_at=(datetime.now(UTC) + timedelta(hours=2)).isoformat())
    assert status == 202
    message = gw.client(NIGHT_SID, KEYS["night"]).messages(held_sid(body["id"])).fetch()
    assert (message.status, message.to, message.body, message.date_sent) == (
        "scheduled",
        FRIEND,
        MARKETING,
        None,
    )
    # not sent: no date_sent, so no DateSent filter finds it (Twilio filters on the date it was sent)
    night = gw.client(NIGHT_SID, KEYS["night"])
    assert [m.sid for m in night.messages.list()] == [held_sid(body["id"])]
    assert night.messages.list(date_sent_after=datetime.now(UTC) - timedelta(hours=1)) == []


def test_an_erased_recipients_messages_keep_no_number_or_body(gw):
    sid = gw.client().messages.create(to=FRIEND, from_="+15005550006", body=MARKETING).sid
    status, _, _ = gw.post("/v1/forget", {"address": FRIEND}, key=ENV["GATEWAY_OPS_KEY"])
    assert status == 200
    message = gw.client().messages(sid).fetch()
    assert (message.to, message.body, message.status) == ("", "", "queued")
    assert gw.client().messages.list(to=FRIEND) == []


# -- the store's part, on both engines --------------------------------------------------------------------


def _text(sid: str, to: str, at: datetime, origin: str = "+15005550006") -> Decision:
    return Decision(
        id=f"{int(at.timestamp() * 1e6):013x}00000000",
        at=at,
        channel=Channel.SMS,
        sender="acme",
        recipient=to,
        category=Category.MARKETING,
        verdict=Verdict.RELAYED,
        upstream=sid,
        message_id=sid,
        origin=origin,
        detail=detail({"Body": "hi", "To": to}, "queued", at),
    )


def test_store_keeps_texts_and_their_latest_status(engine):
    async def go() -> None:
        store = engine.open()
        try:
            start = datetime(2026, 5, 1, 12, tzinfo=UTC)
            texts = [
                _text(f"SM{n:032x}", FRIEND if n % 2 else OTHER, start + timedelta(minutes=n))
                for n in range(5)
            ]
            await store.record_decisions(texts)
            found = await store.text("acme", texts[2].message_id)
            assert found is not None and found.decision.detail == texts[2].detail and found.status is None
            assert await store.text("night", texts[2].message_id) is None
            page = await store.list_texts("acme", TextQuery(), 2)
            assert [r.decision.id for r in page] == [texts[4].id, texts[3].id]
            rest = await store.list_texts("acme", TextQuery(), 10, page[-1].decision.id)
            assert [r.decision.id for r in rest] == [t.id for t in texts[2::-1]]
            to_friend = await store.list_texts(
                "acme", TextQuery(to=FRIEND, since=start + timedelta(minutes=2)), 10
            )
            assert [r.decision.id for r in to_friend] == [texts[3].id]
            sid = texts[1].message_id
            for state in ("delivered", "sent", "queued"):  # late callbacks never take it back
                await store.record_text_status(sid, state, RANK[state], None, start + timedelta(hours=1))
            await store.record_text_status(
                sid, "undelivered", RANK["undelivered"], 30005, start + timedelta(hours=2)
            )
            found = await store.text("acme", sid)
            assert found is not None and (found.status, found.error_code) == ("undelivered", 30005)
            assert found.status_at == start + timedelta(hours=2)
            # erasure: the number and the body go, the status and times stay; a text written for the
            # erased number afterwards (a journal moved in late) is written the same way
            await store.forget(Channel.SMS, FRIEND, start + timedelta(days=1))
            late = _text(f"SM{9:032x}", FRIEND, start + timedelta(minutes=9))
            await store.record_decisions([late])
            for sid in (texts[1].message_id, late.message_id):
                found = await store.text("acme", sid)
                assert found is not None and found.decision.recipient.startswith("sha256:")
                kept = json.loads(found.decision.detail)
                assert "body" not in kept and kept["status"] == "queued" and kept["created"]
            assert await store.list_texts("acme", TextQuery(to=FRIEND), 10) == []
        finally:
            await store.close()

    asyncio.run(go())
