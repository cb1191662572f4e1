"""Limits on guessing credentials: failures counted per client address and per user name, each answered
after a delay that doubles, and a temporary block once there are too many.

- The nth failure in a row from a client (or for a user name) is answered after
  `failure_delay × 2^(n-1)` seconds, at most `max_failure_delay`.
- `block_after` failures from one client address, or `block_after_per_user` for one user name (the
  guesses of many addresses at one account), block further attempts from it (or at it) for
  `block_minutes`: answered at once, `454 4.7.0` on SMTP and `429` with `Retry-After` over HTTP, the
  credential not even checked, so a guess made while blocked learns nothing.
- A success clears its client's count (not the user name's: a guesser's success elsewhere does not
  wipe the trail). Counts are forgotten after `block_minutes` without a failure.
- Memory is bounded: at most `_MAX_TRACKED` keys, the oldest forgotten first.

Each process keeps its own counts (with `smtp.workers` > 1 a guesser meets each worker's limits; the
delays still bound the rate). The log line for each failure and block is made for fail2ban:
`auth failure: door=smtp client=192.0.2.7 user='acme'` and `auth blocked: door=... client=...`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

_MAX_TRACKED = 100_000


@dataclass(frozen=True)
class Limits:
    failure_delay: float = 0.25  # seconds, doubled at each failure in a row
    max_failure_delay: float = 4.0
    block_after: int = 10  # failures from one client address
    block_after_per_user: int = 30  # failures at one user name, from anywhere
    block_minutes: float = 15.0


class Blocked(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed attempts: try again in {int(retry_after) + 1} s")
        self.retry_after = int(retry_after) + 1


@dataclass
class _Count:
    failures: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


class Throttle:
    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits()
        self.clock = clock
        self._counts: OrderedDict[tuple[str, str], _Count] = OrderedDict()

    def _keys(self, client: str | None, user: str | None) -> list[tuple[str, str]]:
        keys = [("client", client or "unknown")]
        if user:
            keys.append(("user", user[:256]))
        return keys

    def _count(self, key: tuple[str, str], create: bool) -> _Count | None:
        count = self._counts.get(key)
        now = self.clock()
        if (
            count is not None
            and now - count.last > self.limits.block_minutes * 60
            and now >= count.blocked_until
        ):
            del self._counts[key]
            count = None
        if count is None and create:
            count = self._counts[key] = _Count(last=now)
            while len(self._counts) > _MAX_TRACKED:
                self._counts.popitem(last=False)
        return count

    def check(self, client: str | None, user: str | None = None) -> None:
        """Raises Blocked when the client address or the user name is blocked."""
        now = self.clock()
        waits = [c.blocked_until - now for k in self._keys(client, user) if (c := self._count(k, False))]
        if waits and max(waits) > 0:
            raise Blocked(max(waits))

    def failed(self, client: str | None, user: str | None = None) -> tuple[float, bool]:
        """A failed attempt: (seconds to wait before answering it, whether it blocked something)."""
        now = self.clock()
        delay, blocked = 0.0, False
        for key in self._keys(client, user):
            count = self._count(key, True)
            assert count is not None
            count.failures += 1
            count.last = now
            self._counts.move_to_end(key)
            limit = self.limits.block_after if key[0] == "client" else self.limits.block_after_per_user
            if count.failures >= limit and count.blocked_until <= now:
                count.blocked_until = now + self.limits.block_minutes * 60
                blocked = True
            wait = self.limits.failure_delay * 2 ** min(count.failures - 1, 30)
            delay = max(delay, min(wait, self.limits.max_failure_delay))
        return delay, blocked

    def succeeded(self, client: str | None) -> None:
        self._counts.pop(("client", client or "unknown"), None)
