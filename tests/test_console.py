"""The ops console over HTTP (the browser tests in Chromium come next): sign-in, the rejections list and its
filters, a decision's detail with the law and the fix, the address lookup, and every message-derived
string shown as text under a CSP that allows no script."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from test_sms_http import ENV, FRIEND, KEYS, STRANGER, Setup

OPS = ENV["GATEWAY_OPS_KEY"]
NASTY = '<script>alert(1)</script>"><img src=x onerror=alert(2)> javascript:alert(3)'


class Browser:
    """urllib with a cookie jar and no redirect following, enough to see what the console answers."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def open(self, path: str, form: dict | None = None, headers: dict | None = None) -> tuple[int, str, dict]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path, provider="outbox")
    setup.gateway.stop()  # served over plain HTTP here: the session cookie is Secure only for an https public_url
    setup.config.write_text(
        setup.config.read_text().replace('public_url = "https://gw.example"', f'public_url = "{setup.url}"')
    )
    setup.start()
    yield setup
    assert setup.close() == 0, setup.gateway.output()


def signed_in(gw) -> Browser:
    browser = Browser(gw.url)
    assert browser.open("/ops/")[0] == 302
    status, body, _ = browser.open("/ops/login", {"key": "not-it"})
    assert status == 401 and "not an ops key" in body
    status, _, headers = browser.open("/ops/login", {"key": OPS})
    assert status == 302 and headers["Location"] == "/ops/"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return browser


def test_sign_in_list_filter_and_detail(gw):
    assert gw.sms()[0] == 201
    assert gw.sms(to=STRANGER)[0] == 422
    gw.decisions(2)
    browser = signed_in(gw)
    status, body, headers = browser.open("/ops/")
    assert status == 200 and "script-src" not in headers["Content-Security-Policy"]
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert STRANGER in body and FRIEND not in body and '<span class="badge">CONSENT_MISSING</span>' in body
    status, body, _ = browser.open("/ops/?verdict=relayed")
    assert FRIEND in body and STRANGER not in body
    status, body, _ = browser.open("/ops/?verdict=&code=CONSENT_MISSING&since=1d")
    assert STRANGER in body and FRIEND not in body
    detail = body.split('href="/ops/decisions/', 1)[1].split('"', 1)[0]
    status, body, _ = browser.open(f"/ops/decisions/{detail}")
    assert status == 200 and "47 CFR 64.1200(a)(2)-(3)" in body and "How to fix the message" in body
    status, csv_text, _ = browser.open("/v1/decisions.csv?code=CONSENT_MISSING")
    assert status == 200 and csv_text.count(STRANGER) == 1  # the CSV link works with the session
    assert browser.open("/ops/decisions/ffffffff")[0] == 404
    assert browser.open("/ops/?since=someday")[0] == 200  # a bad filter is a message, not an error page


def test_lookup_shows_suppressions_consents_and_decisions(gw):
    from test_sms_http import suppress

    suppress(gw.db, STRANGER)
    assert gw.sms(to=STRANGER)[0] == 422
    gw.decisions(1)
    browser = signed_in(gw)
    status, body, _ = browser.open("/ops/lookup?" + urllib.parse.urlencode({"address": STRANGER}))
    assert status == 200 and "stop" in body and "SUPPRESSED" in body
    status, body, _ = browser.open("/ops/lookup?" + urllib.parse.urlencode({"address": FRIEND}))
    assert "express_written" in body and "web form" in body
    status, body, _ = browser.open("/ops/lookup?address=not-an-address")
    assert status == 200 and "not a valid" in body


def test_message_derived_strings_are_text(gw):
    status, body, _ = gw.post("/v1/sms", {"to": STRANGER, "body": NASTY}, key=KEYS["acme"])
    assert status == 422
    gw.decisions(1)
    browser = signed_in(gw)
    for path in ("/ops/", f"/ops/decisions/{body['id']}"):
        status, page, _ = browser.open(path)
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_direction_overrides_in_what_senders_wrote_are_shown_not_obeyed(gw):
    status, body, _ = gw.post("/v1/sms", {"to": STRANGER, "body": "Invoice \u202eFDP.exe"}, key=KEYS["acme"])
    assert status == 422
    gw.decisions(1)
    status, page, _ = signed_in(gw).open(f"/ops/decisions/{body['id']}")
    assert status == 200 and "\u202e" not in page and "Invoice &lt;U+202E&gt;FDP.exe" in page


