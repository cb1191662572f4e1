"""TCPA, state and CTIA rules for one text message, read top to bottom.

Each rule is `rule(check)`, marked with the code it enforces (codes.py, where its law is cited) and
returning why the text fails it, or None. Time comes in as `check.at` (aware, any zone); local
time is the recipient's, from the zones their number maps to, and a window must hold in every one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ..addresses import PhoneInfo, nanp_region
from ..model import Category, Channel, ConsentLevel, RecipientFacts, SmsMessage, Violation
from .codes import (
    CATEGORY_NOT_ALLOWED,
    DNC_REGISTERED,
    FREQUENCY_CAP,
    NUMBER_REASSIGNED,
    QUIET_HOURS,
    SMS_CONTENT,
    SMS_OPT_OUT_NOTICE,
    SMS_SENDER_ID,
    enforces,
)
from .holidays import is_holiday
from .recipients import NOT_TO_BE_CALLED
from .regimes import DNC_RELATIONSHIP, applicable
from .replies import folded
from .settings import HoursRule, Policy, SenderSettings


@dataclass(frozen=True, slots=True)
class SmsCheck:
    message: SmsMessage
    phone: PhoneInfo  # the recipient's number, already known to be valid
    recipient: RecipientFacts
    sender: SenderSettings
    policy: Policy
    at: datetime


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _applicable_hours(c: SmsCheck) -> tuple[HoursRule, ...]:
    return c.policy.hours_for(c.phone.nanp_area_code)


@enforces(CATEGORY_NOT_ALLOWED)
def category_not_allowed(c: SmsCheck) -> str | None:
    """The sender may text this category (its own promise, e.g. operational texts only)."""
    if c.message.category in c.sender.allowed_categories:
        return None
    allowed = ", ".join(sorted(x.value for x in c.sender.allowed_categories)) or "nothing"
    return f"sender {c.sender.name} may not send {c.message.category.value} texts (allowed: {allowed})"


@enforces(QUIET_HOURS)
def quiet_hours(c: SmsCheck) -> str | None:
    """Marketing texts only within calling hours in the recipient's local time, in every zone the number
    may be in: 08:00-21:00 federally (21:00:00 itself is not "after 9 p.m."), stricter state windows (days,
    holidays) by area code. No known zone: no safe hour. A text with an advertisement in it is marketing
    whatever category it came with (purpose.py sms_purpose)."""
    if c.message.category is not Category.MARKETING:
        return None
    if not c.phone.time_zones:
        return f"the local time of {c.phone.e164} cannot be known, so no safe hour exists"
    consent = c.recipient.consent_level(c.at)
    for rule in _applicable_hours(c):
        if rule.waived_by is not None and consent >= rule.waived_by:
            continue  # the law lifts it for a recipient who consented (e.g. Utah Code 13-25a-103(3))
        for zone in c.phone.time_zones:
            local = c.at.astimezone(_zone(zone))
            if not rule.in_force(local.date()) or rule.allows(local):
                continue
            if rule.holidays and is_holiday(local.date(), rule.holidays):
                return (
                    f"{local:%a %Y-%m-%d} in {zone} is a holiday on which {rule.name} allows no solicitation "
                    f"({rule.citation}, in force {rule.dated()})"
                )
            return (
                f"{local:%a %H:%M} in {zone} is outside {rule.name} hours "
                f"{rule.describe()} ({rule.citation}, in force {rule.dated()})"
            )
    return None


@enforces(QUIET_HOURS)
def emergency_blackout(c: SmsCheck) -> str | None:
    """No marketing text to an area while a state of emergency declared there lasts, where the state's law
    bars solicitation then (La. R.S. 45:844.31; [[policy.blackout]] declares each one with its dates).
    Consent does not lift it: Louisiana's PSC reads its exemptions as suspended during the emergency."""
    if c.message.category is not Category.MARKETING:
        return None
    for b in c.policy.blackouts:
        if b.covers(c.phone.nanp_area_code, c.at):
            return f"a declared emergency ({b.name}) bars solicitation there until {b.end.isoformat()} ({b.citation})"
    return None


