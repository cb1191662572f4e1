"""The knobs the rules read: one sender's settings and the gateway-wide policy.

Built by `gateway.config` from TOML; plain frozen values, so rules stay pure and testable by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from ..model import Category, Channel, ConsentLevel, Mode
from . import postal
from .holidays import is_holiday
from .textsearch import AnchoredPattern, phrases

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = frozenset(range(7))


@dataclass(frozen=True, slots=True)
class Window:
    """Hours during which texts may be sent, on some weekdays (0 = Monday), in the recipient's time."""

    start: time
    end: time
    days: frozenset[int] = ALL_DAYS

    def allows(self, local: datetime) -> bool:
        """The end is in: "before 8 a.m. or after 9 p.m." (47 CFR 64.1200(c)(1)) leaves 21:00:00 itself."""
        return local.weekday() in self.days and self.start <= local.time().replace(tzinfo=None) <= self.end

    def describe(self) -> str:
        days = "" if self.days == ALL_DAYS else " " + describe_days(self.days)
        return f"{self.start:%H:%M}-{self.end:%H:%M}{days}"


def describe_days(days: frozenset[int]) -> str:
    """ "mon-sat", "mon-fri,sun", "sun": runs of consecutive days as ranges."""
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(
        DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}{'-' if len(r) > 2 else ','}{DAY_NAMES[r[-1]]}"
        for r in runs
    )


@dataclass(frozen=True, slots=True)
class HoursRule:
    """Calling hours and a marketing cap for a jurisdiction (federal, or a state keyed by area code)."""

    name: str
    citation: str
    windows: tuple[Window, ...]
    area_codes: frozenset[str] = frozenset()  # empty: applies to every number
    marketing_cap: int | None = None
    cap_hours: int = 24
    effective_from: date | None = None  # None: in force for as long as anything here is judged
    effective_until: date | None = None  # the last day it is in force; None: no end known
    description: str = ""  # one plain line: what it requires
    jurisdiction: str = ""  # "Florida", "United States"
    holidays: frozenset[str] = frozenset()  # days with no solicitation at all (holidays.py: names or MM-DD)
    waived_by: ConsentLevel | None = None  # the consent on record that lifts the rule, where its law says so

    def applies_to(self, area_code: str | None) -> bool:
        return not self.area_codes or (area_code is not None and area_code in self.area_codes)

    def in_force(self, day: date) -> bool:
        """Whether this version of the rule is the law on `day` (the recipient's local date)."""
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_until is None or day <= self.effective_until
        )

    def dated(self) -> str:
        """When it is in force, for messages and listings: "since 2021-07-01", "2021-07-01 to 2025-06-30"."""
        if self.effective_until is not None:
            return f"{self.effective_from or 'always'} to {self.effective_until}"
        return f"since {self.effective_from}" if self.effective_from else "always"

    def allows(self, local: datetime) -> bool:
        if self.holidays and is_holiday(local.date(), self.holidays):
            return False
        return any(w.allows(local) for w in self.windows)

    def describe(self) -> str:
        hours = " or ".join(w.describe() for w in self.windows)
        return f"{hours}, none on {', '.join(sorted(self.holidays))}" if self.holidays else hours


# What a duty of the law (a law file's [[duty]]) makes the engine do, by kind:
DUTY_KINDS = {
    # an opt-out from texts reaches every category from that sender, not only the kind of message it answered
    "revoke_all": "an opt-out from texts reaches every text from that sender",
    # a STOP is kept at least `years` years, whatever expiry an operator gave it
    "keep_stop": "a STOP is kept for at least `years` years",
    # marketing texts are refused in an area while an emergency declared there lasts ([[policy.blackout]])
    "emergency_blackout": "no solicitation in an area during a declared state of emergency",
    # these replies (the whole reply, as carriers match keywords) revoke consent to texts
    "revocation_keywords": "a reply of one of `keywords` revokes consent",
}


