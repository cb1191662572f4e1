"""Rules about one recipient, for either channel: is the address real, opted out, consented?

Each rule is `rule(recipient, check) -> Violation | None`; `recipient_violations` runs them in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..addresses import is_valid_email, phone_info
from ..model import Category, Channel, Reason, RecipientFacts, Suppression, Violation
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


# Suppressions no one lifts by hand: an erasure request (GDPR Art. 17) is kept, hashed, for good, so the
# person is never messaged again (and their data never comes back).
PERMANENT_REASONS = frozenset({Reason.ERASED})


def lifting_refused(reason: Reason) -> str | None:
    """Why a suppression with this reason may not be removed (console, HTTP or CLI), or None if it may."""
    if reason in PERMANENT_REASONS:
        return "An erasure cannot be undone: the person asked for their data to be deleted."
    return None


def removal_refused(present: Iterable[Suppression], reason: Reason | None) -> str | None:
    """Why removing the suppressions `present` in a scope (those of `reason` only, unless None) is refused:
    the first of them that may not be lifted; None if all may."""
    return next(
        (
            why
            for s in present
            if (reason is None or s.reason is reason) and (why := lifting_refused(s.reason))
        ),
        None,
    )


def invalid_recipient(r: RecipientFacts, c: RecipientCheck) -> Violation | None:
    """INVALID_RECIPIENT — an address that cannot be delivered to (RFC 5321 mailbox; strict E.164 number)."""
    if c.channel is Channel.EMAIL:
        if is_valid_email(r.address):
            return None
        return Violation("INVALID_RECIPIENT", f"{r.address!r} is not a valid email address")
    if phone_info(r.address) is not None:
        return None
    return Violation(
        "INVALID_RECIPIENT", f"{r.address!r} is not a valid phone number in E.164 form (+15555550100)"
    )


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


def suppressed(r: RecipientFacts, c: RecipientCheck) -> Violation | None:
    """SUPPRESSED — the recipient opted out or is suppressed in this sender's scope (15 U.S.C. 7704(a)(4);
    47 CFR 64.1200(a)(10) and (d)(3); CTIA Messaging Principles 5.1.2)."""
    for entry in r.active_suppressions(c.at):
        if blocks(entry, c.channel, c.category):
            return Violation("SUPPRESSED", _describe(entry))
    return None


def consent_missing(r: RecipientFacts, c: RecipientCheck) -> Violation | None:
    """CONSENT_MISSING — recorded consent below what the category needs (47 CFR 64.1200(a)(2)-(3) prior
    express written consent for marketing texts; the sender's own promise for email)."""
    needed = c.policy.required_consent(c.channel, c.category, c.sender)
    have = r.consent_level(c.at)
    if have >= needed:
        return None
    return Violation(
        "CONSENT_MISSING",
        f"consent on record is {have.label}; {c.category.value} {c.channel.value} needs {needed.label}",
    )


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
