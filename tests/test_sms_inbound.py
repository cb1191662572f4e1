"""Replies to a sender's number through Twilio's signed webhook: STOP and free-text revocations suppress
at once, START lifts that STOP, HELP answers; forged signatures change nothing."""

from __future__ import annotations

import itertools
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from test_sms_http import ACME_SID, ENV, FRIEND, KEYS, MARKETING, Setup, form_post
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

PUBLIC = "https://gw.example/v1/webhooks/twilio/inbound"  # what Twilio was given, behind a TLS proxy
ACME_NUMBER = "+15005550006"
SIGNER = RequestValidator(ENV["TWILIO_AUTH_TOKEN"])


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path, provider="outbox", sms_extra=f'inbound_url = "{PUBLIC}"')
    yield setup
    assert setup.close() == 0, setup.gateway.output()


SIDS = itertools.count(1)


def reply(
    gw,
    body: str,
    *,
    sign: str | None = None,
    to: str = ACME_NUMBER,
    frm: str = FRIEND,
    sid: str | None = None,
) -> tuple[int, str]:
    params = {
        "MessageSid": sid or f"SM{next(SIDS):032x}",
        "AccountSid": "AC" + "f" * 32,
        "From": frm,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "FromCountry": "US",
    }
    signature = SIGNER.compute_signature(PUBLIC, params) if sign is None else sign
    request = urllib.request.Request(
        gw.url + "/v1/webhooks/twilio/inbound",
        method="POST",
        data=urllib.parse.urlencode(params).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def message(twiml: str) -> str | None:
    found = re.search(r"<Message>(.*)</Message>", twiml)
    return found.group(1) if found else None


def test_stop_start_help_round_trip(gw):
    assert gw.sms()[0] == 201
    status, twiml = reply(gw, "STOP")
    assert status == 200 and "unsubscribed" in message(twiml) and "%" not in message(twiml)  # no marketing
    status, body, _ = gw.sms()
    assert status == 422 and body["violations"][0]["code"] == "SUPPRESSED"
    with pytest.raises(TwilioRestException) as refused:
        gw.client().messages.create(to=FRIEND, body=MARKETING)
    assert refused.value.code == 21610
    status, body, _ = gw.sms(body="Acme Outfitters: your order shipped.", category="transactional")
    assert status == 422  # after STOP the sender texts that number nothing at all (SPEC.md)
    assert message(reply(gw, "stop")[1]) is None  # one confirmation, not one per STOP
    status, twiml = reply(gw, "START")
    assert "resubscribed" in message(twiml)
    assert gw.sms()[0] == 201
    assert "Demo" in message(reply(gw, "help")[1]) or "STOP" in message(reply(gw, "help")[1])


def test_a_replayed_start_does_not_undo_a_later_stop(gw):
    start = f"SM{next(SIDS):032x}"
    assert "unsubscribed" in message(reply(gw, "STOP")[1])
    assert "resubscribed" in message(reply(gw, "START", sid=start)[1])
    assert gw.sms()[0] == 201
    assert "unsubscribed" in message(reply(gw, "STOP")[1])
    status, twiml = reply(gw, "START", sid=start)  # captured and signed correctly, sent again
    assert status == 200 and message(twiml) is None
    assert gw.sms()[0] == 422  # still stopped
    assert message(reply(gw, "START", sid="not-a-sid")[1]) is None  # a START must name its message
    assert gw.sms()[0] == 422
    assert "replay" in gw.gateway.output()


def test_free_text_revocation_suppresses(gw):
    assert message(reply(gw, "I'll stop by the store later")[1]) is None
    assert gw.sms()[0] == 201
    assert "unsubscribed" in message(reply(gw, "please stop texting me!")[1])
    assert gw.sms()[0] == 422


@pytest.mark.parametrize(
    "words, answer",
    [
        ("PARAR", "se ha dado de baja"),
        ("Baja", "se ha dado de baja"),
        ("No me envíen más mensajes", "se ha dado de baja"),
        ("ARRÊT", "vous êtes désabonné"),
        ("Je veux me désabonner", "vous êtes désabonné"),
    ],
)
def test_spanish_and_french_opt_outs_suppress_and_are_confirmed_in_their_language(gw, words, answer):
    assert gw.sms()[0] == 201
    status, twiml = reply(gw, words)
    assert status == 200 and answer in message(twiml), twiml
    assert gw.sms()[0] == 422


def test_stopall_blocks_every_sender_and_start_lifts_only_its_own(gw):
    reply(gw, "STOPALL")
    assert gw.sms()[0] == 422
    assert gw.sms(key=KEYS["night"])[0] == 422
    reply(gw, "START")  # lifts acme's own STOP only; the global one stays
    assert gw.sms()[0] == 422


def test_forged_or_missing_signatures_change_nothing(gw):
    for signature in (
        "",
        "bm90IGEgc2lnbmF0dXJl",
        SIGNER.compute_signature(gw.url + "/v1/webhooks/twilio/inbound", {"Body": "STOP"}),
    ):
        status, _ = reply(gw, "STOP", sign=signature)
        assert status == 403
    assert gw.sms()[0] == 201
    status, _body, _ = form_post(gw, ACME_SID, KEYS["acme"], {"To": FRIEND, "Body": MARKETING})
    assert status == 201


def test_forget_a_number_over_http(gw):
    assert gw.sms()[0] == 201  # an outbox text and a decision carrying the number
    status, body, _ = gw.post("/v1/forget", {"address": FRIEND}, key=ENV["GATEWAY_OPS_KEY"])
    assert status == 200 and body["channel"] == "sms" and body["outbox"] == 1 and body["consents"] == 1
    status, body, _ = gw.post("/v1/forget", {"address": FRIEND}, key=KEYS["acme"])
    assert status == 403  # a sender's key cannot erase
    for path in (gw.db, gw.db.with_name("gateway.db-wal")):
        if path.exists():
            assert FRIEND.encode() not in path.read_bytes()
    status, body, _ = gw.sms()
    assert status == 422 and body["violations"][0]["code"] == "SUPPRESSED"


def test_retention_deletes_old_decisions(tmp_path):
    import asyncio
    from datetime import UTC, datetime, timedelta

    from servers import wait_until

    from gateway.model import Category, Channel, Decision, Verdict
    from gateway.store.sqlite import SqliteStore

    setup = Setup(tmp_path, provider="outbox")
    try:
        assert setup.sms()[0] == 201
    finally:
        setup.gateway.stop()

    async def age():
        store = SqliteStore(str(setup.db))
        old = datetime.now(UTC) - timedelta(days=3)
        await store.record_decisions(
            [Decision("0" * 21, old, Channel.SMS, "acme", FRIEND, Category.MARKETING, Verdict.RELAYED)]
        )
        await store.close()

    asyncio.run(age())
    assert len(setup.decisions()) == 2
    setup.config.write_text(
        setup.config.read_text().replace("[gateway]\n", "[gateway]\nretention_days = 2\n", 1)
    )
    setup.start()
    try:
        wait_until(lambda: len(setup.decisions()) == 1, timeout=15)
        assert setup.decisions()[0].id != "0" * 21
    finally:
        setup.close()
