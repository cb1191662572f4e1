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
calls to buy and offers ("% off", "shop now", "coupon", "promo code", "free shipping", "special offer"...),
narrower than the subject's patterns (`policy.promotional_subject_patterns`): a "point of sale terminal" is
not an ad. A body is judged on its visible text only (what a hidden block says is not what a reader sees
first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Category, EmailContent
from .settings import Policy, SenderSettings

_TRANSACTIONAL = re.compile(
    r"\b(?:order|orders|receipt|invoice|purchase|payment|paid|refund|shipment|shipped|shipping\s+confirmation"
    r"|tracking|delivery|delivered|package|reservation|booking|appointment|ticket|statement|balance|password"
    r"|verification|verify|confirm|confirmation|(?:security|one-time|login)\s+code|security\s+alert|sign[- ]in"
    r"|log[- ]?in\s+attempt|warranty|recall|renewal|renew|subscription|membership|account|incident|outage"
    r"|maintenance)\b",
    re.IGNORECASE,
)
# What reads as advertising in a body: calls to buy and offers, not the words "sale" or "deal" alone (a
# "point of sale terminal", "downtime is a big deal" are not ads; the subject test is broader).
_AD_BODY = re.compile(
    r"\b\d+\s*%\s*off\b|\$\d+\s*off\b|\b(?:shop|buy|order)\s+(?:now|today)\b|\bshop\s+the\s+sale\b|\bcoupon"
    r"|\bpromo(?:tion(?:al)?)?\s+code\b|\buse\s+code\b|\blimited[- ]time\b|\bfree\s+shipping\b"
    r"|\bflash\s+sale\b|\bclearance\b|\bbogo\b|\b(?:exclusive|special)\s+offers?\b"
    r"|\bsave\s+(?:up\s+to\s+)?\$?\d+|\bsale\s+ends\b|\b\d+\s*%\s*(?:cash\s*back|discount)\b",
    re.IGNORECASE,
)
OPENING = 300  # characters of visible text read as "the beginning of the body"
_SUBSTANTIAL_AD = 120  # characters of advertising before the transactional content that make it the opening


@dataclass(frozen=True, slots=True)
class Purpose:
    category: Category
    why: str = ""  # when it differs from the sender's: the reasoning, for the violation message


def advertises(text: str) -> bool:
    """Whether the text calls to buy or makes an offer (`_AD_BODY`)."""
    return _AD_BODY.search(text) is not None


def _ad_signals(text: str) -> list[re.Match[str]]:
    return list(_AD_BODY.finditer(text))


def primary_purpose(content: EmailContent, sender: SenderSettings, policy: Policy) -> Purpose:
    """The category mail from this sender is judged as: the sender's own, or marketing, with why."""
    if sender.category is Category.MARKETING:
        return Purpose(Category.MARKETING)
    text = " ".join(content.visible_text.split())
    ads = _ad_signals(text)
    if (
        policy.promotional_re is not None
        and policy.promotional_re.search(content.subject)
        and (ads or _AD_BODY.search(content.subject) or not _TRANSACTIONAL.search(text))
    ):  # (a word such as "sale" in the subject of a pure receipt, "Your Winter Sale order is confirmed",
        # makes no ad of it: the subject test weighs a message with commercial content, 316.3(a)(2), (b))
        return Purpose(Category.MARKETING, "its subject reads as an advertisement, 16 CFR 316.3(a)(2)(i)")
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


def sms_purpose(body: str, category: Category) -> Purpose:
    """A text that "includes or introduces an advertisement" is telemarketing whatever category its client
    gave it (47 CFR 64.1200(a)(2), (f)(1); the FCC reads "dual purpose" messages so, FCC 03-153 para. 142):
    one call to buy or offer in it (`_AD_BODY`) makes it marketing."""
    if category is Category.MARKETING:
        return Purpose(category)
    ad = _AD_BODY.search(" ".join(body.split()))
    if ad is None:
        return Purpose(category)
    return Purpose(
        Category.MARKETING, f"it includes an advertisement ({ad.group()!r}), 47 CFR 64.1200(a)(2), (f)(1)"
    )
