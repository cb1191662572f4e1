"""The ops console in real headless Chromium (Debian's, driven by Playwright): sign in, filter by code and
date, open a detail, download the CSV and compare it with the API, look up an address and act on it, and
mail whose subject and addresses carry script that must never run. Screenshots of each page go to
test-output/screenshots/."""

from __future__ import annotations

import csv
import io
import json
import os
import smtplib
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import MAIL_GATEWAY, REPO
from playwright.sync_api import Browser, Page, sync_playwright
from servers import GatewayProcess, free_port, wait_until
from test_optout import RECEIPT, SAMPLE

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "test-output" / "screenshots"
PASSWORD = "browser-smtp-secret-1"
OPS = "browser-ops-key-0123456789"
ENV = {
    "ACME_SMTP_PASSWORD": PASSWORD,
    "GATEWAY_OPS_KEY": OPS,
    "GATEWAY_TOKEN_SECRET": "browser-secret-0123456789ab",
}
GONE = "gone@example.com"  # unsubscribed before the test
XSS_SUBJECT = (
    '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2"> javascript:window.__xss=3'
)
XSS_RECIPIENTS = [
    '"<script>window.__xss=4</script>"@example.com',
    '"\\"><img src=x onerror=window.__xss=5>"@example.com',
    "javascript:alert(6)@example.com",
]


class Gateway:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.smtp, self.http = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http}"
        config = tmp / "gateway.toml"
        config.write_text(
            MAIL_GATEWAY.format(tmp=tmp, smtp=self.smtp, http=self.http, upstream=f"maildir:{tmp}/outbox")
        )
        self.process = GatewayProcess(config, self.http, tmp, ENV)

    def send(self, message: bytes, to: list[str]) -> dict:
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=30) as client:
            client.login("acme", PASSWORD)
            try:
                return client.sendmail("news@news.demo.example", to, message)
            except smtplib.SMTPRecipientsRefused as refused:
                return refused.recipients
            except smtplib.SMTPDataError as refused:
                return {"data": (refused.smtp_code, refused.smtp_error)}

    def api(self, path: str) -> bytes:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {OPS}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def decisions(self, **query) -> list[dict]:
        return json.loads(self.api("/v1/decisions?" + urllib.parse.urlencode({"limit": 500, **query})))[
            "decisions"
        ]


@pytest.fixture(scope="module")
def chromium():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: scripts/test installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def gw(tmp_path):
    gateway = Gateway(tmp_path)
    yield gateway
    assert gateway.process.stop() == 0, gateway.process.output()


