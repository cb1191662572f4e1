"""One declaration per violation code (gateway/policy/codes.py), and everything made from it: every declared
code is produced by some labelled corpus case and every code a case expects is declared; every rule names a
declared code; the Twilio mapping, the console's explanations and docs/rules.md come from the declarations;
violations are reported in one documented order."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest
from helpers import CORPUS, REPO

from gateway.model import Category, Channel, ConsentLevel, EmailContent, EmailMessage, RecipientFacts
from gateway.policy import evaluate_email, ordered
from gateway.policy.catalog import RULES, markdown
from gateway.policy.codes import BOTH, REGISTRY, Code, enforces, explain, twilio_code
from gateway.policy.settings import Policy, SenderSettings

EMAIL_CASES = tomllib.loads((CORPUS / "email" / "expected.toml").read_text())
SMS_CASES = tomllib.loads((CORPUS / "sms.toml").read_text())["cases"]


def _expected_codes() -> set[str]:
    found = set()
    for case in [*EMAIL_CASES.values(), *SMS_CASES.values()]:
        found.update(case["expect"])
    return found


def test_every_declared_code_is_produced_by_a_corpus_case_and_every_expected_code_is_declared():
    expected = _expected_codes()
    assert sorted(set(REGISTRY) - expected) == [], "declared but no corpus case produces it: add cases"
    assert sorted(expected - set(REGISTRY)) == [], "a corpus case expects a code that is not declared"


def test_every_code_is_enforced_by_a_rule_and_every_rule_names_a_declared_code_and_says_what_it_checks():
    enforced = {rule.code.name for rule in RULES}
    assert enforced == set(REGISTRY)
    for rule in RULES:
        assert REGISTRY[rule.code.name] is rule.code
        assert rule.__doc__ and len(rule.__doc__.split()) >= 5, f"{rule.__name__} says what it checks"


def test_a_rule_cannot_name_an_undeclared_code():
    stray = Code("NOT_DECLARED", BOTH, "meaning", "law", "fix")
    with pytest.raises(ValueError, match="not a declared code"):

        @enforces(stray)
        def check(_: object) -> str | None:
            return None


def test_the_twilio_mapping_and_the_console_come_from_the_declarations():
    for code in REGISTRY.values():
        if Channel.SMS in code.channels:
            assert code.twilio is not None, f"{code.name} needs a Twilio error code"
            assert twilio_code(code.name) == code.twilio
        assert explain(code.name) is code
        assert code.meaning and code.law and code.fix
    assert twilio_code("SUPPRESSED") == 21610 and twilio_code("INVALID_RECIPIENT") == 21211
    assert twilio_code("NO_SUCH_CODE") == 79100 and explain("NO_SUCH_CODE").meaning


def test_the_rules_page_is_the_registry():
    page = (REPO / "docs" / "rules.md").read_text()
    assert page == markdown(), "run: python -m gateway.policy.catalog > docs/rules.md"
    for code in REGISTRY.values():
        assert f"`{code.name}`" in page and code.law in page


def test_violations_come_recipient_by_recipient_then_the_messages_in_registry_order():
    sender = SenderSettings(
        "acme",
        "Acme",
        Category.MARKETING,
        frozenset(Category),
        from_domains=("acme.example",),
        physical_address="1 Main St, Springfield, IL 62701",
    )
    content = EmailContent(
        subject="Re: hello",
        from_addresses=("news@elsewhere.example",),
        sender_address=None,
        reply_to=(),
        to_addresses=(),
        in_reply_to=None,
        references=None,
        list_unsubscribe=None,
        list_unsubscribe_post=None,
        visible_text="nothing here",
        links=(),
        folded_text="nothing here",
        declared_explicit=False,
        size=10,
    )
    people = ("b@example.com", "not-an-address", "a@example.com")
    message = EmailMessage("acme", people, content)
    facts = {address: RecipientFacts(address) for address in people}
    policy = Policy(consent_required={(Channel.EMAIL, Category.MARKETING): ConsentLevel.IMPLIED})
    found = evaluate_email(message, facts, sender, policy, datetime(2026, 5, 5, 16, tzinfo=UTC)).violations
    assert [(v.recipient, v.code) for v in found] == [
        ("b@example.com", "CONSENT_MISSING"),
        ("not-an-address", "INVALID_RECIPIENT"),
        ("a@example.com", "CONSENT_MISSING"),
        (None, "CANSPAM_PHYSICAL_ADDRESS"),
        (None, "CANSPAM_UNSUBSCRIBE"),
        (None, "CANSPAM_AD_LABEL"),
        (None, "CANSPAM_FROM_DOMAIN"),
        (None, "CANSPAM_DECEPTIVE_SUBJECT"),
    ]
    assert ordered(reversed(found), people) == found  # the order does not depend on the rules' order
    assert ordered([*found, *found], people) == found  # and each is reported once
