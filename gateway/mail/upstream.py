"""Where accepted mail goes: the interface every upstream offers the engine, and the Maildir one.

A `Relay` opens one upstream transaction per client transaction, lazily, at the first recipient the
rules accept; each client RCPT is then asked of the upstream in the same transaction, so the client's
answer for every recipient is the upstream's own. Nothing is acknowledged that the upstream has not
accepted, and no recipient is silently dropped after DATA. The SMTP upstream (a pool of reused
connections) is gateway/smtp/relay.py.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    def line(self) -> str:
        return f"{self.code} {self.text}"


class UpstreamUnavailable(Exception):
    """The upstream cannot be reached or did not answer in time: the client should retry later (451 4.4.1)."""


class OutcomeUnknown(UpstreamUnavailable):
    """The message was sent to its final dot, and then no answer could be read (the connection lost, the
    wait given up, a reply no parser takes): the upstream may have it. The client still retries later."""


class Transaction(Protocol):
    async def add_recipient(self, address: str, options: Sequence[str]) -> Reply: ...

    async def send(self, data: bytes) -> Reply: ...

    async def abort(self) -> None: ...


class Relay(Protocol):
    async def begin(self, mail_from: str, options: Sequence[str]) -> Transaction: ...

    async def close(self) -> None: ...


# -- Maildir -------------------------------------------------------------------------------------------


class MaildirTransaction:
    def __init__(self, relay: MaildirRelay, mail_from: str) -> None:
        self.relay, self.mail_from = relay, mail_from
        self.recipients: list[str] = []

    async def add_recipient(self, address: str, options: Sequence[str]) -> Reply:
        self.recipients.append(address)
        return Reply(250, "2.1.5 OK")

    async def send(self, data: bytes) -> Reply:
        envelope = f"Return-Path: <{self.mail_from}>\r\n" + "".join(
            f"X-Original-To: {r}\r\n" for r in self.recipients
        )
        name = await asyncio.to_thread(self.relay.deliver, envelope.encode("utf-8") + data)
        return Reply(250, f"2.0.0 delivered to Maildir as {name}")

    async def abort(self) -> None:
        self.recipients.clear()


class MaildirRelay:
    """Delivery into a Maildir (tmp/ then new/, fsynced): durable before the 250, readable by any mail tool."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._host = socket.gethostname().replace("/", "_").replace(":", "_")

    def deliver(self, data: bytes) -> str:
        self._count += 1
        name = f"{time.time_ns()}.P{os.getpid()}Q{self._count}.{self._host}"
        tmp, new = self.path / "tmp" / name, self.path / "new" / name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, new)
        dir_fd = os.open(self.path / "new", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return name

    async def begin(self, mail_from: str, options: Sequence[str]) -> Transaction:
        return MaildirTransaction(self, mail_from)

    async def close(self) -> None:
        return None


class UpstreamRefused(Exception):
    """The upstream refused the envelope sender: its reply goes back to the client."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.line())
        self.reply = reply
