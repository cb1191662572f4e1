"""Every violation code, declared once: what it means, the law or guideline it enforces (one citation,
used everywhere), how to fix the message, and the error code the Twilio-compatible API answers with.

The rules (`recipients.py`, `email.py`, `sms.py`) name the code each enforces with `@enforces(CODE)` and
return only why the message fails; the violation is made here. docs/rules.md, the console's explanations
and the Twilio error mapping are all made from this list. Its order is the order violations are reported
in (after grouping by recipient, see `policy.ordered`).

Adding a rule: declare its code below (or reuse one), write the function with `@enforces(CODE)` in its
module's rule list, and add corpus cases under tests/corpus/ that get it (tests/test_registry.py fails
until a case produces every declared code).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec

from ..model import Channel, Violation

BOTH = (Channel.EMAIL, Channel.SMS)
EMAIL = (Channel.EMAIL,)
SMS = (Channel.SMS,)


@dataclass(frozen=True)
class Code:
    name: str
    channels: tuple[Channel, ...]
    meaning: str  # in plain words, for the people who read refusals
    law: str  # the statute, regulation or guideline it enforces
    fix: str  # what to change in the message (or the records)
    twilio: int | None = None  # the error code on the Twilio-compatible API (texts only)
    monitorable: bool = True  # False: refused even in monitor mode (see policy/disposition.py)

    def violation(self, message: str, recipient: str | None = None) -> Violation:
        return Violation(self.name, message, recipient)


REGISTRY: dict[str, Code] = {}


def _declare(code: Code) -> Code:
    if code.name in REGISTRY:
        raise ValueError(f"violation code {code.name} declared twice")
    REGISTRY[code.name] = code
    return code


# -- the codes, in the order violations are reported --------------------------------------------------

SUPPRESSED = _declare(
    Code(
        "SUPPRESSED",
        BOTH,
        meaning="The recipient opted out, bounced, complained, or is on a do-not-contact list in this "
        "sender's scope.",
        law="15 U.S.C. 7704(a)(4); 47 CFR 64.1200(a)(10), (d)(3); CTIA Messaging Principles 5.1.2",
        fix="Do not send. Remove the address from the sending list; only the recipient can opt back in.",
        twilio=21610,  # Twilio's own: "Attempt to send to unsubscribed recipient"
    )
)
CONSENT_MISSING = _declare(
    Code(
        "CONSENT_MISSING",
        BOTH,
        meaning="The consent on record is below what this category needs (or it was revoked or expired).",
        law="47 CFR 64.1200(a)(2)-(3) for marketing texts; the sender's own promise for email",
        fix="Record the recipient's consent with its evidence (gateway consent add), or send a category "
        "that needs less.",
        twilio=79101,
    )
)
CANSPAM_PHYSICAL_ADDRESS = _declare(
    Code(
        "CANSPAM_PHYSICAL_ADDRESS",
        EMAIL,
        meaning="Marketing mail without the sender's valid physical postal address.",
        law="15 U.S.C. 7704(a)(5)(A)(iii); 16 CFR 316.2(p)",
        fix="Put the configured postal address (street or registered PO box) in the visible footer.",
    )
)
CANSPAM_UNSUBSCRIBE = _declare(
    Code(
        "CANSPAM_UNSUBSCRIBE",
        EMAIL,
        meaning="Marketing mail without a visible, working way to opt out.",
        law="15 U.S.C. 7704(a)(3), (a)(5)(A)(ii)",
        fix="Add a visible unsubscribe link (or an instruction with a working address) to the footer, "
        "on a host readers can reach: not localhost, a private or loopback address, or a name such as "
        ".invalid or .local that never resolves on the internet.",
    )
)
CANSPAM_AD_LABEL = _declare(
    Code(
        "CANSPAM_AD_LABEL",
        EMAIL,
        meaning="Marketing mail not identified as an advertisement (waived where every recipient gave "
        "express consent).",
        law="15 U.S.C. 7704(a)(5)(A)(i), (a)(5)(B)",
        fix='Say so clearly, e.g. "This email is an advertisement", in the subject or the visible text.',
    )
)
CANSPAM_FROM_DOMAIN = _declare(
    Code(
        "CANSPAM_FROM_DOMAIN",
        EMAIL,
        meaning="From, Sender or Reply-To is not one of the sender's domains: a misleading header.",
        law="15 U.S.C. 7704(a)(1)",
        fix="Send from an address at one of the sender's from_domains.",
    )
)
CANSPAM_DECEPTIVE_SUBJECT = _declare(
    Code(
        "CANSPAM_DECEPTIVE_SUBJECT",
        EMAIL,
        meaning="The subject pretends a reply or forward (Re:/Fwd:) with no thread behind it, or matches a "
        "configured deceptive pattern.",
        law="15 U.S.C. 7704(a)(2)",
        fix="Write a subject that says what the message is about.",
    )
)
CANSPAM_EXPLICIT_LABEL = _declare(
    Code(
        "CANSPAM_EXPLICIT_LABEL",
        EMAIL,
        meaning="Sexually explicit mail without the required subject prefix.",
        law="15 U.S.C. 7704(d); 16 CFR 316.4",
        fix='Begin the subject with "SEXUALLY-EXPLICIT: ".',
    )
)
LIST_UNSUBSCRIBE_HEADER = _declare(
    Code(
        "LIST_UNSUBSCRIBE_HEADER",
        EMAIL,
        meaning="Bulk marketing mail without List-Unsubscribe and List-Unsubscribe-Post, with the gateway "
        "set not to add them.",
        law="RFC 8058, RFC 2369; Gmail and Yahoo bulk-sender requirements",
        fix="Add both headers (an https one-click URL), or let the gateway add them "
        "(smtp.add_list_unsubscribe).",
    )
)
CATEGORY_NOT_ALLOWED = _declare(
    Code(
        "CATEGORY_NOT_ALLOWED",
        BOTH,
        meaning="The sender may not send this category at all (for mail, after the primary-purpose test).",
        law="The sender's own promise (e.g. operational texts only); 16 CFR 316.3 for mail that reads as an ad",
        fix="Send it from a sender allowed this category, or do not send it.",
        twilio=79102,
    )
)
QUIET_HOURS = _declare(
    Code(
        "QUIET_HOURS",
        SMS,
        meaning="A marketing text outside the allowed hours in the recipient's local time.",
        law="47 CFR 64.1200(c)(1); state calling-hour laws by area code (the refusal names the state's)",
        fix="Send it inside the window, or set defer_quiet_hours to have the gateway hold it until then.",
        twilio=79103,
    )
)
FREQUENCY_CAP = _declare(
    Code(
        "FREQUENCY_CAP",
        SMS,
        meaning="More marketing texts to this number in the window than state law or policy allows.",
        law="State limits on solicitations per 24 hours by area code (the refusal names the statute); "
        "the gateway's policy.frequency_cap",
        fix="Wait until the window has room, or send fewer texts to this number.",
        twilio=79104,
    )
)
SMS_OPT_OUT_NOTICE = _declare(
    Code(
        "SMS_OPT_OUT_NOTICE",
        SMS,
        meaning="A marketing text without opt-out instructions.",
        law="47 CFR 64.1200(b)(3), (a)(12); CTIA Messaging Principles 5.1.2",
        fix='Add "Reply STOP to opt out".',
        twilio=79105,
    )
)
SMS_SENDER_ID = _declare(
    Code(
        "SMS_SENDER_ID",
        SMS,
        meaning="The text does not name the brand sending it.",
        law="47 CFR 64.1200(b)(1); CTIA Messaging Principles 5.1.1",
        fix='Name the brand in words at the start, e.g. "Acme: ...".',
        twilio=79106,
    )
)
SMS_CONTENT = _declare(
    Code(
        "SMS_CONTENT",
        SMS,
        meaning="A public URL shortener or a banned term in the text.",
        law="CTIA Messaging Principles 5.3; carrier codes of conduct",
        fix="Use a branded link domain; remove the banned term.",
        twilio=79107,
    )
)
DNC_REGISTERED = _declare(
    Code(
        "DNC_REGISTERED",
        SMS,
        meaning="A marketing text to a number on the national or a state Do-Not-Call list without express "
        "written consent, or with the registry copy held more than 31 days old.",
        law="47 CFR 64.1200(c)(2); 16 CFR 310.4(b)(1)(iii)(B), (b)(3)(iv); texts: FCC 23-107",
        fix="Record the person's express written consent, or do not text the number; import a registry copy "
        "less than 31 days old (gateway dnc import).",
        twilio=79108,
    )
)
NUMBER_REASSIGNED = _declare(
    Code(
        "NUMBER_REASSIGNED",
        SMS,
        meaning="The Reassigned Numbers Database reports the number permanently disconnected since the consent "
        "on record was given: it may belong to someone else now.",
        law="47 CFR 64.1200(m) (the Reassigned Numbers Database safe harbor)",
        fix="Obtain consent again from the number's present subscriber before texting it.",
        twilio=79109,
    )
)
INVALID_RECIPIENT = _declare(
    Code(
        "INVALID_RECIPIENT",
        BOTH,
        meaning="Not a valid email address or strict E.164 phone number.",
        law="RFC 5321; ITU-T E.164",
        fix="Correct the address or number (E.164: +15551234567).",
        twilio=21211,  # Twilio's own: "Invalid 'To' Phone Number"
        monitorable=False,  # nothing can be delivered to it: refused in monitor mode too
    )
)

ORDER = {name: i for i, name in enumerate(REGISTRY)}
TWILIO_OTHER = 79100  # the Twilio-compatible API's code for a refusal or bad request with no code of its own
_UNKNOWN = Code("UNKNOWN", BOTH, "A rule of the gateway refused the message.", "", "")


def explain(code: str) -> Code:
    """The declaration of a code as stored in a decision (one from an older gateway may be gone)."""
    return REGISTRY.get(code, _UNKNOWN)


def twilio_code(code: str) -> int:
    declared = REGISTRY.get(code)
    return declared.twilio if declared is not None and declared.twilio is not None else TWILIO_OTHER


# -- rules ------------------------------------------------------------------------------------------------

P = ParamSpec("P")


class Rule(Generic[P]):
    """A rule function and the code it enforces: the function says why a message fails (or None), and
    calling the rule gives that as a violation of its code."""

    def __init__(self, code: Code, check: Callable[P, str | None]) -> None:
        self.code = code
        self.check = check
        self.__name__ = check.__name__
        self.__doc__ = check.__doc__

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Violation | None:
        why = self.check(*args, **kwargs)
        return None if why is None else self.code.violation(why)

    def __repr__(self) -> str:
        return f"<rule {self.__name__}: {self.code.name}>"


def enforces(code: Code) -> Callable[[Callable[P, str | None]], Rule[P]]:
    """Marks a rule function with the code it enforces (declared above)."""

    def mark(check: Callable[P, str | None]) -> Rule[P]:
        if REGISTRY.get(code.name) is not code:
            raise ValueError(f"{check.__name__}: {code.name} is not a declared code")
        return Rule(code, check)

    return mark
