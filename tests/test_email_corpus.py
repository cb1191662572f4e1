"""Every message in tests/corpus/email gets exactly the codes expected.toml lists for it, with its facts in
either store engine."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import datetime

import pytest
from engines import ENGINES, Engine
from helpers import CHECK_TIME, CORPUS, config_copy, load_facts

from gateway import config as config_module
from gateway.pipeline import Pipeline

EMAILS = CORPUS / "email"
EXPECTED = tomllib.loads((EMAILS / "expected.toml").read_text())
SPEC_EMAIL_CODES = {
    "SUPPRESSED",
    "CONSENT_MISSING",
    "CANSPAM_PHYSICAL_ADDRESS",
    "CANSPAM_UNSUBSCRIBE",
    "CANSPAM_AD_LABEL",
    "CANSPAM_FROM_DOMAIN",
    "CANSPAM_DECEPTIVE_SUBJECT",
    "CANSPAM_EXPLICIT_LABEL",
    "LIST_UNSUBSCRIBE_HEADER",
    "CATEGORY_NOT_ALLOWED",
    "INVALID_RECIPIENT",
}


_LOOP = asyncio.Runner()  # one loop for the module: a PostgreSQL pool belongs to the loop that made it


@pytest.fixture(scope="module", params=ENGINES)
def pipelines(request, tmp_path_factory):
    made, engines = {}, []
    for name in ("gateway.toml", "no-list-headers.toml"):
        tmp = tmp_path_factory.mktemp(name.split(".")[0])
        engine = Engine(request.param, tmp)
        engines.append(engine)
        config = config_module.load(str(config_copy(CORPUS / name, tmp)))
        store = engine.open()
        _LOOP.run(load_facts(store, tomllib.loads((CORPUS / "facts.toml").read_text())))
        made[name] = Pipeline(config, store)
    yield made
    for p in made.values():
        _LOOP.run(p.store.close())
    for engine in engines:
        engine.drop()


def test_corpus_is_large_and_listed():
    files = {p.name for p in EMAILS.glob("*.eml")}
    assert files == set(EXPECTED), "every .eml needs an entry in expected.toml and the reverse"
    assert len(files) >= 40
    alone = {case["expect"][0] for case in EXPECTED.values() if len(case["expect"]) == 1}
    assert alone == SPEC_EMAIL_CODES, "each email code is shown alone by at least one message"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_message_gets_expected_codes(name, pipelines):
    case = EXPECTED[name]
    pipeline = pipelines[case.get("config", "gateway.toml")]
    raw = (EMAILS / name).read_bytes()
    result = _LOOP.run(pipeline.check_email(case["sender"], raw, datetime.fromisoformat(CHECK_TIME)))
    codes = sorted({v.code for v in result.evaluation.violations})
    assert codes == sorted(case["expect"]), [v.message for v in result.evaluation.violations]
    assert all(v.message for v in result.evaluation.violations)
