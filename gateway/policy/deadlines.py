"""By when an opt-out request must be honoured: the earliest deadline of the laws and platform rules that
reach it. Requests the gateway can act on alone (one-click, STOP, an authenticated reply) are honoured at
once; these deadlines are for those that wait for a person (a request held for review, one an operator
enters from a letter or a call), which the console lists as due and overdue.

Business days skip Saturdays, Sundays and US federal holidays (5 U.S.C. 6103).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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

    def after(self, received: datetime) -> datetime:
        if not self.business:
            return received + timedelta(days=self.days)
        due, left = received, self.days
        while left:
            due += timedelta(days=1)
            if due.weekday() < 5 and not is_holiday(due.date(), FEDERAL_HOLIDAYS):
                left -= 1
        return due


EMAIL = (
    Deadline(10, True, "CAN-SPAM, 15 U.S.C. 7704(a)(4)(A): 10 business days"),
    Deadline(2, False, "Gmail and Yahoo bulk-sender rules: 2 days"),
)
SMS = (Deadline(10, True, "47 CFR 64.1200(a)(10): 10 business days"),)
BY_REGIME = {
    "CA": Deadline(10, True, "CASL s. 11(3): 10 business days"),
    "AU": Deadline(5, True, "Spam Act 2003 s. 18(4): 5 working days"),
}


def due(received: datetime, channel: Channel, regimes: frozenset[str] = frozenset()) -> tuple[datetime, str]:
    """The earliest deadline for a request received then, and the rule it is under."""
    rules = (
        *(EMAIL if channel is Channel.EMAIL else SMS),
        *(BY_REGIME[r] for r in regimes if r in BY_REGIME),
    )
    return min(((d.after(received), d.citation) for d in rules), key=lambda x: x[0])
