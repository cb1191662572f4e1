"""Every message in tests/corpus/email gets exactly the codes expected.toml lists for it."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import datetime

import pytest

from gateway import config as config_module
from gateway.pipeline import Pipeline
from gateway.store import open_store
from helpers import CHECK_TIME, CORPUS, config_copy, load_facts_file

EMAILS = CORPUS / "email"
EXPECTED = tomllib.loads((EMAILS / "expected.toml").read_text())
SPEC_EMAIL_CODES = {
    "SUPPRESSED", "CONSENT_MISSING", "CANSPAM_PHYSICAL_ADDRESS", "CANSPAM_UNSUBSCRIBE", "CANSPAM_AD_LABEL",
    "CANSPAM_FROM_DOMAIN", "CANSPAM_DECEPTIVE_SUBJECT", "CANSPAM_EXPLICIT_LABEL", "LIST_UNSUBSCRIBE_HEADER",
    "CATEGORY_NOT_ALLOWED", "INVALID_RECIPIENT",
}


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory):
    made = {}
    for name in ("gateway.toml", "no-list-headers.toml"):
        tmp = tmp_path_factory.mktemp(name.split(".")[0])
        config = config_module.load(str(config_copy(CORPUS / name, tmp)))
        store = open_store(config.database)
        load_facts_file(store, CORPUS / "facts.toml")
        made[name] = Pipeline(config, store)
    yield made
    for p in made.values():
        asyncio.run(p.store.close())


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
    result = asyncio.run(pipeline.check_email(case["sender"], raw, datetime.fromisoformat(CHECK_TIME)))
    codes = sorted({v.code for v in result.evaluation.violations})
    assert codes == sorted(case["expect"]), [v.message for v in result.evaluation.violations]
    assert all(v.message for v in result.evaluation.violations)
