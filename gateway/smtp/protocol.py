"""aiosmtpd's SMTP protocol, mended where it holds a gateway back (the private parts of aiosmtpd this
takes are named in private.py).

- DATA is read in large chunks up to the terminating CRLF.CRLF and un-dot-stuffed in one pass, instead
  of one `readuntil` and one list append per line.
- Replies aiosmtpd words without enhanced status codes get them (552 5.3.4 for size).
- A reply is one write, not one per line, and pipelined commands' replies go out together.
- Each connection tells the handler when it goes away, so an open upstream transaction is rolled back.
- Limits (limits.py): connections in all and per client, session time, commands per session, idle time
  (which NOOP and the like do not reset), DATA time in all and without a byte; each with a 421 that says
  which, before the connection is closed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Mapping
from typing import ClassVar

from aiosmtpd.smtp import MISSING, SMTP, syntax

from . import dots, limits
from .limits import SessionLimits
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
_AUTH_PARAM = re.compile(r"(?<!\S)AUTH=(\S*)", re.IGNORECASE)  # a MAIL FROM parameter (RFC 4954 5)
_XTEXT = re.compile(r"<>|(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-Fa-f]{2}){1,500}")  # RFC 3461 4


_NOT_ACTIVITY = frozenset({"NOOP", "RSET", "HELP", "VRFY", "EXPN"})  # they do not reset the idle clock


class _BoundOnUse(Mapping):
    """The command methods of one connection, bound when a command asks for one: binding the twenty-odd
    of them up front cost every connection, most of which use six."""

    __slots__ = ("_functions", "_owner")

    def __init__(self, owner, functions: dict) -> None:
        self._owner, self._functions = owner, functions

    def __getitem__(self, name: str):
        return self._owner._limited(name, self._functions[name].__get__(self._owner))

    def __iter__(self):
        return iter(self._functions)

    def items(self):  # HELP's list of commands: not a command each
        return [(name, function.__get__(self._owner)) for name, function in self._functions.items()]

    def __len__(self) -> int:
        return len(self._functions)


def _path_end(arg: str) -> int:
    """Where MAIL FROM's reverse-path ends (its ">"): after a quoted local part, when the path holds one
    (`<"x> AUTH=<>"@example.com>` is one address); -1 when it has none. A quote anywhere else is no
    quoted-string (RFC 5321 4.1.2): `<a"b@x> AUTH=... X="y>` ends at its first ">"."""
    start = arg.find("<")
    if start < 0:
        return -1
    at = start + 1
    if arg[at : at + 1] == '"':
        at += 1
        escaped = False
        while at < len(arg) and (escaped or arg[at] != '"'):
            escaped = not escaped and arg[at] == "\\"
            at += 1
        at += 1
    return arg.find(">", at)


class GatewaySMTP(SMTP):
    """One instance per connection, like aiosmtpd's, without its per-connection reflection.

    SMTP.__init__ scans the handler and itself with inspect.getmembers() and dir() on every connection.
    The first connection of a handler runs it and becomes the template; later ones copy its settings,
    bind their own methods and start from fresh per-connection state.
    """

    _templates: ClassVar[dict[tuple[int, bool], tuple[dict, dict, dict]]] = {}
    # the state of a session's limits, set when it is admitted (_handle_client)
    _admitted: str | None = None  # the client address it is counted under
    _started = 0.0
    _active_at = 0.0  # when the last command that does something came
    _commands = 0

    def __init__(self, handler, *, limits: SessionLimits, implicit_tls: bool = False, **kwargs) -> None:
        key = (id(handler), implicit_tls)  # the smtps listener's connections have settings of their own
        template = self._templates.get(key)
        if template is None:
            super().__init__(handler, timeout=limits.idle, **kwargs)
            self._remember_as_template(key)
            self._smtp_methods = _BoundOnUse(self, self._templates[key][2])  # type: ignore[assignment]
            self.limits = limits
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
        self.limits = limits

    def _remember_as_template(self, key: tuple[int, bool]) -> None:
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
        self._templates[key] = (settings, auth, commands)

    def _getaddr(self, arg: str):
        """aiosmtpd parses every MAIL and RCPT address with the full header parser, a cost per command
        that the everyday `<local@domain>` does not need."""
        m = _PLAIN_ANGLE_ADDR.match(arg)
        if m is None or (
            self.local_part_limit and len(m.group(1).rpartition("@")[0]) > self.local_part_limit
        ):
            return super()._getaddr(arg)
        return m.group(1), m.group(2).lstrip()

    async def smtp_MAIL(self, arg: str) -> None:
        """RFC 4954 5: `AUTH=<mailbox>` (or `AUTH=<>`) on MAIL FROM belongs to the AUTH extension offered in
        EHLO; aiosmtpd refuses it with 555, so it is taken off here (case kept, as xtext is) and the
        handler decides what goes upstream (`mail_auth`)."""
        self.mail_auth = None
        if self.session is not None:
            close = _path_end(arg or "")
            found = _AUTH_PARAM.search(arg or "", close + 1 if close >= 0 else 0)
            if found is not None and self.session.extended_smtp:
                if not _XTEXT.fullmatch(found.group(1)):
                    await self.push("501 5.5.4 Syntax: AUTH=<> or AUTH=mailbox (RFC 4954, xtext)")
                    return
                self.mail_auth = found.group(1)
                arg = arg[: found.start()] + arg[found.end() :]
        await super().smtp_MAIL(arg)

    async def smtp_STARTTLS(self, arg: str) -> None:
        """RFC 3207 4.2: a client MUST NOT start TLS twice; aiosmtpd would nest a second handshake inside
        the first (and its close then fails inside asyncio)."""
        if self.session is not None and self.session.ssl is not None:
            await self.push("503 5.5.1 TLS already active")
            return
        await super().smtp_STARTTLS(arg)

    async def challenge_auth(self, challenge, encode_to_b64=True, log_client_response=False):
        """An AUTH answer longer than a line may be (RFC 4954 4: the client's line, as any command's) is a
        500, not an internal error: aiosmtpd's readline raises ValueError on it."""
        try:
            return await super().challenge_auth(challenge, encode_to_b64, log_client_response)
        except ValueError:  # (asyncio.LimitOverrunError, as StreamReader.readline raises it)
            await self.push("500 5.5.6 Line too long: authentication aborted")
            return MISSING

    _held = b""  # replies that go out with the next one (assigned per connection)
    mail_auth: str | None = None  # the last MAIL FROM's AUTH= parameter, as the client wrote it

    async def push(self, status):
        """One write per reply, not per line: the lines of a multi-line reply (EHLO's nine) go out together,
        and so do the 250s of pipelined commands already waiting in the buffer (RFC 2920) with the reply
        to the last of them. Anything else (a greeting, 354, 221, 334, an error) goes out at once with
        whatever was held, so nothing is held while the client waits."""
        if isinstance(status, str):  # replies are ASCII (RFC 5321 2.4): a quoted subject's "ö" as \xf6
            status = _REPLIES.get(status, status).encode("ascii", "backslashreplace")
        line = status + b"\r\n"
        if status[3:4] == b"-" or (status[:4] == b"250 " and b"\n" in input_buffer(self)):
            self._held += line
            return
        if self._held:
            line, self._held = self._held + line, b""
        self._writer.write(line)
        await self._writer.drain()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        before = self.session
        super().connection_made(transport)
        if before is None and self.session is not None and transport.get_extra_info("ssl_object") is not None:
            self.session.ssl = transport.get_extra_info("peercert") or {
                "implicit": True
            }  # smtps: TLS already
        if before is not None and self.session is not before:  # STARTTLS: the client starts over (RFC
            closed = getattr(self.event_handler, "connection_closed", None)  # 3207 4.2), so does its
            if closed is not None:  # transaction: the one open is rolled back, its upstream slot freed
                closed(before)

    def connection_lost(self, error: Exception | None) -> None:
        if self._admitted is not None:
            self.limits.connections.leave(self._admitted)
            self._admitted = None
        closed = getattr(self.event_handler, "connection_closed", None)
        if closed is not None and self.session is not None:
            closed(self.session)
        super().connection_lost(error)

    # -- limits --------------------------------------------------------------------------------------------

    async def _handle_client(self) -> None:
        host = self.session.peer[0] if self.session is not None and self.session.peer else ""
        refusal = self.limits.connections.admit(host)
        if refusal is not None:
            log.warning("%s refused: %s", host, refusal)
            self.close_with(refusal)
            return
        self._admitted = host
        self._started = self._active_at = self.loop.time()
        await super()._handle_client()

    def close_with(self, text: str) -> None:
        """421 and the connection closed (the handler is told, and rolls back an open transaction)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            # replies held for pipelining go first (a 250 for a message relayed must reach the client);
            # (uvloop's transports are not asyncio.WriteTransport subclasses, but write all the same)
            held, self._held = self._held, b""
            transport.write(held + f"421 {text}\r\n".encode())  # type: ignore[attr-defined]
            transport.close()

    def _limited(self, name: str, method):
        """The command's method, as aiosmtpd is about to run it; in its stead, past a limit, a 421 and the
        end of the session. QUIT always goes."""
        if name == "QUIT":
            return method
        self._commands += 1
        if self._commands > self.limits.commands:
            return self._ending(method, limits.TOO_MANY_COMMANDS)
        now = self.loop.time()
        if now - self._started > self.limits.session:
            return self._ending(method, limits.TOO_LONG)
        if name in _NOT_ACTIVITY:
            return self._idling(method)
        self._active_at = now
        return method

    def _ending(self, method, text: str):
        @functools.wraps(method)  # HELP reads a method's docstring
        async def over(arg: str | None) -> None:
            log.warning("%r: %s", self.session.peer if self.session else None, text)
            self.close_with(text)

        return over

    def _idling(self, method):
        @functools.wraps(method)
        async def idling(arg: str | None) -> None:
            # aiosmtpd has just restarted the idle clock for this command: it runs on from the last one
            self._reset_timeout(max(self._active_at + self.limits.idle - self.loop.time(), 0.001))
            await method(arg)

        return idling

    def _timeout_cb(self) -> None:
        log.info("%r: %s", self.session.peer if self.session else None, limits.TIMEOUT)
        self.close_with(limits.TIMEOUT)

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
        deadline = self.loop.time() + self.limits.data  # the whole section, however it trickles in
        while (end := dots.find_end(buf, max(scanned - 4, 0))) < 0:
            if too_big:  # past the limit: keep only the bytes the terminator could straddle
                del buf[:-4]
            scanned = len(buf)
            self._reset_timeout(max(min(self.limits.data_idle, deadline - self.loop.time()), 0.001))
            try:
                chunk = await reader.read(262_144)
            except (asyncio.CancelledError, ConnectionError):
                return None, too_big
            if not chunk:
                return None, too_big
            buf += chunk
            if limit and len(buf) - 2 > limit:
                too_big = True
        self._reset_timeout()  # the idle clock again, for what comes after the message
        self._active_at = self.loop.time()
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
        if self._timeout_handle is not None:  # the client waits for the gateway now, not the reverse (a
            self._timeout_handle.cancel()  # fan-out may take minutes): the idle clock stops meanwhile
        status = await self._call_handler_hook("DATA")
        self._reset_timeout()
        self._active_at = self.loop.time()
        self._set_post_data_state()
        await self.push(status)
