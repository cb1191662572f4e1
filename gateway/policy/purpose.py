"""The primary purpose of an email (16 CFR 316.3): whether mail sent on a transactional or informational
stream is in law a commercial message, and why. Pure functions of the subject and the visible text.

- (a)(2)(i), (a)(3)(i): a subject line a recipient would read as an advertisement makes it commercial.
- (a)(1): a message whose content is all advertisement is commercial, whatever stream it came on.
- (a)(2)(ii): with transactional and commercial content, it is commercial when the transactional content
  does not appear, in whole or in substantial part, at the beginning of the body.
- (a)(3)(ii): with commercial and other content, it is commercial when a reasonable recipient reading the
  body would likely conclude its primary purpose is advertising; here, when the body opens with it.

What reads as transactional is what 15 U.S.C. 7702(17) lists: a transaction the recipient agreed to (an
order, a receipt, shipping, payment, a refund), their account, subscription or membership, warranty, recall
and safety information, and the like. What reads as advertising are the promotional phrases the subject test
uses (`policy.promotional_subject_patterns`: "% off", "sale", "shop now", "coupon", ...). A body is judged
on its visible text only (what a hidden block says is not what a reader sees first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Category, EmailContent
from .settings import Policy, SenderSettings

_TRANSACTIONAL = re.compile(
    r"\b(?:order|orders|receipt|invoice|purchase|payment|paid|refund|shipment|shipped|shipping\s+confirmation"
    r"|tracking|delivery|delivered|reservation|booking|appointment|statement|balance|password|verification"
    r"|verify|security\s+alert|sign[- ]in|log[- ]?in\s+attempt|warranty|recall|renewal|renew|subscription"
    r"|membership|account)\b",
    re.IGNORECASE,
)
OPENING = 300  # characters of visible text read as "the beginning of the body"
_SUBSTANTIAL_AD = 120  # characters of advertising before the transactional content that make it the opening


@dataclass(frozen=True, slots=True)
class Purpose:
    category: Category
    why: str = ""  # when it differs from the sender's: the reasoning, for the violation message


def _ad_signals(text: str, policy: Policy) -> list[re.Match[str]]:
    return list(policy.promotional_re.finditer(text)) if policy.promotional_re is not None else []


def primary_purpose(content: EmailContent, sender: SenderSettings, policy: Policy) -> Purpose:
    """The category mail from this sender is judged as: the sender's own, or marketing, with why."""
    if sender.category is Category.MARKETING:
        return Purpose(Category.MARKETING)
    if policy.promotional_re is not None and policy.promotional_re.search(content.subject):
        return Purpose(Category.MARKETING, "its subject reads as an advertisement, 16 CFR 316.3(a)(2)(i)")
    text = " ".join(content.visible_text.split())
    ads = _ad_signals(text, policy)
    if not ads:
        return Purpose(sender.category)
    first_transaction = _TRANSACTIONAL.search(text)
    distinct = {m.group().lower() for m in ads}
    # with nothing transactional in it, one call to buy makes mail on a transactional stream an ad; an
    # informational stream's news may mention a sale once, so it takes two
    needed = 1 if sender.category is Category.TRANSACTIONAL else 2
    if first_transaction is None and len(distinct) >= needed:
        return Purpose(
            Category.MARKETING,
            "its body is an advertisement with no transactional or relationship content, 16 CFR 316.3(a)(1)",
        )
    if first_transaction is None:
        return Purpose(sender.category)
    before = text[: first_transaction.start()]
    opening_ads = [m for m in ads if m.start() < first_transaction.start()]
    if opening_ads and (first_transaction.start() > OPENING or len(before.strip()) >= _SUBSTANTIAL_AD):
        where = "an advertisement" if sender.category is Category.TRANSACTIONAL else "advertising"
        return Purpose(
            Category.MARKETING,
            f"its body opens with {where} ({opening_ads[0].group()!r}) and the transactional content "
            "comes after it, 16 CFR 316.3(a)(2)(ii)",
        )
    return Purpose(sender.category)
