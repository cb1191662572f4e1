"""An email's primary purpose (gateway/policy/purpose.py, 16 CFR 316.3): mail on a transactional or
informational stream is judged as marketing when its subject or its body says it is an advertisement."""

from __future__ import annotations

import pytest

from gateway.content.mime import parse_email
from gateway.model import Category
from gateway.policy.purpose import primary_purpose
from gateway.policy.settings import Policy, SenderSettings

POLICY = Policy()


def sender(category: Category) -> SenderSettings:
    return SenderSettings("s", "Ledger Bank", category, frozenset(Category))


def judged(subject: str, body: str, category: Category = Category.TRANSACTIONAL):
    raw = f"From: a@ledger.example\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()
    return primary_purpose(parse_email(raw), sender(category), POLICY)


RECEIPT = "Payment received. We received your payment of $129.00 on May 4; your statement balance is $0.00."
AD = (
    "SPECIAL OFFER: open a savings plan this week and get a $200 bonus. Limited time only: apply with promo "
    "code SAVE200 before May 31 and pay no monthly fees for a year."
)


@pytest.mark.parametrize(
    "subject, body, marketing, why",
    [
        ("Payment received", RECEIPT, False, ""),
        ("Payment received", RECEIPT + " Ask about our special offer on savings.", False, ""),
        ("Payment received", "Limited time: 2% cash back.\n" + RECEIPT, False, ""),  # a short banner
        ("Payment received", AD + "\n\n" + RECEIPT, True, "316.3(a)(2)(ii)"),
        (
            "Your account",
            "Earn 5% cash back. Limited time: use promo code SUMMER5. This special offer ends.",
            True,
            "316.3(a)(1)",
        ),
        (
            "Your account",
            "We updated our privacy notice. Read it at https://ledger.example/privacy",
            False,
            "",
        ),
        ("50% off everything", RECEIPT, True, "316.3(a)(2)(i)"),
        # the words alone are not an ad (found by review: each was judged marketing once)
        ("Terminal ready", "Your new point of sale terminal is ready. Plug it in.", False, ""),
        ("Incident", "We know downtime is a big deal for you. The incident is resolved.", False, ""),
        ("Welcome", "Please confirm your email address and start getting our weekly deals.", False, ""),
        (
            "Your order",
            "NEW ARRIVALS | WOMEN | MEN | SALE | " + "x " * 80 + "Your order 123 has shipped.",
            False,
            "",
        ),
    ],
)
def test_transactional_stream(subject, body, marketing, why):
    purpose = judged(subject, body)
    assert (purpose.category is Category.MARKETING) is marketing
    assert why in purpose.why and (purpose.why == "") is (not marketing)


def test_the_reason_names_what_opened_the_body():
    purpose = judged("Payment received", AD + "\n\n" + RECEIPT)
    assert "body opens with an advertisement" in purpose.why and "SPECIAL OFFER" in purpose.why


def test_informational_stream_opening_with_advertising_is_marketing():
    purpose = judged("Our newsletter", AD + "\n\nOur branch hours change on June 1.", Category.INFORMATIONAL)
    assert purpose.category is Category.MARKETING and "316.3(a)(1)" in purpose.why
    assert judged("Branch hours", "Our branch hours change on June 1.", Category.INFORMATIONAL).category is (
        Category.INFORMATIONAL
    )


def test_a_marketing_stream_stays_marketing_without_a_reason():
    assert judged("Payment received", RECEIPT, Category.MARKETING).why == ""
