"""What a text reply asks for: opt out, opt back in, help, or nothing (a pure function of the words).

Keywords are matched exactly, whole message, trimmed and case-insensitive, as carriers and Twilio match
them (CTIA Messaging Principles 5.1.2; Twilio's default opt-out keywords). Beyond them the FCC requires
honoring a revocation made "by any reasonable means" (47 CFR 64.1200(a)(10), 2024 order): a reply a
reasonable person would read as "stop texting me" is an opt-out even when it is not a keyword. That
matcher is conservative: it looks for a request aimed at the messages themselves ("stop texting me",
"please unsubscribe me", "remove me from your list") and lets pass replies that merely contain the
words ("I can't stop smiling", "stop by the store", "don't unsubscribe me").

Nothing in the TCPA, the FCC's order or CTIA's principles limits a revocation to English, and a keyword
in the recipient's language is the plainest "reasonable means": Spanish (PARAR, ALTO, CANCELAR, BAJA,
DETENER, as US carriers' and aggregators' Spanish opt-out lists carry them) and French (ARRET and its
spellings, which Twilio honours by default beside STOP for Canadian French) are keywords too, and the
free-text matcher reads requests in both languages ("no me envíen más mensajes", "je veux me
désabonner"). Accents are optional: people type "arret", "envien", "desabonner".
"""

from __future__ import annotations

import enum
import re
import unicodedata


class Intent(enum.StrEnum):
    STOP = "stop"  # opt out from this sender
    STOP_ALL = "stop_all"  # opt out from every sender
    START = "start"  # opt back in (lifts a STOP)
    HELP = "help"
    NONE = "none"


# Opt-out keywords by language (accents folded): the FCC's and CTIA's English ones, then Spanish and French
STOP_BY_LANGUAGE = {
    "en": frozenset({"stop", "unsubscribe", "cancel", "end", "quit", "optout", "opt out", "revoke"}),
    "es": frozenset({"parar", "alto", "cancelar", "baja", "detener", "darme de baja"}),
    "fr": frozenset({"arret", "arrete", "arrett", "desabonner", "desinscrire"}),
}
STOP_WORDS = frozenset().union(*STOP_BY_LANGUAGE.values())
STOP_ALL_WORDS = frozenset({"stopall", "stop all"})
START_WORDS = frozenset({"start", "unstop", "yes"})
HELP_BY_LANGUAGE = {"en": frozenset({"help", "info"}), "es": frozenset({"ayuda"}), "fr": frozenset({"aide"})}
HELP_WORDS = frozenset().union(*HELP_BY_LANGUAGE.values())

