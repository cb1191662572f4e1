"""Limits on guessing credentials: failures counted per client address and per user name, each answered
after a delay that doubles, and a temporary block once there are too many.

- The nth failure in a row from a client (or for a user name) is answered after
  `failure_delay × 2^(n-1)` seconds, at most `max_failure_delay`.
- `block_after` failures from one client address, or `block_after_per_user` for one user name (the
  guesses of many addresses at one account), block further attempts from it (or at it) for
  `block_minutes`: answered at once, `454 4.7.0` on SMTP and `429` with `Retry-After` over HTTP, the
  credential not even checked, so a guess made while blocked learns nothing.
- Attempts in flight count too, each different secret once: a burst of guesses sent at once meets the
  limit as a sequence would, while many requests at once with one key (an app's) are one attempt.
- A success does not clear a count (holding one valid credential must not buy unlimited guesses at
  others); a count is forgotten after `block_minutes` without a failure.
- A blocked user name does not lock out the addresses that have logged in as it before (up to
  `_KNOWN_PER_USER` of them): anyone can make 30 wrong guesses at a name, but not keep its owner out.
- An IPv6 client is counted by its /64 (one host has them all); an IPv4-mapped one as IPv4.
- Memory is bounded: at most `_MAX_TRACKED` keys, the oldest forgotten first.

Each process keeps its own counts (with `smtp.workers` > 1 a guesser meets each worker's limits; the
delays still bound the rate). The log line for each failure and block is made for fail2ban:
`auth failure: door=smtp client=192.0.2.7 user='acme'` and `auth blocked: door=... client=...`.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

_MAX_TRACKED = 100_000
_KNOWN_PER_USER = 20


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
    pending: dict[bytes, int] = field(default_factory=dict)  # secrets (digests) being checked right now
    last: float = 0.0
    blocked_until: float = 0.0


class Throttle:
    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits()
        self.clock = clock
        self._counts: OrderedDict[tuple[str, str], _Count] = OrderedDict()
        self._known: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()  # user -> clients that got in

    def _keys(self, client: str | None, user: str | None) -> list[tuple[str, str]]:
        keys = [("client", _group(client))]
        if user:
            keys.append(("user", user[:256]))
        return keys

    def _limit(self, key: tuple[str, str]) -> int:
        return self.limits.block_after if key[0] == "client" else self.limits.block_after_per_user

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

    def start(self, client: str | None, user: str | None = None, attempt: bytes = b"") -> None:
        """An attempt begins: Blocked when the client address or the user name is blocked, or when the
        attempts in flight would reach the limit; otherwise counted as in flight until `failed` or
        `succeeded` (or `abandoned`) ends it."""
        now = self.clock()
        familiar = bool(user) and _group(client) in self._known.get(user[:256] if user else "", {})
        keys = [k for k in self._keys(client, user) if not (k[0] == "user" and familiar)]
        waits = []
        for key in keys:
            count = self._count(key, True)
            assert count is not None
            if count.blocked_until > now:
                waits.append(count.blocked_until - now)
            elif attempt not in count.pending and count.failures + len(count.pending) >= self._limit(key):
                waits.append(self.limits.max_failure_delay or 1.0)
        if waits:
            raise Blocked(max(waits))
        for key in self._keys(client, user):
            count = self._count(key, True)
            assert count is not None
            count.pending[attempt] = count.pending.get(attempt, 0) + 1

    def abandoned(self, client: str | None, user: str | None = None, attempt: bytes = b"") -> None:
        """An attempt that ended without an answer (cancelled, an error): no longer in flight."""
        for key in self._keys(client, user):
            count = self._counts.get(key)
            if count is not None and attempt in count.pending:
                count.pending[attempt] -= 1
                if count.pending[attempt] <= 0:
                    del count.pending[attempt]

    def failed(self, client: str | None, user: str | None = None, attempt: bytes = b"") -> tuple[float, bool]:
        """A failed attempt: (seconds to wait before answering it, whether it blocked something)."""
        now = self.clock()
        delay, blocked = 0.0, False
        self.abandoned(client, user, attempt)
        for key in self._keys(client, user):
            count = self._count(key, True)
            assert count is not None
            count.failures += 1
            count.last = now
            self._counts.move_to_end(key)
            if count.failures >= self._limit(key) and count.blocked_until <= now:
                count.blocked_until = now + self.limits.block_minutes * 60
                blocked = True
            wait = self.limits.failure_delay * 2 ** min(count.failures - 1, 30)
            delay = max(delay, min(wait, self.limits.max_failure_delay))
        return delay, blocked

    def succeeded(self, client: str | None, user: str | None = None, attempt: bytes = b"") -> None:
        """A success: no longer in flight, and the client is one its user name knows (`start`)."""
        self.abandoned(client, user, attempt)
        if user:
            clients = self._known.setdefault(user[:256], OrderedDict())
            clients[_group(client)] = None
            clients.move_to_end(_group(client))
            while len(clients) > _KNOWN_PER_USER:
                clients.popitem(last=False)
            self._known.move_to_end(user[:256])
            while len(self._known) > _MAX_TRACKED:
                self._known.popitem(last=False)


def _group(client: str | None) -> str:
    """What a client is counted as: its IPv4 address, or its IPv6 /64."""
    if not client:
        return "unknown"
    try:
        address = ipaddress.ip_address(client.split("%")[0])
    except ValueError:
        return client[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)
