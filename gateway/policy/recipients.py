"""Rules about one recipient, for either channel: is the address real, opted out, consented?

Each rule is `rule(recipient, check)`, marked with the code it enforces (codes.py) and returning why the
recipient fails it, or None; `recipient_violations` runs them in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..addresses import is_valid_email, nanp_region, phone_info
from ..model import Category, Channel, Reason, RecipientFacts, Suppression, Violation
from .codes import CONSENT_MISSING, INVALID_RECIPIENT, SUPPRESSED, enforces
from .regimes import applicable
from .settings import Duty, Policy, SenderSettings


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


def blocks(entry: Suppression, channel: Channel, category: Category, revoke_all: Duty | None = None) -> bool:
    """Whether a suppression in scope stops this category on this channel.

    Email (15 U.S.C. 7704(a)(4)): an opt-out stops commercial mail, not transactional or relationship
    messages (7702(17)); bounces, complaints, manual blocks and erasures stop everything.
    SMS (47 CFR 64.1200(a)(10), CTIA): STOP blocks every text from that sender, as carriers do; while the
    FCC's revoke-all duty is in force (`revoke_all`), an opt-out of any kind does.
    """
    if category is not Category.TRANSACTIONAL:
        return True
    if channel is Channel.SMS and (entry.reason is Reason.STOP or revoke_all and entry.reason in REVOCATIONS):
        return True
    return entry.reason in TRANSACTIONAL_BLOCKERS


OPT_OUTS = frozenset({Reason.STOP, Reason.UNSUBSCRIBE, Reason.COMPLAINT})  # what the person asked for
REVOCATIONS = OPT_OUTS | {Reason.DNC}  # a do-not-call request revokes consent too
# the person's own requests not to receive solicitations (47 CFR 64.1200(d), (f)(5)(i); Va. Code 59.1-514)
NOT_TO_BE_CALLED = frozenset({Reason.STOP, Reason.UNSUBSCRIBE, Reason.DNC})


def _describe(entry: Suppression) -> str:
    day = entry.created_at.date().isoformat()
    where = "" if entry.scope != "global" else ", all senders"
    if entry.reason in OPT_OUTS:
        return f"opted out {day} via {entry.reason.value}{where}"
    return f"suppressed {day}: {entry.reason.value}{where}"


def _kept(entry: Suppression, c: RecipientCheck, area_code: str | None) -> Duty | None:
    """The law that keeps an expired request not to receive solicitations (a STOP, an unsubscribe, a
    do-not-call request) in force for marketing texts (Va. Code 59.1-514: ten years), if one does."""
    if entry.reason not in NOT_TO_BE_CALLED or entry.active_at(c.at):
        return None
    if c.category is not Category.MARKETING:  # the statute reaches solicitations only
        return None
    duty = c.policy.duty("keep_stop", c.at.date(), area_code)
    if duty is None or duty.years is None:
        return None
    created = entry.created_at
    try:
        until = created.replace(year=created.year + duty.years)
    except ValueError:  # a 29 February
        until = created.replace(year=created.year + duty.years, day=28)
    return duty if c.at < until else None


@enforces(SUPPRESSED)
def suppressed(r: RecipientFacts, c: RecipientCheck) -> str | None:
    """No message to a recipient who opted out, or is suppressed, in this sender's scope or globally (an
    unsubscribe does not stop transactional mail: see `blocks`). An opt-out a state's law keeps for years
    (`keep_stop`) counts for marketing texts though an operator gave it an earlier expiry."""
    sms = c.channel is Channel.SMS
    area_code = r.address[2:5] if sms and r.address.startswith("+1") else None
    revoke_all = c.policy.duty("revoke_all", c.at.date(), area_code) if sms else None
    for entry in r.suppressions:
        kept = _kept(entry, c, area_code) if sms else None
        if not (entry.active_at(c.at) or kept) or not blocks(entry, c.channel, c.category, revoke_all):
            continue
        why = _describe(entry)
        if kept is not None:
            why += f"; its expiry is ignored: {kept.description.lower()} ({kept.citation})"
        if (
            c.category is Category.TRANSACTIONAL
            and sms
            and entry.reason in (Reason.UNSUBSCRIBE, Reason.DNC)
            and revoke_all
        ):
            why += f"; it reaches every text ({revoke_all.citation}, in force {revoke_all.dated()})"
        return why
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


@enforces(CONSENT_MISSING)
def regime_consent(r: RecipientFacts, c: RecipientCheck) -> str | None:
    """Marketing under another country's law the sender sends under (its `regimes`) needs the consent that
    law asks for: express, or a relationship still inside the term the law gives it (regimes.py)."""
    if c.category is not Category.MARKETING or c.sender.regimes == US_ONLY:
        return None
    for regime in applicable(c.sender.regimes, c.channel, r.address, nanp_region):
        if not regime.consented(r.consents, c.at):
            terms = "; ".join(dict.fromkeys(t.citation for t in regime.terms))
            return (
                f"{regime.code} marketing needs express consent or a relationship still in its term "
                f"({terms}), and none is on record ({regime.law})"
            )
    return None


US_ONLY = frozenset({"US"})
RECIPIENT_RULES = (suppressed, consent_missing, regime_consent)


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