def test_a_signed_out_session_does_not_sign_in_again(gw):
    browser = signed_in(gw)
    (cookie,) = [c for c in browser.jar]
    assert browser.open("/ops/")[0] == 200
    status, _, _ = browser.open("/ops/logout", {})
    assert status == 302
    stolen = Browser(gw.url)  # the cookie, copied before sign-out, replayed from elsewhere
    stolen.jar.set_cookie(cookie)
    assert stolen.open("/ops/")[0] == 302
    assert stolen.open("/v1/decisions")[0] == 401
    assert signed_in(gw).open("/ops/")[0] == 200  # a new sign-in is a new session


def test_sender_keys_and_strangers_do_not_get_in(gw):
    browser = Browser(gw.url)
    for headers in ({}, {"Authorization": f"Bearer {KEYS['acme']}"}, {"Authorization": "Basic b3BzOndyb25n"}):
        status, _, response = browser.open("/ops/", headers=headers)
        assert status == 302 and response["Location"] == "/ops/login"
    status, _, _ = browser.open("/ops/", headers={"Authorization": f"Bearer {OPS}"})
    assert status == 200
    forged = Browser(gw.url)
    forged.jar.set_cookie(
        http.cookiejar.Cookie(
            0,
            "gw_ops",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            None,
            False,
            "127.0.0.1",
            False,
            False,
            "/",
            True,
            False,
            None,
            False,
            None,
            None,
            {},
        )
    )
    assert forged.open("/ops/")[0] == 302
    assert json.loads(forged.open("/v1/decisions")[1])["error"]["code"] == "UNAUTHORIZED"


def test_session_cookie_is_secure_behind_an_https_public_url(tmp_path):
    setup = Setup(tmp_path, provider="outbox")  # public_url = "https://gw.example"
    try:
        status, _, headers = Browser(setup.url).open("/ops/login", {"key": OPS})
        assert status == 302 and "Secure" in headers["Set-Cookie"]
    finally:
        assert setup.close() == 0


def form_token(body: str) -> str:
    return body.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def lookup(browser: Browser, address: str) -> str:
    status, body, _ = browser.open("/ops/lookup?" + urllib.parse.urlencode({"address": address}))
    assert status == 200
    return body


def audit_trail(gw) -> list:
    async def read():
        store = gw.store()
        try:
            return await store.audit_log()
        finally:
            await store.close()

    return asyncio.run(read())


def test_recording_consent_and_removing_a_suppression_from_the_console(gw):
    from test_sms_http import suppress

    assert gw.sms(to=STRANGER)[0] == 422  # no consent
    suppress(gw.db, FRIEND, scope="acme")
    assert gw.sms(to=FRIEND)[1]["violations"][0]["code"] == "SUPPRESSED"
    browser = signed_in(gw)

    token = form_token(lookup(browser, STRANGER))
    status, _, headers = browser.open(
        "/ops/actions/record-consent",
        {
            "csrf": token,
            "address": STRANGER,
            "scope": "acme",
            "level": "express_written",
            "evidence": "signed paper form #88 <b>kept</b>",
        },
    )
    assert status == 303 and headers["Location"].startswith("/ops/lookup?")
    assert gw.sms(to=STRANGER)[0] == 201  # the next text goes out
    page = lookup(browser, STRANGER + " ")
    assert "consent.add" in page and "console 127.0.0.1" in page and "&lt;b&gt;kept&lt;/b&gt;" in page

    page = lookup(browser, FRIEND)
    status, _, headers = browser.open(
        "/ops/actions/remove-suppression",
        {
            "csrf": form_token(page),
            "address": FRIEND,
            "scope": "acme",
            "reason": "stop",
            "note": "re-joined by SMS",
        },
    )
    assert status == 303 and "done=removed" in headers["Location"]
    assert gw.sms(to=FRIEND)[0] == 201
    page = lookup(browser, FRIEND)
    assert "suppression.remove" in page and "reason stop; re-joined by SMS" in page
    status, body, _ = browser.open(headers["Location"])
    assert "Suppression removed." in body

    status, _, headers = browser.open(
        "/ops/actions/revoke-consent",
        {"csrf": form_token(page), "address": STRANGER, "scope": "acme", "note": "asked by phone"},
    )
    assert status == 303 and gw.sms(to=STRANGER)[0] == 422
    assert [a.action for a in audit_trail(gw)] == ["consent.revoke", "suppression.remove", "consent.add"]