@dataclass(frozen=True, slots=True)
class Duty:
    """A dated duty of a jurisdiction's law that is not a calling window: see DUTY_KINDS."""

    kind: str
    name: str  # the jurisdiction's rule name ("federal", "VA")
    citation: str
    description: str
    effective_from: date
    effective_until: date | None = None
    jurisdiction: str = ""
    area_codes: frozenset[str] = frozenset()  # empty: every number
    years: int | None = None
    keywords: tuple[str, ...] = ()  # folded (replies.folded), for revocation_keywords

    def applies_to(self, area_code: str | None) -> bool:
        return not self.area_codes or (area_code is not None and area_code in self.area_codes)

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)

    def dated(self) -> str:
        if self.effective_until is not None:
            return f"{self.effective_from} to {self.effective_until}"
        return f"since {self.effective_from}"


@dataclass(frozen=True, slots=True)
class Blackout:
    """A declared state of emergency during which a state's law bars solicitation in the area it covers
    ([[policy.blackout]]; La. R.S. 45:844.31 is the model)."""

    name: str  # what the operator calls it ("Hurricane Zeta, Louisiana")
    area_codes: frozenset[str]
    start: datetime
    end: datetime
    citation: str

    def covers(self, area_code: str | None, at: datetime) -> bool:
        return area_code is not None and area_code in self.area_codes and self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    max_messages: int
    hours: int


@dataclass(frozen=True)
class SenderSettings:
    name: str
    brand: str
    category: Category
    allowed_categories: frozenset[Category]
    from_domains: tuple[str, ...] = ()
    physical_address: str | None = None
    brand_aliases: tuple[str, ...] = ()
    email_consent_required: ConsentLevel | None = None
    email_consent_categories: frozenset[Category] = frozenset({Category.MARKETING})
    sexually_explicit: bool = False
    mode: Mode | None = None  # None: the gateway's mode
    help_text: str = ""
    regimes: frozenset[str] = frozenset({"US"})  # the countries' laws it sends under (regimes.py)
    address_pattern: AnchoredPattern | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.physical_address and self.address_pattern is None:
            object.__setattr__(self, "address_pattern", postal.compile_address(self.physical_address))

    def owns_domain(self, domain: str) -> bool:
        domain = domain.lower().rstrip(".")
        return any(domain == d or domain.endswith("." + d) for d in self.from_domains)


DEFAULT_AD_LABELS = (
    "advertisement",
    "[ad]",
    "(ad)",
    "ad:",
    "promotional message",
    "promotional email",
    "sponsored",
    "this is an ad",
    "this email is an ad",
)
DEFAULT_PROMOTIONAL_SUBJECT = (
    r"\d+\s*%\s*off",
    r"\$\d+\s*off",
    r"\bsale\b",
    r"\bdeals?\b",
    r"\bdiscount",
    r"\bcoupon",
    r"\bpromo(?:tion)?s?\b",
    r"\bfree shipping\b",
    r"\blimited[- ]time\b",
    r"\b(?:buy|shop|order) now\b",
    r"\bsave (?:up to )?\$?\d+",
    r"\bclearance\b",
    r"\b(?:exclusive|special) offers?\b",
    r"\bbogo\b",
    r"\bflash sale\b",
)
DEFAULT_URL_SHORTENERS = (
    "bit.ly",
    "bitly.com",
    "tinyurl.com",
    "goo.gl",
    "ow.ly",
    "t.co",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "tiny.cc",
    "rb.gy",
    "bl.ink",
    "t.ly",
    "v.gd",
    "s.id",
    "lnkd.in",
    "qr.ae",
    "adf.ly",
    "bit.do",
    "shorte.st",
    "soo.gd",
    "clck.ru",
    "x.co",
    "tr.im",
    "short.gy",
    "shorturl.com",
    "tiny.one",
    "urlz.fr",
)
FEDERAL_HOURS = HoursRule(  # (as gateway/data/law/US.toml says; the config may change its window)
    name="federal",
    citation="47 CFR 64.1200(c)(1)",
    windows=(Window(time(8, 0), time(21, 0)),),
    effective_from=date(1992, 12, 20),
    description="No telephone solicitation, texts included, before 8 a.m. or after 9 p.m. the recipient's local time",
    jurisdiction="United States",
)
DEFAULT_CONSENT = {
    (Channel.SMS, Category.MARKETING): ConsentLevel.EXPRESS_WRITTEN,
    (Channel.SMS, Category.INFORMATIONAL): ConsentLevel.EXPRESS,
    (Channel.SMS, Category.TRANSACTIONAL): ConsentLevel.EXPRESS,
    (Channel.EMAIL, Category.MARKETING): ConsentLevel.NONE,
    (Channel.EMAIL, Category.INFORMATIONAL): ConsentLevel.NONE,
    (Channel.EMAIL, Category.TRANSACTIONAL): ConsentLevel.NONE,
}


