"""The rule engine: pure functions from a message, the recipients' facts, the settings and the time to
the violations. No I/O, no clock. The rules themselves, one function each, are in:

- `codes.py`      — every violation code, declared once: meaning, law, fix, Twilio error code
- `recipients.py` — INVALID_RECIPIENT, SUPPRESSED, CONSENT_MISSING (both channels)
- `purpose.py`    — an email's primary purpose (16 CFR 316.3): marketing by its subject or its body
- `email.py`      — CATEGORY_NOT_ALLOWED and the CAN-SPAM codes
- `links.py`      — whether a link's host can work for a reader (offline)
- `sms.py`        — CATEGORY_NOT_ALLOWED, QUIET_HOURS, FREQUENCY_CAP, SMS_OPT_OUT_NOTICE, SMS_SENDER_ID,
                    SMS_CONTENT
- `disposition.py` — what becomes of a message with violations: refused, or relayed and recorded (monitor)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ..addresses import phone_info
from ..model import Category, Channel, EmailMessage, RecipientFacts, SmsMessage, Violation
from . import email as email_rules
from . import sms as sms_rules
from .codes import ORDER
from .purpose import primary_purpose, sms_purpose
from .recipients import RecipientCheck, recipient_violations
from .settings import Policy, SenderSettings


@dataclass(frozen=True)
class Evaluation:
    """The verdict of the rules on one message: what is wrong with it, and for whom."""

    category: Category
    content: tuple[Violation, ...]  # about the message itself, for every recipient
    recipients: Mapping[str, tuple[Violation, ...]]  # per recipient, in message order

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Every violation, in the order they are reported (`ordered`)."""
        found = [v for per in self.recipients.values() for v in per]
        return ordered([*found, *self.content], list(self.recipients))

    @property
    def passed(self) -> bool:
        return not self.content and not any(self.recipients.values())


def ordered(violations: Iterable[Violation], recipients: Sequence[str]) -> tuple[Violation, ...]:
    """Violations as every door reports them: recipient by recipient, in the order the recipients were
    given, then those about the message itself; within each, in the order of the codes' declarations
    (codes.py, the table in docs/rules.md). The same violation found twice is reported once."""
    place = {address: i for i, address in enumerate(recipients)}
    unique = dict.fromkeys(violations)
    return tuple(
        sorted(
            unique,
            key=lambda v: (
                place.get(v.recipient, len(place)) if v.recipient is not None else len(place) + 1,
                ORDER.get(v.code, len(ORDER)),
            ),
        )
    )


def _facts(facts: Mapping[str, RecipientFacts], address: str) -> RecipientFacts:
    return facts.get(address) or RecipientFacts(address=address)


def envelope_violations(
    channel: Channel,
    recipient: RecipientFacts,
    category: Category,
    sender: SenderSettings,
    policy: Policy,
    at: datetime,
) -> tuple[Violation, ...]:
    """The recipient rules alone, as the email engine asks them at RCPT TO."""
    return recipient_violations(recipient, RecipientCheck(channel, category, sender, policy, at))


def evaluate_email(
    message: EmailMessage,
    facts: Mapping[str, RecipientFacts],
    sender: SenderSettings,
    policy: Policy,
    at: datetime,
) -> Evaluation:
    purpose = primary_purpose(message.content, sender, policy)
    category = purpose.category
    people = tuple(_facts(facts, a) for a in message.recipients)
    check = email_rules.EmailCheck(message.content, category, sender, policy, people, at, purpose.why)
    per_recipient = RecipientCheck(Channel.EMAIL, category, sender, policy, at)
    return Evaluation(
        category=category,
        content=email_rules.content_violations(check),
        recipients={r.address: recipient_violations(r, per_recipient) for r in people},
    )


def evaluate_sms(
    message: SmsMessage,
    facts: Mapping[str, RecipientFacts],
    sender: SenderSettings,
    policy: Policy,
    at: datetime,
) -> Evaluation:
    purpose = sms_purpose(message.body, message.category)
    if purpose.why:  # an advertisement sent as a notice: judged as the marketing it is
        message = replace(message, category=purpose.category)
    recipient = _facts(facts, message.to)
    found = recipient_violations(recipient, RecipientCheck(Channel.SMS, message.category, sender, policy, at))
    phone = phone_info(message.to)
    content: tuple[Violation, ...] = ()
    if phone is not None:
        content = sms_rules.content_violations(
            sms_rules.SmsCheck(message, phone, recipient, sender, policy, at)
        )
    if purpose.why:
        content, found = _judged_as(content, purpose.why), _judged_as(found, purpose.why)
    return Evaluation(category=message.category, content=content, recipients={message.to: found})


def _judged_as(found: tuple[Violation, ...], why: str) -> tuple[Violation, ...]:
    return tuple(Violation(v.code, f"{v.message} (judged as marketing: {why})", v.recipient) for v in found)


__all__ = [
    "Evaluation",
    "Policy",
    "SenderSettings",
    "envelope_violations",
    "evaluate_email",
    "evaluate_sms",
    "ordered",
]