@dataclass(frozen=True, slots=True)
class Cap:
    limit: int
    hours: int
    source: str


def marketing_caps(
    phone: PhoneInfo, policy: Policy, at: datetime, consent: ConsentLevel = ConsentLevel.NONE
) -> tuple[Cap, ...]:
    """The caps on marketing texts to this number at `at`: the policy's own, and those of the states' laws in
    force then (by the recipient's local date in its first zone), by area code, but for a law that the
    recipient's `consent` lifts."""
    caps = []
    if policy.frequency_cap:
        caps.append(Cap(policy.frequency_cap.max_messages, policy.frequency_cap.hours, "policy"))
    day = at.astimezone(_zone(phone.time_zones[0])).date() if phone.time_zones else at.date()
    caps += [
        Cap(r.marketing_cap, r.cap_hours, f"{r.name} ({r.citation}, in force {r.dated()})")
        for r in policy.hours_for(phone.nanp_area_code)
        if r.marketing_cap is not None and r.in_force(day) and (r.waived_by is None or consent < r.waived_by)
    ]
    return tuple(caps)


@enforces(FREQUENCY_CAP)
def frequency_cap(c: SmsCheck) -> str | None:
    """No more marketing texts from this sender to one number in a window than the caps of the states its
    area code is in, and the gateway's own policy.frequency_cap, allow."""
    if c.message.category is not Category.MARKETING:
        return None
    for cap in marketing_caps(c.phone, c.policy, c.at, c.recipient.consent_level(c.at)):
        since = c.at - timedelta(hours=cap.hours)
        sent = sum(1 for t in c.recipient.recent_sends if since < t <= c.at)
        if sent >= cap.limit:
            return f"{sent} marketing texts to this number in the last {cap.hours} h; {cap.source} allows {cap.limit}"
    return None


def next_allowed_time(phone: PhoneInfo, policy: Policy, at: datetime) -> datetime | None:
    """The first moment at or after `at` when every calling-hours rule holds in every zone of the number
    (where a deferred marketing text may go out); None when there is none within eight days."""
    if not phone.time_zones:
        return None
    rules = policy.hours_for(phone.nanp_area_code)
    blackouts = [b for b in policy.blackouts if phone.nanp_area_code in b.area_codes]

    def allowed(t: datetime) -> bool:
        if any(b.covers(phone.nanp_area_code, t) for b in blackouts):
            return False
        for z in phone.time_zones:
            local = t.astimezone(_zone(z))
            if not all(rule.allows(local) for rule in rules if rule.in_force(local.date())):
                return False
        return True

    if allowed(at):
        return at
    while covering := [b.end for b in blackouts if b.covers(phone.nanp_area_code, at)]:
        at = max(covering)  # an emergency's end (declarations may follow one another)
    if allowed(at):
        return at
    candidates = set()
    for zone in phone.time_zones:
        local_day = at.astimezone(_zone(zone)).date()
        for days in range(9):
            day = local_day + timedelta(days=days)
            for rule in rules:
                for window in rule.windows:
                    start = datetime.combine(day, window.start, tzinfo=_zone(zone))
                    if start > at:
                        candidates.add(start)
    return next((t for t in sorted(candidates) if allowed(t)), None)


# An opt-out instruction: a verb of replying and a keyword, or a keyword "to" opt out; in English, Spanish
# and French (matched on the folded text: lower case, no accents). Nothing in the TCPA, CTIA's principles
# or SPEC asks for English: "Responde STOP para cancelar" and "Répondez ARRÊT pour vous désabonner" tell
# the reader how to stop as plainly as "Reply STOP to opt out".
_KEYWORDS = (  # (FCC 24-24: "opt out", "revoke" too)
    r"stop|end|cancel|unsubscribe|quit|stopall|opt[-\s]?out|revoke|baja|parar|alto|cancelar|fin|arret|arrete"
)
_OPT_OUT_NOTICE = re.compile(
    r"\b(?:reply|text|txt|send|respond(?:\s+with)?"
    r"|responde|responda|contesta|conteste|envia|envie|manda|mande|escribe|escriba|textea"  # Spanish
    r"|repondez|reponds|envoyez|envoie|textez|tapez|ecrivez)"  # French
    rf"\s*(?:(?:la\s+palabra|le\s+mot)\s+)?[\"'“‘«]?\s*(?:{_KEYWORDS})\b"
    r"|\bstop\s*(?:to|2)\s*(?:opt[-\s]?out|end|cancel|unsubscribe|quit|stop)\b"
    r"|\b(?:stop|baja|parar|alto)\s+para\s+(?:cancelar|salir|darte\s+de\s+baja|darse\s+de\s+baja|"
    r"no\s+recibir|dejar\s+de\s+recibir|anular|desuscribirte)\b"
    r"|\b(?:stop|arret|arrete)\s+pour\s+(?:vous\s+desabonner|vous\s+desinscrire|arreter|ne\s+plus\s+recevoir"
    r"|annuler|se\s+desabonner)\b",
)


