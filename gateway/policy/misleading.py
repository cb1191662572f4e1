"""What misleads a reader of a marketing message (15 U.S.C. 7704(a)(1), (a)(2), (a)(5)(A)(i)): a subject
that announces an order, delivery, account or payment event the message is not about, a display name
that shows another company's domain, an advertisement label the text denies, and labels spelled in
look-alike letters (which a reader reads as the word they look like). Pure functions of text.
"""

from __future__ import annotations

import re
from email.utils import getaddresses

from .textsearch import AnchoredPattern

_DOMAIN_LIKE = re.compile(r"(?<![\w.@-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}(?![\w-])")


def named_domains(from_field: str) -> list[str]:
    """Domains a From field's display names show the reader ("Amazon.com" <news@elsewhere>, or
    "support@paypal.com" <...>): the line that identifies the sender is header information too (7702(8))."""
    names = " ".join(name for name, _ in getaddresses([from_field]) if name).lower()
    return [m.group().rpartition("@")[2] for m in _DOMAIN_LIKE.finditer(names.replace("@", " "))]


# Latin look-alikes of other scripts (Unicode's confusables for the letters of the usual labels): the label
# is for the reader, who reads "advertisеment" with a Cyrillic е as the word it looks like
_LOOK_ALIKES = str.maketrans(
    "аеорсухіјѕԁһӏԛԝαεοριυνκτ", "aeopcyxijsdhlqwaeopiuvkt"
)  # fmt: skip
_DENIED = re.compile(r"(?:\bnot|n't|\bnever|\bno)\s+(?:an?\s+|a\s+paid\s+)?$")


def labels(pattern: AnchoredPattern, text: str) -> bool:
    """Whether the text identifies the message as an ad: a label phrase not denied ("This is not an
    advertisement" identifies nothing), in any letters that look like its own."""
    if _labelled(pattern, text):
        return True
    return not text.isascii() and _labelled(pattern, text.translate(_LOOK_ALIKES))  # (the rare case last)


def _labelled(pattern: AnchoredPattern, text: str) -> bool:
    return any(not _DENIED.search(text, max(0, m.start() - 12), m.start()) for m in pattern.finditer(text))


# Subjects of the notices a customer must open (an order shipped, a delivery failed, an account about to be
# closed, a payment due): on an advertisement, "likely to mislead a recipient ... about a material fact
# regarding the contents or subject matter of the message" (7704(a)(2)).
_TRANSACTION_SUBJECTS = (
    (
        re.compile(
            r"\byour\s+(?:order|package|parcel|shipment|delivery)\b[^.!?]{0,40}?\b(?:has\s+(?:been\s+)?"
            r"shipped|shipped|is\s+on\s+(?:its|the)\s+way|(?:could|can)\s*not\s+be\s+delivered|was\s+not"
            r"\s+delivered|undeliverable|delivery\s+(?:failed|attempt)|is\s+delayed|was\s+returned|is\s+(?:ready"
            r"\s+for\s+pickup|confirmed|out\s+for\s+delivery)|has\s+been\s+(?:delivered|confirmed|cancel+ed))"
            r"|\b(?:tracking|invoice)\s*(?:#|no\.?|number)\s*[a-z0-9-]*\d|\bdelivery\s+(?:failed|attempt"
            r"\s+failed|notification)|\bpackage\s+(?:could\s*not|was\s+not)\s+be\s+delivered"
        ),
        "announces an order or delivery",
    ),
    (
        re.compile(
            r"\b(?:your\s+)?account\s+(?:will\s+be|has\s+been|is\s+(?:being\s+)?|was\s+)(?:suspended|locked"
            r"|closed|deactivated|disabled|restricted|terminated|on\s+hold)|\baction\s+required\b|\bverify\s+your"
            r"\s+(?:account|identity|email|payment)|\bconfirm\s+your\s+(?:account|identity|password|payment)"
            r"|\bpassword\s+(?:reset|change|expir)|\bsecurity\s+alert|\bunusual\s+(?:sign.?in|activity)"
        ),
        "announces an account or security event",
    ),
    (
        re.compile(
            r"\bpayment\s+(?:failed|declined|overdue|is\s+(?:due|overdue|past\s+due)|received|confirmation)"
            r"|\b(?:past\s+due|overdue)\s+(?:balance|invoice|payment|notice)|\byour\s+(?:receipt|invoice|"
            r"statement)\b|\brefund\s+(?:issued|processed|approved)"
        ),
        "announces a payment",
    ),
)


def poses_as_transaction(subject: str) -> str | None:
    """What a subject announces that is no advertisement's business, or None."""
    low = " ".join(subject.lower().split())
    if not low.isascii():
        low = low.translate(_LOOK_ALIKES)
    for pattern, what in _TRANSACTION_SUBJECTS:
        if pattern.search(low):
            return what
    return None
