"""The ops console over HTTP (the browser tests in Chromium come next): sign-in, the rejections list and its
filters, a decision's detail with the law and the fix, the address lookup, and every message-derived
string shown as text under a CSP that allows no script."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request

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
    setup.config.write_text(setup.config.read_text().replace('public_url = "https://gw.example"',
                                                             f'public_url = "{setup.url}"'))
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


def test_sender_keys_and_strangers_do_not_get_in(gw):
    browser = Browser(gw.url)
    for headers in ({}, {"Authorization": f"Bearer {KEYS['acme']}"}, {"Authorization": "Basic b3BzOndyb25n"}):
        status, _, response = browser.open("/ops/", headers=headers)
        assert status == 302 and response["Location"] == "/ops/login"
    status, _, _ = browser.open("/ops/", headers={"Authorization": f"Bearer {OPS}"})
    assert status == 200
    forged = Browser(gw.url)
    forged.jar.set_cookie(http.cookiejar.Cookie(0, "gw_ops", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None, False,
                                                "127.0.0.1", False, False, "/", True, False, None, False, None,
                                                None, {}))
    assert forged.open("/ops/")[0] == 302
    assert json.loads(forged.open("/v1/decisions")[1])["error"]["code"] == "UNAUTHORIZED"


def test_session_cookie_is_secure_behind_an_https_public_url(tmp_path):
    setup = Setup(tmp_path, provider="outbox")  # public_url = "https://gw.example"
    try:
        status, _, headers = Browser(setup.url).open("/ops/login", {"key": OPS})
        assert status == 302 and "Secure" in headers["Set-Cookie"]
    finally:
        assert setup.close() == 0
