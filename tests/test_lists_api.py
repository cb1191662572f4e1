"""SPEC's HTTP API beside sending, end to end over a real socket: `POST /v1/check` (the verdict on a text or
a message, sent nowhere, logged nowhere), the suppression list and the consent ledger (`/v1/suppressions`,
`/v1/consents`), whose changes the next text obeys and the audit trail records."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from test_sms_http import ENV, FRIEND, KEYS, MARKETING, STRANGER, Setup, suppress

from gateway.model import Channel

OPS = ENV["GATEWAY_OPS_KEY"]
ACME = KEYS["acme"]
MAIL = (
    b"From: Acme Outfitters <news@news.acme.example>\r\nTo: reader@example.com\r\n"
    b"Subject: Spring sale\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"20% off all jackets this week.\r\n"
)


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path, provider="twilio")
    yield setup
    assert setup.close() == 0, setup.gateway.output()


def call(
    gw: Setup,
    method: str,
    path: str,
    key: str | None = OPS,
    body: bytes | dict | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict]:
    if method == "POST":
        status, answer, _ = gw.post(path, body, key=key, content_type=content_type)
        return status, answer
    request = urllib.request.Request(gw.url + path, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_check_judges_texts_and_mail_without_sending_or_logging(gw):
    status, answer = call(gw, "POST", "/v1/check", ACME, {"to": FRIEND, "body": MARKETING})
    assert status == 200 and answer["verdict"] == "pass" and answer["channel"] == "sms", answer
    assert (
        answer["violations"] == [] and answer["category"] == "marketing" and answer["recipients"] == [FRIEND]
    )
    suppress(gw.db, STRANGER)
    status, answer = call(gw, "POST", "/v1/check", ACME, {"to": STRANGER, "body": MARKETING})
    assert status == 200 and answer["verdict"] == "reject"
    assert "SUPPRESSED" in {v["code"] for v in answer["violations"]}

    # mail: the raw message; the sender has no postal address or unsubscribe configured, so the rules say no
    status, answer = call(gw, "POST", "/v1/check", ACME, MAIL, content_type="message/rfc822")
    assert status == 200 and answer["channel"] == "email" and answer["verdict"] == "reject", answer
    assert answer["recipients"] == ["reader@example.com"]
    assert {"CANSPAM_UNSUBSCRIBE", "CANSPAM_PHYSICAL_ADDRESS"} <= {v["code"] for v in answer["violations"]}
    status, answer = call(
        gw,
        "POST",
        "/v1/check?to=other@example.org&to=third@example.org",
        ACME,
        MAIL,
        content_type="message/rfc822",
    )
    assert answer["recipients"] == ["other@example.org", "third@example.org"]

    # an ops key names the sender; a sender's key checks only as itself
    assert (
        call(gw, "POST", "/v1/check", OPS, {"to": FRIEND, "body": MARKETING})[1]["error"]["code"]
        == "MISSING_SENDER"
    )
    assert (
        call(gw, "POST", "/v1/check?sender=acme", OPS, {"to": FRIEND, "body": MARKETING})[1]["verdict"]
        == "pass"
    )
    assert call(gw, "POST", "/v1/check?sender=night", ACME, {"to": FRIEND, "body": MARKETING})[0] == 403

    # bad input: each a clear error
    for key, body, content_type, expected in [
        (None, {"to": FRIEND, "body": MARKETING}, "application/json", 401),
        (ACME, b"{not json", "application/json", 400),
        (ACME, {"to": FRIEND}, "application/json", 400),
        (ACME, {"to": FRIEND, "body": MARKETING, "colour": "red"}, "application/json", 400),
        (ACME, b"<p>hi</p>", "text/html", 415),
        (ACME, b"   ", "message/rfc822", 400),
        (ACME, b"Subject: nobody\r\n\r\nhi\r\n", "message/rfc822", 400),
    ]:
        status, answer = call(gw, "POST", "/v1/check", key, body, content_type)
        assert status == expected and "error" in answer, (body, status, answer)

    assert gw.decisions() == [] and gw.twilio.received == []  # nothing logged, nothing sent


def test_suppressions_over_http_hold_on_the_next_text_and_are_audited(gw):
    status, answer = call(gw, "POST", "/v1/suppressions", OPS, {"address": FRIEND, "reason": "complaint"})
    assert (
        status == 201 and answer["added"] and answer["scope"] == "global" and answer["reason"] == "complaint"
    )
    again = call(gw, "POST", "/v1/suppressions", OPS, {"address": FRIEND, "reason": "complaint"})
    assert again[0] == 200 and not again[1]["added"]  # already there
    assert gw.sms()[0] == 422
    listed = call(gw, "GET", "/v1/suppressions?channel=sms")[1]["suppressions"]
    assert [(s["address"], s["scope"]) for s in listed] == [(FRIEND, "global")]

    # a sender's key: its own scope only
    assert (
        call(gw, "POST", "/v1/suppressions", ACME, {"address": "a@example.com", "scope": "global"})[0] == 403
    )
    status, answer = call(gw, "POST", "/v1/suppressions", ACME, {"address": "a@example.com"})
    assert status == 201 and answer["scope"] == "acme"
    assert [s["address"] for s in call(gw, "GET", "/v1/suppressions", ACME)[1]["suppressions"]] == [
        "a@example.com"
    ]

    quoted = urllib.parse.quote(FRIEND)
    status, answer = call(gw, "DELETE", f"/v1/suppressions/{quoted}?channel=sms")
    assert status == 200 and answer["removed"] == 1
    assert gw.sms()[0] == 201
    assert call(gw, "DELETE", f"/v1/suppressions/{quoted}?channel=sms")[0] == 404

    # an erasure is permanent, over HTTP as in the console
    assert call(gw, "POST", "/v1/forget", OPS, {"address": STRANGER})[0] == 200
    status, answer = call(gw, "DELETE", f"/v1/suppressions/{urllib.parse.quote(STRANGER)}")
    assert status == 409 and answer["error"]["code"] == "PERMANENT"

    # import: CSV as `gateway suppress import` reads it
    csv = b"address,reason\nb@example.com,unsubscribe\nc@example.com,bounce\nnot-an-address,unsubscribe\n"
    status, answer = call(gw, "POST", "/v1/suppressions/import?channel=email", OPS, csv, "text/csv")
    assert status == 200 and (answer["added"], answer["rejected"]) == (2, 1), answer
    assert call(gw, "POST", "/v1/suppressions/import", ACME, csv, "text/csv")[0] == 403
    assert call(gw, "POST", "/v1/suppressions/import", OPS, b"{}", "application/json")[0] == 415

    for body in (
        {"address": "nonsense"},
        {"address": FRIEND, "reason": "because"},
        {},
        {"address": FRIEND, "expires_at": "yesterday"},
        {"address": FRIEND, "scope": "nobody"},
    ):
        status, answer = call(gw, "POST", "/v1/suppressions", OPS, body)
        assert status == 400 and "error" in answer, (body, answer)
    assert call(gw, "GET", "/v1/suppressions", None)[0] == 401

    store = gw.store()
    try:
        trail = asyncio.run(store.audit_log(Channel.SMS, FRIEND))
    finally:
        asyncio.run(store.close())
    assert {(e.actor, e.action) for e in trail} == {
        ("api ops", "suppression.add"),
        ("api ops", "suppression.remove"),
    }


def test_consent_over_http_lets_the_next_text_through_and_revoking_stops_it(gw):
    assert gw.sms(STRANGER)[1]["violations"][0]["code"] == "CONSENT_MISSING"
    status, answer = call(
        gw,
        "POST",
        "/v1/consents",
        OPS,
        {"address": STRANGER, "level": "express_written", "source": "web form", "evidence": "IP 192.0.2.7"},
    )
    assert (
        status == 201 and answer["level"] == "express_written" and answer["counts_now"] == "express_written"
    )
    assert answer["basis"] == "given"
    assert gw.sms(STRANGER)[0] == 201
    status, answer = call(gw, "GET", f"/v1/consents?address={urllib.parse.quote(STRANGER)}")
    assert status == 200 and [c["evidence"] for c in answer["consents"]] == ["IP 192.0.2.7"]
    status, answer = call(gw, "DELETE", f"/v1/consents/{urllib.parse.quote(STRANGER)}")
    assert status == 200 and answer["revoked"] == 1
    assert gw.sms(STRANGER)[0] == 422
    records = call(gw, "GET", f"/v1/consents?address={urllib.parse.quote(STRANGER)}")[1]["consents"]
    assert records[0]["revoked_at"] and records[0]["counts_now"] == "none"  # the ledger keeps what was
    for body in (
        {"address": STRANGER, "level": "very"},
        {"address": STRANGER},
        {"address": STRANGER, "level": "express", "obtained_at": "2999-01-01T00:00:00+00:00"},
        {"address": STRANGER, "level": "implied", "basis": "hearsay"},
        {"address": STRANGER, "level": "implied", "basis": 7},
    ):
        assert call(gw, "POST", "/v1/consents", OPS, body)[0] == 400
    status, answer = call(
        gw, "POST", "/v1/consents", OPS, {"address": STRANGER, "level": "implied", "basis": "purchase"}
    )
    assert status == 201 and answer["basis"] == "purchase"
    late = {
        "address": "+12125550188",
        "channel": "sms",
        "reason": "stop",
        "received_at": "2026-01-02T00:00:00Z",
    }
    assert call(gw, "POST", "/v1/suppressions", OPS, late)[0] == 201
    assert call(gw, "POST", "/v1/suppressions", OPS, {**late, "received_at": "soon"})[0] == 400
    assert call(gw, "GET", "/v1/consents", OPS)[0] == 400


def test_a_big_import_is_read_whole_however_its_bytes_arrive(gw):
    """aiohttp's content.read(n) answers with what has arrived so far: a 2 MB CSV was once taken cut
    short (3,029 of 100,000 rows) and answered 200. Bare email addresses need no ?channel=."""
    rows = 60_000
    body = b"".join(b"reader%06d@example.com\n" % n for n in range(rows))
    status, answer = call(gw, "POST", "/v1/suppressions/import", OPS, body, "text/csv")
    assert status == 200 and (answer["added"], answer["rejected"]) == (rows, 0), answer
