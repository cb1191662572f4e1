"""By when an opt-out request must be honoured: the earliest deadline of the laws and platform rules that
reach it. Requests the gateway can act on alone (one-click, STOP, an authenticated reply) are honoured at
once; these deadlines are for those that wait for a person (a request held for review, one an operator
enters from a letter or a call), which the console lists as due and overdue.

Business days are counted on the calendar of the law's country, in a zone of its own (the earliest of its
mainland's business days to end: the stricter reading): US rules in America/New_York, skipping weekends and
federal holidays (5 U.S.C. 6103); Canada's in America/Toronto and Australia's in Australia/Sydney, skipping
weekends only (their public holidays, which differ by province and state, are not skipped: stricter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..model import Channel
from .holidays import is_holiday

FEDERAL_HOLIDAYS = frozenset(
    ["new_year", "mlk", "washington", "memorial", "juneteenth", "independence", "labor", "columbus"]
    + ["veterans", "thanksgiving", "christmas"]
)


@dataclass(frozen=True, slots=True)
class Deadline:
    days: int
    business: bool  # business days, else calendar days
    citation: str
    zone: str = "America/New_York"
    holidays: frozenset[str] = FEDERAL_HOLIDAYS

    def after(self, received: datetime) -> datetime:
        if not self.business:
            return received + timedelta(days=self.days)
        due, left = received.astimezone(ZoneInfo(self.zone)), self.days
        while left:
            due += timedelta(days=1)
            if due.weekday() < 5 and not is_holiday(due.date(), self.holidays):
                left -= 1
        return due.astimezone(UTC)


EMAIL = (
    Deadline(10, True, "CAN-SPAM, 15 U.S.C. 7704(a)(4)(A): 10 business days"),
    Deadline(2, False, "Gmail and Yahoo bulk-sender rules: 2 days"),
)
SMS = (Deadline(10, True, "47 CFR 64.1200(a)(10): 10 business days"),)
BY_REGIME = {
    "CA": Deadline(10, True, "CASL s. 11(3): 10 business days", "America/Toronto", frozenset()),
    "AU": Deadline(5, True, "Spam Act 2003 sch. 2 cl. 6: 5 business days", "Australia/Sydney", frozenset()),
}


def due(received: datetime, channel: Channel, regimes: frozenset[str] = frozenset()) -> tuple[datetime, str]:
    """The earliest deadline for a request received then, and the rule it is under."""
    rules = (
        *(EMAIL if channel is Channel.EMAIL else SMS),
        *(BY_REGIME[r] for r in regimes if r in BY_REGIME),
    )
    return min(((d.after(received), d.citation) for d in rules), key=lambda x: x[0])
