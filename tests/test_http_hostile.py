"""Text no store or provider should be handed (a NUL, a lone surrogate) is a 400 at the HTTP door,
before anything is sent or stored: in JSON bodies, Twilio forms, paths and queries."""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.request

import pytest
from test_decisions_api import OPS, get
from test_sms_http import ACME_SID, FRIEND, KEYS, MARKETING, Setup


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path)
    yield setup
    assert setup.close() == 0, setup.gateway.output()


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\u0000", "x\\ud83dy"])
def test_a_text_that_is_not_text_is_refused_before_the_provider_sees_it(gw, escape):
    body = b'{"to": "%s", "body": "Hi %s from Acme"}' % (FRIEND.encode(), escape.encode())
    status, answer, _ = gw.post("/v1/sms", body)
    assert status == 400 and answer["error"]["code"] == "BAD_REQUEST", answer
    assert "NUL or a lone surrogate" in answer["error"]["message"]
    assert gw.twilio.attempts == 0 and gw.decisions() == []


def test_a_whole_surrogate_pair_is_text(gw):
    body = json.dumps({"to": FRIEND, "body": MARKETING + " TRUCK"}).replace("TRUCK", "\\ud83d\\ude9a")
    status, answer, _ = gw.post("/v1/sms", body.encode())
    assert status == 201, answer
    assert gw.twilio.received[0]["form"]["Body"].endswith("\U0001f69a")


def test_a_nul_in_a_twilio_form_is_refused(gw):
    request = urllib.request.Request(
        f"{gw.url}/2010-04-01/Accounts/{ACME_SID}/Messages.json",
        data=f"To=%2B{FRIEND[1:]}&From=%2B15005550006&Body=hi%00there".encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    request.add_header(
        "Authorization", "Basic " + base64.b64encode(f"{ACME_SID}:{KEYS['acme']}".encode()).decode()
    )
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 400
    assert gw.twilio.attempts == 0


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b", "sender=%00", "code=%ED%A0%80", "q%00=1"])
def test_a_nul_in_the_query_is_bad_input_not_an_unavailable_store(gw, query):
    status, body = get(gw, "/v1/decisions?" + query)
    assert status == 400, body
    assert b"STORE_UNAVAILABLE" not in body


def test_a_nul_in_the_path_is_bad_input(gw):
    status, body = get(gw, "/v1/decisions/abc%00def", OPS)
    assert status in (400, 404), body


def _raw(gw, data: bytes) -> bytes:
    host, port = gw.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        return conn.recv(200)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"Z" * 60_000 + b"\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad\x01Header: y\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["chunk-size", "control-in-header", "long-line"],
)
def test_an_unparseable_request_is_a_400_and_one_short_log_line(gw, request_bytes):
    """Unauthenticated bytes never reach the log as an ERROR with a traceback quoting them."""
    before = len(gw.gateway.output())
    answer = _raw(gw, request_bytes)
    assert answer.startswith(b"HTTP/1.") and answer[8:13] == b" 400 ", answer
    time.sleep(0.3)
    logged = gw.gateway.output()[before:]
    assert "Traceback" not in logged and " ERROR " not in logged, logged[:2000]
    assert "unparseable HTTP request from 127.0.0.1" in logged and len(logged) < 600, logged[:2000]
