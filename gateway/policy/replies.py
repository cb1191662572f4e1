"""What a text reply asks for: opt out, opt back in, help, or nothing (a pure function of the words).

Keywords are matched exactly, whole message, trimmed and case-insensitive, as carriers and Twilio match
them (CTIA Messaging Principles 5.1.2; Twilio's default opt-out keywords). Beyond them the FCC requires
honoring a revocation made "by any reasonable means" (47 CFR 64.1200(a)(10), 2024 order): a reply a
reasonable person would read as "stop texting me" is an opt-out even when it is not a keyword. That
matcher is conservative: it looks for a request aimed at the messages themselves ("stop texting me",
"please unsubscribe me", "remove me from your list") and lets pass replies that merely contain the
words ("I can't stop smiling", "stop by the store", "don't unsubscribe me").
"""

from __future__ import annotations

import enum
import re


class Intent(enum.StrEnum):
    STOP = "stop"  # opt out from this sender
    STOP_ALL = "stop_all"  # opt out from every sender
    START = "start"  # opt back in (lifts a STOP)
    HELP = "help"
    NONE = "none"


STOP_WORDS = frozenset({"stop", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"})
STOP_ALL_WORDS = frozenset({"stopall", "stop all"})
START_WORDS = frozenset({"start", "unstop", "yes"})
HELP_WORDS = frozenset({"help", "info"})

_MESSAGES = (
    r"(?:text(?:s|ing)?|txt(?:s|ing)?|messag(?:es?|ing)|sms|msgs?|contact(?:ing)?|send(?:ing)?(?:\s+me)?)"
)
_REQUEST = [
    # "stop texting me", "please stop sending me messages", "quit messaging me"
    rf"\b(?:stop|quit|cease|end)\s+(?:(?:all|these|those|the|your|of)\s+){{0,3}}{_MESSAGES}\b",
    # "unsubscribe me", "please remove me from your list", "take me off", "opt me out"
    r"\b(?:unsubscribe|remove|delete|take)\s+(?:me|my\s+(?:number|phone))\b",
    r"\bopt\s*-?\s*me\s+out\b",
    r"\b(?:i\s+(?:want|wish|would\s+like|'?d\s+like)|i'?d\s+like)\s+to\s+(?:unsubscribe|opt\s*-?\s*out|"
    r"stop\s+(?:receiving|getting))\b",
    # "don't text me", "do not contact me again", "never message me"
    rf"\b(?:don'?t|do\s+not|never)\s+{_MESSAGES}\s+(?:me|this\s+number)\b",
    r"\bno\s+more\s+(?:texts|txts|messages|msgs|sms)\b",
    r"\bleave\s+me\s+alone\b",
    # a keyword with a word of politeness or emphasis: "Stop please", "UNSUBSCRIBE NOW", "stop!!!"
    r"^(?:please\s+)?(?:stop|unsubscribe|cancel|quit|opt\s*-?\s*out)(?:\s+(?:please|pls|now|thanks?|thank\s+you|"
    r"immediately|asap|it))*$",
    # asking how to stop is asking to stop
    r"\bhow\s+(?:do\s+i|can\s+i|to)\s+(?:stop|unsubscribe|opt\s*-?\s*out)\b",
]
_NEGATED = re.compile(r"\b(?:don'?t|do\s+not|never|not)\s+(?:want\s+to\s+)?(?:unsubscribe|stop|remove|opt)\b")
_REQUESTS = [re.compile(p) for p in _REQUEST]


def _normalized(body: str) -> str:
    text = body.strip().lower().replace("\u2019", "'")
    text = re.sub(r"[^\w\s'-]+", " ", text)  # punctuation and emoji out, apostrophes kept
    return " ".join(text.split())


def reply_intent(body: str) -> Intent:
    """What a reply to a sender's number asks for."""
    exact = " ".join(body.strip().lower().split())
    if exact in STOP_WORDS:
        return Intent.STOP
    if exact in STOP_ALL_WORDS:
        return Intent.STOP_ALL
    if exact in START_WORDS:
        return Intent.START
    if exact in HELP_WORDS:
        return Intent.HELP
    text = _normalized(body)
    if not text or len(text) > 320 or _NEGATED.search(text):
        return Intent.NONE
    return Intent.STOP if any(p.search(text) for p in _REQUESTS) else Intent.NONE


_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|fwd?)\s*:\s*", re.IGNORECASE)
_REMOVE = re.compile(r"\s*(?:please\s+)?remove(?:\s+me)?[\s.!]*", re.IGNORECASE)


def mail_asks_to_stop(line: str) -> bool:
    """An email's subject or first line asking to stop (seed 000: "unsubscribe" in the subject of a reply):
    the words a text reply would use, after any Re:/Fwd:, or a bare "remove (me)"."""
    text = _REPLY_PREFIX.sub("", line or "")
    return reply_intent(text) in (Intent.STOP, Intent.STOP_ALL) or bool(_REMOVE.fullmatch(text))
