"""aiosmtpd's SMTP protocol, mended where it holds a gateway back (the private parts of aiosmtpd this
takes are named in private.py).

- DATA is read in large chunks up to the terminating CRLF.CRLF and un-dot-stuffed in one pass, instead
  of one `readuntil` and one list append per line.
- Replies aiosmtpd words without enhanced status codes get them (552 5.3.4 for size).
- A reply is one write, not one per line, and pipelined commands' replies go out together.
- Each connection tells the handler when it goes away, so an open upstream transaction is rolled back.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import ClassVar

from aiosmtpd.smtp import SMTP, syntax

from . import dots
from .private import PER_CONNECTION, input_buffer, push_back

log = logging.getLogger("gateway.smtp")

_REPLIES = {
    "552 Error: message size exceeds fixed maximum message size": "552 5.3.4 Message size exceeds fixed maximum message size",
    "552 Error: Too much mail data": "552 5.3.4 Message size exceeds fixed maximum message size",
    "530 5.7.0 Authentication required": "530 5.7.0 Authentication required",
    "503 Error: need RCPT command": "503 5.5.1 Error: need RCPT command",
    "503 Error: need MAIL command": "503 5.5.1 Error: need MAIL command",
}


# <local@domain> of the everyday kind: dot-atom local part, plain domain. Anything else (quoted local
# parts, source routes, comments) goes to aiosmtpd's full RFC 5322 parser.
_PLAIN_ANGLE_ADDR = re.compile(
    r"\s*<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\x00-\x7f])+(?:\.(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\x00-\x7f])+)*"
    r"@(?:[A-Za-z0-9-]|[^\x00-\x7f])+(?:\.(?:[A-Za-z0-9-]|[^\x00-\x7f])+)*)>(.*)",
    re.DOTALL,
)


class _BoundOnUse(Mapping):
    """The command methods of one connection, bound when a command asks for one: binding the twenty-odd
    of them up front cost every connection, most of which use six."""

    __slots__ = ("_functions", "_owner")

    def __init__(self, owner, functions: dict) -> None:
        self._owner, self._functions = owner, functions

    def __getitem__(self, name: str):
        return self._functions[name].__get__(self._owner)

    def __iter__(self):
        return iter(self._functions)

    def __len__(self) -> int:
        return len(self._functions)


class GatewaySMTP(SMTP):
    """One instance per connection, like aiosmtpd's, without its per-connection reflection.

    SMTP.__init__ scans the handler and itself with inspect.getmembers() and dir() on every connection.
    The first connection of a handler runs it and becomes the template; later ones copy its settings,
    bind their own methods and start from fresh per-connection state.
    """

    _templates: ClassVar[dict[int, tuple[dict, dict, dict]]] = {}

    def __init__(self, handler, **kwargs) -> None:
        template = self._templates.get(id(handler))
        if template is None:
            super().__init__(handler, **kwargs)
            self._remember_as_template(handler)
            return
        settings, auth, commands = template
        asyncio.StreamReaderProtocol.__init__(
            self,
            asyncio.StreamReader(loop=settings["loop"], limit=self.line_length_limit),
            client_connected_cb=self._cb_client_connected,
            loop=settings["loop"],
        )
        self.__dict__.update(settings)
        self.__dict__.update(PER_CONNECTION)
        self._auth_methods = {
            name: type(attr)(fn.__get__(self) if attr.is_builtin else fn, attr.is_builtin)
            for name, (attr, fn) in auth.items()
        }
        self._smtp_methods = _BoundOnUse(self, commands)  # type: ignore[assignment]  # read as a Mapping

    def _remember_as_template(self, handler) -> None:
        probe = asyncio.StreamReaderProtocol.__new__(asyncio.StreamReaderProtocol)
        asyncio.StreamReaderProtocol.__init__(
            probe,
            asyncio.StreamReader(loop=self.loop),
            client_connected_cb=lambda reader, writer: None,
            loop=self.loop,
        )
        own = set(probe.__dict__) | set(PER_CONNECTION) | {"_auth_methods", "_smtp_methods"}
        settings = {k: v for k, v in self.__dict__.items() if k not in own}
        auth = {  # a built-in mechanism is a bound method of this connection: its function is kept
            name: (attr, attr.method.__func__ if attr.is_builtin else attr.method)  # type: ignore[attr-defined]
            for name, attr in self._auth_methods.items()
        }
        commands = {name: method.__func__ for name, method in self._smtp_methods.items()}
        self._templates[id(handler)] = (settings, auth, commands)

    def _getaddr(self, arg: str):
        """aiosmtpd parses every MAIL and RCPT address with the full header parser, a cost per command
        that the everyday `<local@domain>` does not need."""
        m = _PLAIN_ANGLE_ADDR.match(arg)
        if m is None or (
            self.local_part_limit and len(m.group(1).rpartition("@")[0]) > self.local_part_limit
        ):
            return super()._getaddr(arg)
        return m.group(1), m.group(2).lstrip()

    _held = b""  # replies that go out with the next one (assigned per connection)

    async def push(self, status):
        """One write per reply, not per line: the lines of a multi-line reply (EHLO's nine) go out together,
        and so do the 250s of pipelined commands already waiting in the buffer (RFC 2920) with the reply
        to the last of them. Anything else (a greeting, 354, 221, 334, an error) goes out at once with
        whatever was held, so nothing is held while the client waits."""
        if isinstance(status, str):
            status = _REPLIES.get(status, status).encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
        line = status + b"\r\n"
        if status[3:4] == b"-" or (status[:4] == b"250 " and b"\n" in input_buffer(self)):
            self._held += line
            return
        if self._held:
            line, self._held = self._held + line, b""
        self._writer.write(line)
        await self._writer.drain()

    def connection_lost(self, error: Exception | None) -> None:
        closed = getattr(self.event_handler, "connection_closed", None)
        if closed is not None and self.session is not None:
            closed(self.session)
        super().connection_lost(error)

    async def _read_data(self) -> tuple[bytes | None, bool]:
        """(message bytes, too big) for a DATA section; None when the connection went away.

        Reads whatever has arrived (up to 256 KiB at a time) and looks for CRLF.CRLF only in the new
        part; bytes after the terminator (pipelined commands) go back to the reader.
        """
        limit = self.data_size_limit or 0
        reader = self._reader
        buf = bytearray(b"\r\n")  # the CRLF that ended the DATA command: a first line "." ends the message
        scanned = 0
        too_big = False
        while (end := dots.find_end(buf, max(scanned - 4, 0))) < 0:
            if too_big:  # past the limit: keep only the bytes the terminator could straddle
                del buf[:-4]
            scanned = len(buf)
            try:
                chunk = await reader.read(262_144)
            except (asyncio.CancelledError, ConnectionError):
                return None, too_big
            if not chunk:
                return None, too_big
            buf += chunk
            if limit and len(buf) - 2 > limit:
                too_big = True
        rest = bytes(buf[end + len(dots.END) :])
        if rest:
            push_back(self, rest)  # pipelined commands that followed the dot
        if too_big:
            return b"", True
        data = bytes(buf[2 : end + 2])
        if data.startswith(b".."):
            data = data[1:]
        return dots.unstuff(data), False

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None and self.session is not None  # set when the connection opened
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data, too_big = await self._read_data()
        if data is None:
            log.info("%r connection lost during DATA", self.session.peer)
            self._writer.close()
            return
        if too_big:
            await self.push("552 5.3.4 Message size exceeds fixed maximum message size")
            self._set_post_data_state()
            return
        self.envelope.content = self.envelope.original_content = data
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)