@enforces(SMS_OPT_OUT_NOTICE)
def opt_out_notice(c: SmsCheck) -> str | None:
    """Marketing texts tell how to opt out, e.g. "Reply STOP to opt out" (or in Spanish or French:
    "Responde STOP para cancelar", "Répondez ARRÊT pour vous désabonner"). Under CASL (a sender listing
    "CA", to a Canadian number) transactional texts too: s. 6(6) lifts only the consent of s. 6(1)(a) from
    them, not the unsubscribe mechanism of ss. 6(2)(c) and 11(1)."""
    category = c.message.category
    casl = category is Category.TRANSACTIONAL and _under_casl(c)
    if (category is not Category.MARKETING and not casl) or _OPT_OUT_NOTICE.search(folded(c.message.body)):
        return None
    if casl:
        return 'a transactional text to Canada needs an unsubscribe mechanism too (CASL ss. 6(2)(c), 11(1)), e.g. "Reply STOP to opt out"'
    return 'marketing text lacks opt-out instructions such as "Reply STOP to opt out"'


def _under_casl(c: SmsCheck) -> bool:
    return any(r.code == "CA" for r in applicable(c.sender.regimes, Channel.SMS, c.phone.e164, nanp_region))


_URLISH = re.compile(r"(?:https?://)?(?:[\w-]+\.)+[a-z]{2,}(?:/\S*)?", re.IGNORECASE)


@lru_cache(maxsize=256)
def _name_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    """Any of the names as words, whatever the case, spacing or punctuation between their words."""
    alternatives = [r"[\W_]*".join(re.escape(w) for w in re.findall(r"[^\W_]+", n)) for n in names]
    return re.compile(
        r"(?<![^\W_])(?:" + "|".join(a for a in alternatives if a) + r")(?![^\W_])", re.IGNORECASE
    )


@enforces(SMS_SENDER_ID)
def sender_id(c: SmsCheck) -> str | None:
    """The text names who sends it (the brand or an alias), in words, not only inside a link."""
    if c.message.category not in c.policy.brand_required_categories:
        return None
    body = c.message.body
    for m in _name_pattern((c.sender.brand, *c.sender.brand_aliases)).finditer(body):
        start, end = body.rfind(" ", 0, m.start()) + 1, body.find(" ", m.end())
        token = body[start : len(body) if end < 0 else end].strip(".,;:!?()[]\"'")
        if not _URLISH.fullmatch(token):  # a name inside a link (acme.example/x) does not name the sender
            return None
    return f"text does not name the brand ({c.sender.brand})"


_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _shortener_in(low: str, shorteners: frozenset[str]) -> str | None:
    """A public shortener's domain standing as a host in the text (bit.ly/x, https://www.bit.ly, x.bit.ly)."""
    for domain in shorteners:
        at = low.find(domain)
        while at >= 0:
            before = low[at - 1] if at else " "
            end = at + len(domain)
            after = low[end : end + 2]
            ends_host = (
                not after
                or after[0] not in _HOST_CHARS
                and not (after[0] == "." and after[1:] in _HOST_CHARS)
            )
            if before not in _HOST_CHARS and ends_host:
                return domain
            at = low.find(domain, at + 1)
    return None


