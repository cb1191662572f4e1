"""What becomes of a message the rules found something wrong with, on either channel.

In `enforce` mode it is refused. In `monitor` mode (for rolling a sender out without breaking its
sending) it is relayed, its violations recorded in its decision (and, for mail, named in an
`X-Compliance-Violations` header), except for the codes refused even in monitor mode: those whose
declaration says so (INVALID_RECIPIENT: nothing can be delivered to it) and those the configuration adds
(`gateway.monitor_refuses`, e.g. SUPPRESSED for a company that never wants an opt-out overridden).

The SMTP and SMS engines both ask `Disposition.fate`, so one violation gets one fate on either door.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ..model import Mode, Violation
from .codes import REGISTRY


class Fate(enum.Enum):
    PASS = "pass"  # nothing wrong: relayed
    MONITOR = "monitor"  # relayed anyway, the violations recorded (verdict `monitored`)
    REFUSE = "refuse"  # refused (verdict `rejected`)


ALWAYS_REFUSED = frozenset(name for name, code in REGISTRY.items() if not code.monitorable)


@dataclass(frozen=True)
class Disposition:
    mode: Mode
    monitor_refuses: frozenset[str] = ALWAYS_REFUSED  # codes refused even in monitor mode

    def refuses(self, code: str) -> bool:
        """Whether a violation of this code alone is refused."""
        return self.mode is Mode.ENFORCE or code in self.monitor_refuses

    def fate(self, violations: Iterable[Violation]) -> Fate:
        codes = {v.code for v in violations}
        if not codes:
            return Fate.PASS
        if self.mode is Mode.ENFORCE or codes & self.monitor_refuses:
            return Fate.REFUSE
        return Fate.MONITOR
