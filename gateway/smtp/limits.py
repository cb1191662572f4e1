"""What one SMTP client may use, and the replies at each limit (docs/smtp.md#limits).

Every limit is a key of [smtp]. Connections are counted per process: with `smtp.workers` processes
sharing the port, each takes `max_connections / workers` (rounded up), and the same share of
`max_connections_per_client`, since the kernel spreads a client's connections over them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config.model import SmtpConfig

TOO_MANY = "4.7.0 Too many connections, try again later"
TOO_MANY_FROM_YOU = "4.7.0 Too many connections from your address, try again later"
TOO_MANY_COMMANDS = "4.7.0 Too many commands in one session, closing"
TOO_LONG = "4.7.0 Session time limit reached, closing"
TIMEOUT = "4.4.2 Timeout exceeded, closing"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"


@dataclass(frozen=True, slots=True)
class SessionLimits:
    idle: float  # seconds waiting for a command that does something (not NOOP, RSET, HELP, VRFY, EXPN)
    session: float  # seconds from the greeting
    commands: int  # per session
    data: float  # seconds for a whole DATA section
    data_idle: float  # seconds without a DATA byte
    connections: Connections

    @classmethod
    def from_config(cls, smtp: SmtpConfig) -> SessionLimits:
        share = max(smtp.workers, 1)
        return cls(
            idle=smtp.idle_timeout,
            session=smtp.session_timeout,
            commands=smtp.max_commands,
            data=smtp.data_timeout,
            data_idle=smtp.data_idle_timeout,
            connections=Connections(
                math.ceil(smtp.max_connections / share), math.ceil(smtp.max_connections_per_client / share)
            ),
        )


class Connections:
    """Open connections, in all and per client address."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self.open = 0
        self._by_client: dict[str, int] = {}

    def admit(self, host: str) -> str | None:
        """None when the connection may go on (and is counted); else the text of its 421."""
        if self.open >= self.total:
            return TOO_MANY
        mine = self._by_client.get(host, 0)
        if mine >= self.per_client:
            return TOO_MANY_FROM_YOU
        self.open += 1
        self._by_client[host] = mine + 1
        return None

    def leave(self, host: str) -> None:
        self.open -= 1
        left = self._by_client.get(host, 1) - 1
        if left > 0:
            self._by_client[host] = left
        else:
            self._by_client.pop(host, None)