@dataclass(frozen=True)
class Policy:
    ad_label_phrases: tuple[str, ...] = DEFAULT_AD_LABELS
    promotional_subject_patterns: tuple[str, ...] = DEFAULT_PROMOTIONAL_SUBJECT
    deceptive_subject_patterns: tuple[str, ...] = ()
    url_shorteners: tuple[str, ...] = DEFAULT_URL_SHORTENERS
    banned_terms: tuple[str, ...] = ()
    hours: tuple[HoursRule, ...] = (FEDERAL_HOURS,)
    duties: tuple[Duty, ...] = ()
    blackouts: tuple[Blackout, ...] = ()
    frequency_cap: FrequencyCap | None = None
    consent_required: dict[tuple[Channel, Category], ConsentLevel] = field(
        default_factory=lambda: dict(DEFAULT_CONSENT)
    )
    brand_required_categories: frozenset[Category] = frozenset(Category)
    gateway_adds_list_unsubscribe: bool = True
    gateway_repairs_list_unsubscribe: bool = True  # a client's own incomplete field is completed, not refused
    allow_example_domains: bool = True  # links to RFC 2606 / 6761 documentation names count as working
    ad_label: AnchoredPattern | None = field(default=None, init=False, compare=False)
    promotional_re: re.Pattern[str] | None = field(default=None, init=False, compare=False)
    deceptive_res: tuple[re.Pattern[str], ...] = field(default=(), init=False, compare=False)
    banned: AnchoredPattern | None = field(default=None, init=False, compare=False)
    shortener_set: frozenset[str] = field(default=frozenset(), init=False, compare=False)
    _hours_by_area: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def hours_for(self, area_code: str | None) -> tuple[HoursRule, ...]:
        """The calling-hours rules that apply to numbers with this area code (remembered per code)."""
        found = self._hours_by_area.get(area_code)
        if found is None:
            found = self._hours_by_area[area_code] = tuple(r for r in self.hours if r.applies_to(area_code))
        return found

    def duty(self, kind: str, day: date, area_code: str | None = None) -> Duty | None:
        """The duty of this kind in force on `day` for numbers with this area code, if any."""
        return next(
            (d for d in self.duties if d.kind == kind and d.in_force(day) and d.applies_to(area_code)), None
        )

    def revocation_keywords(self, day: date) -> frozenset[str]:
        """The reply keywords the law in force on `day` makes revoke consent (every number: no area)."""
        return frozenset(
            w for d in self.duties if d.kind == "revocation_keywords" and d.in_force(day) for w in d.keywords
        )

    def __post_init__(self) -> None:
        promo = "|".join(f"(?:{p})" for p in self.promotional_subject_patterns)
        object.__setattr__(self, "ad_label", phrases(self.ad_label_phrases))
        object.__setattr__(self, "promotional_re", re.compile(promo, re.IGNORECASE) if promo else None)
        object.__setattr__(
            self,
            "deceptive_res",
            tuple(re.compile(p, re.IGNORECASE) for p in self.deceptive_subject_patterns),
        )
        object.__setattr__(self, "banned", phrases(self.banned_terms))
        object.__setattr__(self, "shortener_set", frozenset(d.lower() for d in self.url_shorteners))

    def required_consent(self, channel: Channel, category: Category, sender: SenderSettings) -> ConsentLevel:
        level = self.consent_required.get((channel, category), ConsentLevel.NONE)
        if (
            channel is Channel.EMAIL
            and sender.email_consent_required is not None
            and category in sender.email_consent_categories
        ):
            level = max(level, sender.email_consent_required)
        return level

    @property
    def history_hours(self) -> int:
        """How far back the store must look for sends to judge every cap."""
        spans = [r.cap_hours for r in self.hours if r.marketing_cap is not None]
        if self.frequency_cap:
            spans.append(self.frequency_cap.hours)
        return max(spans, default=0)