@enforces(SMS_CONTENT)
def banned_content(c: SmsCheck) -> str | None:
    """No public URL shorteners (carriers filter them) and none of policy.banned_terms."""
    low = c.message.body.lower()
    if (domain := _shortener_in(low, c.policy.shortener_set)) is not None:
        return f"public URL shortener {domain} (use a branded domain)"
    if c.policy.banned is not None and (m := c.policy.banned.search(low)):
        return f"banned term {m.group(0)!r}"
    return None


DNC_STALE_DAYS = 31  # 16 CFR 310.4(b)(3)(iv): a seller scrubs against a copy obtained within 31 days


@enforces(DNC_REGISTERED)
def do_not_call(c: SmsCheck) -> str | None:
    """No marketing text to a number on the national Do-Not-Call registry (47 CFR 64.1200(c)(2); texts
    included since FCC 23-107, 2024) or its state's list without the person's express written consent or an
    established business relationship still in its window (a purchase in the last 18 months, an inquiry in
    the last 3: 64.1200(f)(5)); and none scrubbed against a copy older than 31 days (16 CFR
    310.4(b)(3)(iv)): a stale copy fails closed. Lists the gateway holds no copy of are not judged."""
    dnc = c.recipient.dnc
    if c.message.category is not Category.MARKETING or dnc is None or not dnc.copies:
        return None
    applicable = {"national", nanp_region(c.phone.nanp_area_code) or "national"}
    copies = {name: as_of for name, as_of in dnc.copies if name in applicable}
    today = c.at.astimezone(_zone(c.phone.time_zones[0])).date() if c.phone.time_zones else c.at.date()
    for name, as_of in sorted(copies.items()):
        if (today - as_of).days > DNC_STALE_DAYS:
            return (
                f"the {name} Do-Not-Call copy held is as of {as_of}, more than {DNC_STALE_DAYS} days before "
                "this text: no marketing text goes until a current copy is imported"
            )
    listed = sorted(name for name in dnc.listed if name in copies)
    if not listed or c.recipient.consent_level(c.at) >= ConsentLevel.EXPRESS_WRITTEN:
        return None
    asked_not_to = any(s.reason in NOT_TO_BE_CALLED for s in c.recipient.active_suppressions(c.at))
    if not asked_not_to and any(t.holds(x, c.at) for x in c.recipient.consents for t in DNC_RELATIONSHIP):
        return None  # (a do-not-call request ends the relationship: 64.1200(f)(5)(i))
    where = " and ".join(f"{name} (copy as of {copies[name]})" for name in listed)
    return (
        f"{c.phone.e164} is on the {where} Do-Not-Call list, and neither express written consent nor an "
        "established business relationship in its window (a purchase in the last 18 months, an inquiry in the "
        "last 3: 47 CFR 64.1200(f)(5)) is on record"
    )


@enforces(NUMBER_REASSIGNED)
def number_reassigned(c: SmsCheck) -> str | None:
    """No text relying on consent obtained on or before a date the Reassigned Numbers Database says the
    number was permanently disconnected since (47 CFR 64.1200(m)): the consent may be a former subscriber's.
    Consent given after every such date is the present subscriber's."""
    since = c.recipient.dnc.disconnected_since if c.recipient.dnc is not None else ()
    if not since:
        return None
    latest = max(
        (x.obtained_at.date() for x in c.recipient.consents if x.level_at(c.at) > ConsentLevel.NONE),
        default=None,
    )
    relied = [day for day in since if latest is None or latest <= day]
    if not relied:
        return None
    when = f"consent on record from {latest}" if latest else "no consent given since"
    return (
        f"the Reassigned Numbers Database reports {c.phone.e164} permanently disconnected since {max(relied)}, "
        f"and the {when} is not the present subscriber's"
    )


SMS_RULES = (
    number_reassigned,
    category_not_allowed,
    quiet_hours,
    emergency_blackout,
    frequency_cap,
    do_not_call,
    opt_out_notice,
    sender_id,
    banned_content,
)


def content_violations(c: SmsCheck) -> tuple[Violation, ...]:
    return tuple(v for rule in SMS_RULES if (v := rule(c)) is not None)
