"""Every text in tests/corpus/sms.toml gets exactly the codes it lists (DST, zones, state rules, caps), with
its facts in either store engine."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import datetime

import pytest
from engines import ENGINES, Engine
from helpers import CORPUS, load_facts

from gateway import config as config_module
from gateway.model import Category
from gateway.pipeline import Pipeline

CASES = tomllib.loads((CORPUS / "sms.toml").read_text())
CONFIG = config_module.load(str(CORPUS / "gateway.toml"))
SMS_CODES = {
    "DNC_REGISTERED",
    "NUMBER_REASSIGNED",
    "SUPPRESSED",
    "CONSENT_MISSING",
    "CATEGORY_NOT_ALLOWED",
    "QUIET_HOURS",
    "FREQUENCY_CAP",
    "SMS_OPT_OUT_NOTICE",
    "SMS_SENDER_ID",
    "SMS_CONTENT",
    "INVALID_RECIPIENT",
}


def _facts(case: dict) -> dict:
    sender, to = case.get("sender", "acme"), case["to"]
    facts: dict = {"suppression": [], "consent": [], "send": []}
    level = case.get("consent", "express_written")
    if level != "none":
        facts["consent"].append(
            {
                "channel": "sms",
                "address": to,
                "scope": sender,
                "level": level,
                "obtained_at": case.get("consent_at", "2026-01-01T00:00:00Z"),
                "basis": case.get("basis", ""),
                "expires_at": case.get("expires_at"),
                "revoked_at": case.get("revoked_at"),
                "evidence": "keyword JOIN",
            }
        )
    if "suppress" in case:
        facts["suppression"].append(
            {
                "channel": "sms",
                "address": to,
                "scope": sender,
                "reason": case["suppress"],
                "created_at": case.get("suppressed_at", "2026-05-01T00:00:00Z"),
                "expires_at": case.get("suppress_expires"),
            }
        )
    facts["send"] = [{"address": to, "sender": sender, "at": t} for t in case.get("sends", [])]
    # Do-Not-Call: `dnc_copies` lists held (as of `dnc_as_of`), `dnc` the ones this number is on
    facts["dnc"] = [
        {"list": name, "as_of": case["dnc_as_of"], "numbers": [to] if name in case.get("dnc", []) else []}
        for name in case.get("dnc_copies", [])
    ]
    facts["rnd"] = [{"number": to, "queried": q, "answer": a} for q, a in case.get("rnd", [])]
    return facts


def test_corpus_covers_every_sms_code():
    cases = CASES["cases"]
    assert len(cases) >= 30
    alone = {c["expect"][0] for c in cases.values() if len(c["expect"]) == 1}
    assert alone == SMS_CODES


_LOOP = asyncio.Runner()  # one loop for the module: a PostgreSQL pool belongs to the loop that made it


@pytest.fixture(scope="module", params=ENGINES)
def store(request, tmp_path_factory):
    engine = Engine(request.param, tmp_path_factory.mktemp("sms"))
    opened = engine.open()
    opened.kind = engine.kind
    yield opened
    _LOOP.run(opened.close())
    engine.drop()


async def _empty(store) -> None:
    """Each case starts from no facts (one database for the module: creating one per case is slow)."""
    if store.kind == "sqlite":
        for table in ("suppressions", "consents", "sends", "dnc", "dnc_copies", "rnd", "rnd_receipts"):
            store.db.run(f"DELETE FROM {table}")
    else:
        await store.db.execute("TRUNCATE suppressions, consents, sends, dnc, dnc_copies, rnd, rnd_receipts")


@pytest.mark.parametrize("name", sorted(CASES["cases"]))
def test_text_gets_expected_codes(name, store):
    case = CASES["cases"][name]

    async def judge():
        await _empty(store)
        if case["to"].startswith("+") and " " not in case["to"] and "O" not in case["to"]:
            await load_facts(store, _facts(case))
        pipeline = Pipeline(CONFIG, store)
        category = Category(case["category"]) if "category" in case else None
        return await pipeline.check_sms(
            case.get("sender", "acme"),
            case["to"],
            case.get("body", CASES["default_body"]),
            category,
            datetime.fromisoformat(case["at"]),
        )

    result = _LOOP.run(judge())
    codes = sorted({v.code for v in result.evaluation.violations})
    assert codes == sorted(case["expect"]), [v.message for v in result.evaluation.violations]