_MESSAGES = (
    r"(?:text(?:s|ing)?|txt(?:s|ing)?|messag(?:es?|ing)|sms|msgs?|contact(?:ing)?|send(?:ing)?(?:\s+me)?)"
)
_ES_SEND = r"envi(?:en|e|ar|arme|ando|es)|mand(?:en|e|ar|arme)|escrib(?:an|ir|irme)|contact(?:en|ar|arme)"
_ES_MESSAGES = r"mensajes|textos|sms|msjs?|publicidad|promociones"
_FR_SEND = r"envoy(?:ez|er|e)|ecri(?:vez|re)|contact(?:ez|er)|textez"
_REQUEST_EN = [
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
_REQUEST_ES = [
    # "no me envíen más mensajes", "dejen de enviarme mensajes", "quiero darme de baja",
    # "bórrenme de su lista", "no quiero recibir más mensajes"
    rf"\bno\s+(?:me\s+)?(?:{_ES_SEND})\s+(?:mas\s+)?(?:{_ES_MESSAGES})\b",
    rf"\bno\s+me\s+(?:{_ES_SEND})\s+mas\b",
    rf"\b(?:dejen|deja|deje|paren|para|pare)\s+de\s+(?:{_ES_SEND}|molestar(?:me)?)\b",
    r"\b(?:quiero|deseo|quisiera)\s+(?:darme\s+de\s+baja|cancelar(?:\s+la\s+suscripcion)?|"
    r"desuscribirme|que\s+(?:me\s+)?(?:borren|eliminen|quiten))\b",
    r"\b(?:borren|borrenme|eliminen|eliminenme|quitenme|saquenme|denme\s+de\s+baja)\b",
    rf"\bno\s+quiero\s+(?:recibir|mas)\s+(?:mas\s+)?(?:{_ES_MESSAGES}|nada)\b",
    r"^(?:por\s+favor\s+)?(?:parar|alto|cancelar|baja|stop)(?:\s+(?:por\s+favor|gracias|ya))*$",
]
_REQUEST_FR = [
    # "arrêtez de m'envoyer des messages", "ne m'envoyez plus de messages", "je veux me
    # désabonner", "retirez-moi de votre liste"
    rf"\barret(?:ez|e)\s+(?:de\s+)?(?:m'?\s*)?(?:{_FR_SEND})\b",
    rf"\bne\s+(?:m'?\s*)?(?:{_FR_SEND})\s+plus\b",
    r"\b(?:je\s+(?:veux|voudrais|souhaite)\s+)?me\s+(?:desabonner|desinscrire)\b",
    r"\b(?:retirez|supprimez|desabonnez|desinscrivez|enlevez)\s*-?\s*moi\b",
    r"^(?:plus|pas)\s+de\s+(?:messages|sms|textos)\b",
]
_NEGATED = re.compile(
    r"\b(?:don'?t|do\s+not|never|not)\s+(?:want\s+to\s+)?(?:unsubscribe|stop|remove|opt)\b"
    r"|\bno\s+(?:quiero\s+)?(?:darme\s+de\s+baja|cancelar|me\s+(?:den|des)\s+de\s+baja)\b"  # Spanish
    r"|\bne\s+(?:veux\s+)?pas\s+(?:me\s+)?(?:desabonner|desinscrire)\b"  # French
)
_REQUESTS = {
    language: [re.compile(p) for p in patterns]
    for language, patterns in (("en", _REQUEST_EN), ("es", _REQUEST_ES), ("fr", _REQUEST_FR))
}


def folded(text: str) -> str:
    """Lower case without accents ("ARRÊT" -> "arret", "envíen" -> "envien"): how the words are matched."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c)) if not text.isascii() else text


def _normalized(body: str) -> str:
    text = folded(body.strip()).replace("\u2019", "'")
    text = re.sub(r"[^\w\s'-]+", " ", text)  # punctuation and emoji out, apostrophes kept
    return " ".join(text.split())


def reply_intent(body: str, law_keywords: frozenset[str] = frozenset()) -> Intent:
    """What a reply to a sender's number asks for; `law_keywords`: more opt-out keywords the law in force
    names (a revocation_keywords duty), folded as `folded` folds."""
    exact = " ".join(folded(body.strip()).split())
    if exact in STOP_WORDS or exact in law_keywords:
        return Intent.STOP
    if exact in STOP_ALL_WORDS:
        return Intent.STOP_ALL
    if exact in START_WORDS:
        return Intent.START
    if exact in HELP_WORDS:
        return Intent.HELP
    return Intent.STOP if _asking_language(body) else Intent.NONE


def _asking_language(body: str) -> str | None:
    """The language of a free-text request to stop, or None when the reply is not one."""
    text = _normalized(body)
    if not text or len(text) > 320 or _NEGATED.search(text):
        return None
    return next((lang for lang, found in _REQUESTS.items() if any(p.search(text) for p in found)), None)


def reply_language(body: str) -> str:
    """The language to answer a reply in: "es" or "fr" when its keyword or request is Spanish or French,
    else "en" (STOP, which every language uses, is answered in English)."""
    exact = " ".join(folded(body.strip()).split())
    for language in ("es", "fr"):
        if exact in STOP_BY_LANGUAGE[language] or exact in HELP_BY_LANGUAGE[language]:
            return language
    if exact in STOP_WORDS or exact in HELP_WORDS:
        return "en"
    return _asking_language(body) or "en"


_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|fwd?)\s*:\s*", re.IGNORECASE)
_REMOVE = re.compile(r"\s*(?:please\s+)?remove(?:\s+me)?[\s.!]*", re.IGNORECASE)


def mail_asks_to_stop(line: str) -> bool:
    """An email's subject or first line asking to stop (seed 000: "unsubscribe" in the subject of a reply):
    the words a text reply would use, after any Re:/Fwd:, or a bare "remove (me)"."""
    text = _REPLY_PREFIX.sub("", line or "")
    return reply_intent(text) in (Intent.STOP, Intent.STOP_ALL) or bool(_REMOVE.fullmatch(text))
