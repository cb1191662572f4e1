"""Rules about one recipient, for either channel: is the address real, opted out, consented?

Each rule is `rule(recipient, check)`, marked with the code it enforces (codes.py) and returning why the
recipient fails it, or None; `recipient_violations` runs them in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..addresses import is_valid_email, phone_info
from ..model import Category, Channel, Reason, RecipientFacts, Suppression, Violation
from .codes import CONSENT_MISSING, INVALID_RECIPIENT, SUPPRESSED, enforces
from .settings import Policy, SenderSettings


@dataclass(frozen=True, slots=True)
class RecipientCheck:
    channel: Channel
    category: Category
    sender: SenderSettings
    policy: Policy
    at: datetime


# Reasons that stop even transactional messages; an unsubscribe does not stop receipts.
TRANSACTIONAL_BLOCKERS = frozenset({Reason.BOUNCE, Reason.COMPLAINT, Reason.MANUAL, Reason.ERASED})


@enforces(INVALID_RECIPIENT)
def invalid_recipient(r: RecipientFacts, c: RecipientCheck) -> str | None:
    """An address that can be delivered to: an RFC 5321 mailbox, or a number in strict E.164 form."""
    if c.channel is Channel.EMAIL:
        return None if is_valid_email(r.address) else f"{r.address!r} is not a valid email address"
    if phone_info(r.address) is not None:
        return None
    return f"{r.address!r} is not a valid phone number in E.164 form (+15555550100)"


def blocks(entry: Suppression, channel: Channel, category: Category) -> bool:
    """Whether a suppression in scope stops this category on this channel.

    Email (15 U.S.C. 7704(a)(4)): an opt-out stops commercial mail, not transactional or relationship
    messages (7702(17)); bounces, complaints, manual blocks and erasures stop everything.
    SMS (47 CFR 64.1200(a)(10), CTIA): STOP blocks every text from that sender, as carriers do.
    """
    if category is not Category.TRANSACTIONAL:
        return True
    if channel is Channel.SMS and entry.reason is Reason.STOP:
        return True
    return entry.reason in TRANSACTIONAL_BLOCKERS


def _describe(entry: Suppression) -> str:
    day = entry.created_at.date().isoformat()
    where = "" if entry.scope != "global" else ", all senders"
    if entry.reason in (Reason.UNSUBSCRIBE, Reason.STOP, Reason.COMPLAINT):
        return f"opted out {day} via {entry.reason.value}{where}"
    return f"suppressed {day}: {entry.reason.value}{where}"


@enforces(SUPPRESSED)
def suppressed(r: RecipientFacts, c: RecipientCheck) -> str | None:
    """No message to a recipient who opted out, or is suppressed, in this sender's scope or globally (an
    unsubscribe does not stop transactional mail: see `blocks`)."""
    for entry in r.active_suppressions(c.at):
        if blocks(entry, c.channel, c.category):
            return _describe(entry)
    return None


@enforces(CONSENT_MISSING)
def consent_missing(r: RecipientFacts, c: RecipientCheck) -> str | None:
    """The consent on record, at the time of sending, is at least what the channel and category need
    (policy.consent; prior express written consent for marketing texts)."""
    needed = c.policy.required_consent(c.channel, c.category, c.sender)
    have = r.consent_level(c.at)
    if have >= needed:
        return None
    return f"consent on record is {have.label}; {c.category.value} {c.channel.value} needs {needed.label}"


RECIPIENT_RULES = (suppressed, consent_missing)


def recipient_violations(r: RecipientFacts, c: RecipientCheck) -> tuple[Violation, ...]:
    """Every recipient rule that fails; an invalid address is reported alone."""
    invalid = invalid_recipient(r, c)
    if invalid is not None:
        return (Violation(invalid.code, invalid.message, r.address),)
    found = []
    for rule in RECIPIENT_RULES:
        v = rule(r, c)
        if v is not None:
            found.append(Violation(v.code, v.message, r.address))
    return tuple(found)
