"""What the words beside an opt-out say about it: the terms 16 CFR 316.5 forbids, and the reply-email
instruction 15 U.S.C. 7704(a)(3)(A)(i) allows. Pure functions of lower-cased visible text.

16 CFR 316.5: a sender may not, as a condition of honouring an opt-out, "require the recipient to pay
any fee, provide any information other than the recipient's electronic mail address and opt-out
preferences, or take any other steps except sending a reply electronic mail message or visiting a single
Internet Web page". 7704(a)(3)(A)(ii): the mechanism keeps working for at least 30 days after the message
is sent. An opt-out whose own sentence sets such a term is no opt-out mechanism the law accepts; the
message may still offer another one that is.

Only the opt-out's own sentence is read, and the next one when it speaks of the link or request ("This
link expires in 7 days."): a footer's other items ("Unsubscribe | Sign in | Free shipping over $50") are
separate sentences and set no term.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[|•·\n]")
_REFERS_BACK = re.compile(
    r"^\s*(?:this|the|that|it|your)\b[^.]{0,20}?\b(?:link|page|request|unsubscrib|opt|removal)|^\s*it\b|^\s*\("
)
_FEE = re.compile(r"[$€£]\s?\d|\b\d+(?:\.\d+)?\s?(?:usd|dollars?|cents?)\b|\bfees?\b|\bcharged?\b|\bpay\b")
_NEGATED = re.compile(r"\b(?:no|free|without|never|not|zero|nothing)\b")
_TERMS = (
    (
        re.compile(
            r"\bto\s+(?:unsubscribe|opt.?out)\s*,?\s*(?:please\s+|first\s+|you\s+(?:must|need\s+to|will\s+need"
            r"\s+to)\s+)?(?:sign|log)\s?-?(?:in|on)\b|\b(?:sign|log)\s?-?(?:in|on)\s+(?:to|and)\s+(?:[\w']+\s+)"
            r"{0,4}?(?:unsubscrib|opt.?out)|\b(?:must|need\s+to|required\s+to|have\s+to)\s+(?:sign|log)\s?-?"
            r"(?:in|on)\b|\bpassword\b|\b(?:login|sign.?in)\s+(?:is\s+)?required"
        ),
        "needs a login",
    ),
    (
        re.compile(
            r"\b(?:enter|provide|give|confirm|supply|submit|type|fill\s+in|requires?|required|ask(?:ed|s)?\s+for"
            r"|need)\b[^.]{0,60}?\b(?:zip|postal)\s+code|\b(?:enter|provide|give|confirm|supply|submit|type"
            r"|fill\s+in|requires?|required|ask(?:ed|s)?\s+for|need)\b[^.]{0,60}?\b(?:date\s+of\s+birth"
            r"|birth\s?date|birthday|phone\s+number|account\s+number|social\s+security|ssn|credit\s+card"
            r"|home\s+address|mailing\s+address)"
        ),
        "asks for more than an email address",
    ),
)
_EXPIRES = re.compile(
    r"\b(?:expires?|expiring|valid|works?|active|deactivated)\b[^.]{0,40}?\b(\d+)\s*(minutes?|hours?|days?)\b"
)
_REPLY = re.compile(
    r"(?<!not )(?<!n't )\breply(?:ing)?\b(?:\s+to\s+(?:this|our|any)\s+(?:e-?mail|message))?\s*(?:,\s*)?"
    r"(?:with|saying|containing|and\s+(?:say|write|type|put|include))?\s*(?:the\s+word\s+)?[\"'“‘]?"
    r"(?:unsubscribe|remove|stop|opt.?out)\b"
)
_NO_REPLY = re.compile(r"^(?:no-?_?reply|do-?_?not-?_?reply|donotreply|noreply)\b")


def sentences_around(low: str, start: int, end: int) -> str:
    """The sentence holding text[start:end], and the next one when it refers back to the opt-out."""
    begin = 0
    for m in _SENTENCE_END.finditer(low, max(0, start - 400), start):
        begin = m.end()
    first = _SENTENCE_END.search(low, end)
    stop = len(low) if first is None else first.end()
    if first is not None and first.group() in ".!?":
        following = _SENTENCE_END.search(low, stop)
        tail = low[stop : len(low) if following is None else following.end()]
        if _REFERS_BACK.match(tail):
            stop += len(tail)
    return low[begin:stop]


def forbidden_term(context: str) -> str | None:
    """What the opt-out's sentences demand that 16 CFR 316.5 or 7704(a)(3)(A)(ii) forbids, or None."""
    for m in _FEE.finditer(context):
        if not _NEGATED.search(
            context, max(0, m.start() - 30), m.start()
        ):  # "at no charge", "free of charge"
            return "asks a fee"
    for pattern, what in _TERMS:
        if pattern.search(context):
            return what
    for m in _EXPIRES.finditer(context):
        amount, unit = int(m.group(1)), m.group(2)
        if not unit.startswith("day") or amount < 30:
            return f"stops working after {amount} {unit} (it must work for 30 days)"
    return None


def reply_instruction(low: str) -> re.Match[str] | None:
    """ "Reply to this email with UNSUBSCRIBE in the subject line": an opt-out by return email."""
    return _REPLY.search(low)


def replies_reach(reply_to: tuple[str, ...], from_addresses: tuple[str, ...]) -> bool:
    """Whether a reply goes to a mailbox that may read it: not a no-reply address."""
    target = reply_to or from_addresses
    return bool(target) and not any(_NO_REPLY.match(a.strip("<> ").lower()) for a in target)
