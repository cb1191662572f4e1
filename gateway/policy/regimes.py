"""Other countries' marketing-consent laws, per sender (`regimes` in a [[sender]]: docs/law.md), and the
terms the law gives a consent that rests on a relationship rather than a yes (model.ConsentBasis).

A sender lists the regimes it sends under; "US" alone (the default) changes nothing. A text falls under a
listed regime when its number is in that country (+1 with a Canadian area code, +44, +61, an EU member's
code); an email, whose address names no country, under every regime the sender lists besides "US".

What each regime asks of a marketing message's consent, beyond the US rules that always apply:

- CA, Canada's Anti-Spam Legislation (S.C. 2010, c. 23): express consent (s. 6(1)(a)), or consent implied by
  an existing business relationship: a purchase in the two years before the message (s. 10(10)(a)), an
  inquiry or application in the six months before it (s. 10(10)(b)); or by the address's conspicuous
  publication without a statement refusing messages (s. 10(9)(b)).
- UK, the Privacy and Electronic Communications Regulations 2003 reg. 22 (as amended by the Data (Use and
  Access) Act 2025, in force 2026-02-05, which extends the soft opt-in to charities), and EU, the ePrivacy
  Directive 2002/58/EC art. 13: consent (reg. 22(2), art. 13(1)) or the soft opt-in: details obtained in
  the course of a sale or negotiations, for the sender's own similar products, a chance to refuse given at
  collection and in every message (reg. 22(3), art. 13(2)). The opt-out in every message is the unsubscribe
  rules' job; recording the soft opt-in is the operator's (`--basis soft_opt_in`).
- AU, the Spam Act 2003 (Cth): consent (s. 16(2)): express, or inferred from the conduct and the business
  relationship of the person (sch. 2 cl. 2), or from conspicuous publication of the address (cl. 4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..model import Channel, Consent, ConsentBasis, ConsentLevel

REGIMES = ("US", "CA", "UK", "EU", "AU")
CANADIAN_REGIONS = frozenset({"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"})
EU_CALLING_CODES = (
    "+30", "+31", "+32", "+33", "+34", "+351", "+352", "+353", "+356", "+357", "+358", "+359", "+36", "+370",
    "+371", "+372", "+385", "+386", "+39", "+40", "+420", "+421", "+43", "+45", "+46", "+48", "+49",
)  # fmt: skip


def months_after(when: datetime, months: int) -> datetime:
    """The same day `months` later (the month's last day when it has no such day)."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    for day in (when.day, 30, 29, 28):
        try:
            return when.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


@dataclass(frozen=True, slots=True)
class Term:
    """How long a consent resting on a relationship lasts under a law, and where the law says so."""

    basis: ConsentBasis
    months: int | None  # None: no term (until revoked)
    citation: str

    def holds(self, c: Consent, at: datetime) -> bool:
        return (
            c.basis is self.basis
            and c.level_at(at) > ConsentLevel.NONE
            and (self.months is None or at < months_after(c.obtained_at, self.months))
        )


# An established business relationship lifts the Do-Not-Call rule (not the consent the TCPA asks of
# marketing texts): 47 CFR 64.1200(f)(5), 16 CFR 310.2(q).
DNC_RELATIONSHIP = (
    Term(ConsentBasis.PURCHASE, 18, "47 CFR 64.1200(f)(5): a purchase in the last 18 months"),
    Term(ConsentBasis.INQUIRY, 3, "47 CFR 64.1200(f)(5): an inquiry in the last 3 months"),
)


def _express(c: Consent, at: datetime) -> bool:
    return c.basis is ConsentBasis.GIVEN and c.level_at(at) >= ConsentLevel.EXPRESS


@dataclass(frozen=True, slots=True)
class Regime:
    code: str
    law: str  # its name and where its consent rule is, for refusals
    terms: tuple[Term, ...]  # the relationships that stand for consent, and for how long

    def consented(self, consents: tuple[Consent, ...], at: datetime) -> bool:
        return any(_express(c, at) or any(t.holds(c, at) for t in self.terms) for c in consents)


_SOFT_OPT_IN = Term(ConsentBasis.SOFT_OPT_IN, None, "details taken during a sale, a chance to refuse given")
LAWS = {
    "CA": Regime(
        "CA",
        "CASL (S.C. 2010, c. 23) s. 6(1)(a), 10(9)-(10)",
        (
            Term(ConsentBasis.PURCHASE, 24, "s. 10(10)(a): a purchase in the last two years"),
            Term(ConsentBasis.SOFT_OPT_IN, 24, "s. 10(10)(a): a purchase in the last two years"),
            Term(ConsentBasis.INQUIRY, 6, "s. 10(10)(b): an inquiry in the last six months"),
            Term(ConsentBasis.PUBLISHED, None, "s. 10(9)(b): the address conspicuously published"),
        ),
    ),
    "UK": Regime("UK", "PECR 2003 reg. 22(2)-(3) (as amended by the DUAA 2025)", (_SOFT_OPT_IN,)),
    "EU": Regime("EU", "ePrivacy Directive 2002/58/EC art. 13(1)-(2)", (_SOFT_OPT_IN,)),
    "AU": Regime(
        "AU",
        "Spam Act 2003 (Cth) s. 16(2), sch. 2",
        (
            Term(ConsentBasis.PURCHASE, None, "sch. 2 cl. 2: inferred from a business relationship"),
            Term(ConsentBasis.INQUIRY, None, "sch. 2 cl. 2: inferred from a business relationship"),
            Term(ConsentBasis.SOFT_OPT_IN, None, "sch. 2 cl. 2: inferred from a business relationship"),
            Term(ConsentBasis.PUBLISHED, None, "sch. 2 cl. 4: the address conspicuously published"),
        ),
    ),
}


def _country_of(e164: str, nanp_region: Callable[[str], str | None]) -> str | None:
    if e164.startswith("+1"):
        return "CA" if nanp_region(e164[2:5]) in CANADIAN_REGIONS else "US"
    if e164.startswith("+44"):
        return "UK"
    if e164.startswith("+61"):
        return "AU"
    return "EU" if e164.startswith(EU_CALLING_CODES) else None


def applicable(
    regimes: frozenset[str], channel: Channel, address: str, nanp_region: Callable[[str], str | None]
) -> tuple[Regime, ...]:
    """The sender's regimes (besides the US, whose rules always apply) that reach this recipient."""
    listed = [code for code in REGIMES if code in regimes and code != "US"]
    if channel is Channel.EMAIL:
        return tuple(LAWS[code] for code in listed)
    country = _country_of(address, nanp_region)
    return tuple(LAWS[code] for code in listed if code == country)