def test_console_actions_need_the_form_token_and_the_origin(gw):
    from test_sms_http import suppress

    suppress(gw.db, FRIEND, scope="acme")
    browser = signed_in(gw)
    token = form_token(lookup(browser, FRIEND))
    remove = {"address": FRIEND, "scope": "acme", "reason": "stop", "note": "because"}
    other = signed_in(gw)  # another session's token is no good here
    refused = [
        ({**remove}, {}),
        ({**remove, "csrf": "forged"}, {}),
        ({**remove, "csrf": form_token(lookup(other, FRIEND))}, {}),
        ({**remove, "csrf": token}, {"Origin": "https://evil.example"}),
        ({**remove, "csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
        ({**remove, "csrf": token, "scope": "nobody"}, {}),
        ({**remove, "csrf": token, "reason": "erased"}, {}),
        ({**remove, "csrf": token, "address": "not-an-address"}, {}),
    ]
    for form, headers in refused:
        status, body, _ = browser.open("/ops/actions/remove-suppression", form, headers)
        assert status in (400, 403), (form, headers, status)
        assert "Not done" in body
    assert gw.sms(to=FRIEND)[1]["violations"][0]["code"] == "SUPPRESSED"  # nothing changed
    assert (
        Browser(gw.url).open("/ops/actions/remove-suppression", {**remove, "csrf": token})[0] == 302
    )  # signed out
    # Basic or Bearer ops credentials get forms bound to them too
    bearer = {"Authorization": f"Bearer {OPS}"}
    status, page, _ = Browser(gw.url).open(
        "/ops/lookup?" + urllib.parse.urlencode({"address": FRIEND}), headers=bearer
    )
    assert (
        Browser(gw.url).open("/ops/actions/remove-suppression", {**remove, "csrf": token}, bearer)[0] == 403
    )
    status, _, _ = Browser(gw.url).open(
        "/ops/actions/remove-suppression", {**remove, "csrf": form_token(page)}, bearer
    )
    assert status == 303 and gw.sms(to=FRIEND)[0] == 201
    assert [a.actor for a in audit_trail(gw)] == ["console 127.0.0.1"]


def test_an_erasure_is_shown_without_a_remove_button(gw):
    browser = signed_in(gw)
    assert gw.post("/v1/forget", {"address": STRANGER}, key=OPS)[0] == 200
    page = lookup(browser, STRANGER)
    assert "erasure: kept for good" in page and "remove-suppression" not in page


def test_rejections_per_day_per_code_chart(gw):
    from test_sms_http import suppress

    suppress(gw.db, FRIEND, scope="acme")
    assert gw.sms(to=STRANGER)[0] == 422
    assert gw.sms(to=STRANGER)[0] == 422
    assert gw.sms(to=FRIEND)[0] == 422
    gw.decisions(3)
    browser = signed_in(gw)
    _status, body, _ = browser.open("/ops/")
    svg = body.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "CONSENT_MISSING (2)" in svg and "SUPPRESSED (1)" in svg and "<script" not in svg
    today = datetime.now(UTC).date()
    assert f"{today} CONSENT_MISSING: 2" in svg
    assert f"{today - timedelta(days=29)} to {today}: 3 in all" in svg  # the last 30 days unless told
    _, body, _ = browser.open("/ops/?code=SUPPRESSED")
    assert "SUPPRESSED (1)" in body and "CONSENT_MISSING (" not in body
    _, body, _ = browser.open("/ops/?channel=email")
    assert "No rejections in this period." in body
    _, body, _ = browser.open("/ops/?since=2020-01-01")  # at most 92 days, the latest
    assert f"{today - timedelta(days=91)} to {today}: 3 in all" in body