class Watched:
    """A page that records every script the browser runs or blocks, and every dialog."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.context = browser.new_context(
            base_url=base, accept_downloads=True, viewport={"width": 1400, "height": 900}
        )
        self.page: Page = self.context.new_page()
        self.events: list[str] = []
        self.page.on(
            "dialog", lambda dialog: (self.events.append(f"dialog {dialog.message}"), dialog.dismiss())
        )
        self.page.on("console", lambda message: self.events.append(f"console {message.text}"))
        self.page.on("pageerror", lambda error: self.events.append(f"error {error}"))

    def sign_in(self) -> None:
        self.page.goto("/ops/")
        assert self.page.url.endswith("/ops/login")
        self.page.fill("input[name=key]", "wrong-key")
        self.page.click("button[type=submit]")
        assert "not an ops key" in self.page.inner_text("main")
        assert self.events == [
            "console Failed to load resource: the server responded with a status of 401 (Unauthorized)"
        ], self.events
        self.events.clear()
        self.page.fill("input[name=key]", OPS)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/ops/")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000

    def close(self) -> None:
        self.context.close()


def seed(gw: Gateway) -> None:
    # Playwright's sync API keeps an event loop on this thread: the CLI runs as its own process
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "suppress",
            "add",
            GONE,
            "--channel",
            "email",
            "--sender",
            "acme",
            "--reason",
            "unsubscribe",
            "--config",
            str(gw.tmp / "gateway.toml"),
        ],
        cwd=gw.tmp,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **ENV},
        capture_output=True,
    )
    assert gw.send(SAMPLE, ["reader@example.com"]) == {}
    refused = gw.send(SAMPLE, [GONE])
    assert refused[GONE][0] == 550, refused
    assert (
        gw.send(RECEIPT.replace(b"To: reader@example.com", b"To: buyer@example.com"), ["buyer@example.com"])[
            "data"
        ][0]
        == 550
    )
    wait_until(lambda: len(gw.decisions()) == 3)


def test_sign_in_filter_detail_csv_and_lookup_in_chromium(gw, chromium):
    seed(gw)
    browser = Watched(chromium, gw.url)
    try:
        page = browser.page
        browser.sign_in()
        rows = page.locator("table.decisions tbody tr")
        assert rows.count() == 2  # rejections only: GONE at RCPT, the receipt after DATA
        assert page.locator("svg.chart rect title").count() >= 2  # the chart has bars
        assert "SUPPRESSED (1)" in page.text_content("svg.chart")
        browser.shot("list")

        # filter by code and date, as a person would: the form's own controls
        page.select_option("select[name=code]", "SUPPRESSED")
        page.fill("input[name=since]", datetime.now(UTC).strftime("%Y-%m-%d"))
        page.click(".filters button[type=submit]")
        page.wait_for_url("**code=SUPPRESSED**")
        assert rows.count() == 1 and GONE in rows.first.inner_text()
        page.fill("input[name=since]", "2000-01-01")
        page.fill("input[name=until]", "2000-01-02")
        page.click(".filters button[type=submit]")
        page.wait_for_url("**until=2000-01-02**")
        assert "No decisions match." in page.inner_text("table.decisions")
        page.goto("/ops/?verdict=")
        assert rows.count() == 3

        # the CSV link carries the current filter; its rows are the API's
        page.select_option("select[name=verdict]", "rejected")
        page.click(".filters button[type=submit]")
        page.wait_for_url("**verdict=rejected**")
        with page.expect_download() as download:
            page.click("a.csv")
        exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        api = gw.decisions(verdict="rejected")
        assert [r["id"] for r in exported] == [d["id"] for d in api] and len(api) == 2
        assert {r["recipient"] for r in exported} == {GONE, "buyer@example.com"}

        # a decision's detail: the law and the fix
        page.click("table.decisions tr:has-text('buyer@example.com') a[href^='/ops/decisions/']")
        page.wait_for_url("**/ops/decisions/**")
        assert "How to fix the message" in page.inner_text("main") and "15 U.S.C. 7704" in page.inner_text(
            "main"
        )
        browser.shot("detail")

        # lookup, then lift the suppression from the console (form token and all, as the browser sends it)
        page.click("dd a:has-text('buyer@example.com')")
        page.fill("input[name=address]", GONE)
        page.click(".filters button[type=submit]")
        page.wait_for_url("**/ops/lookup?address=**")
        assert "unsubscribe" in page.inner_text("table.suppressions")
        assert "SUPPRESSED" in page.inner_text("table.decisions")
        browser.shot("lookup")
        page.fill("table.suppressions input[name=note]", "re-subscribed in writing, ticket 1234")
        page.click("table.suppressions button[type=submit]")
        page.wait_for_url("**done=removed**")
        assert "Suppression removed." in page.inner_text("main")
        assert "suppression.remove" in page.inner_text("table.audit")
        assert gw.send(SAMPLE, [GONE]) == {}  # the next message goes out
        page.fill("#record-consent input[name=evidence]", "double opt-in 2026-05-01")
        page.select_option("#record-consent select[name=level]", "express")
        page.click("#record-consent button[type=submit]")
        page.wait_for_url("**done=recorded**")
        assert "double opt-in 2026-05-01" in page.inner_text("table.consents")
        assert browser.events == [], browser.events
    finally:
        browser.close()


def test_script_in_subjects_and_addresses_never_runs(gw, chromium):
    nasty = RECEIPT.replace(b"Subject: Your order 1001", b"Subject: " + XSS_SUBJECT.encode())
    gw.send(nasty, ["buyer@example.com"])
    for recipient in XSS_RECIPIENTS:
        gw.send(nasty.replace(b"To: reader@example.com", b"To: x@example.com"), [recipient])
    wait_until(lambda: len(gw.decisions()) >= 2)
    shown = gw.decisions()
    assert any(XSS_SUBJECT in d["excerpt"] for d in shown)
    assert any("<script>" in d["recipient"] or "<img" in d["recipient"] for d in shown)
    browser = Watched(chromium, gw.url)
    try:
        page = browser.page
        browser.sign_in()
        pages = ["/ops/?verdict=", "/ops/?verdict=&q=" + urllib.parse.quote("<script>")]
        pages += [f"/ops/decisions/{d['id']}" for d in shown]
        pages += ["/ops/lookup?" + urllib.parse.urlencode({"address": d["recipient"]}) for d in shown]
        for path in pages:
            page.goto(path)
            assert page.evaluate("window.__xss") is None, path
            assert page.locator("main script, main img, main iframe, main [onerror]").count() == 0, path
            assert page.locator("a[href^='javascript:']").count() == 0, path
        page.goto("/ops/?verdict=")
        assert XSS_SUBJECT in page.inner_text("table.decisions")  # shown, as text
        browser.shot("xss-list")
        assert browser.events == [], browser.events  # no dialog, no error, not even a script the CSP blocked
    finally:
        browser.close()
