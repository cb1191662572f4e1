"""The SMTP upstream: accepted mail relayed through a bounded pool of reused, authenticated connections
(aiosmtplib), one upstream transaction per client transaction (see gateway/mail/upstream.py)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiosmtplib

from ..mail import lineends
from ..mail.upstream import OutcomeUnknown, Reply, Transaction, UpstreamRefused, UpstreamUnavailable
from . import dots
from .private import command_protocol, unread_bytes


@dataclass(frozen=True)
class UpstreamSettings:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool | None  # None: when offered
    username: str | None
    password: str | None
    timeout: float
    pool_size: int
    local_hostname: str
    verify_tls: bool = True
    data_timeout: float = 600.0  # the final dot's answer (RFC 5321 4.5.3.2.6: ten minutes)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        password: str | None,
        timeout: float,
        pool_size: int,
        local_hostname: str,
        verify_tls: bool = True,
        data_timeout: float = 600.0,
    ) -> UpstreamSettings:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            starttls=False if implicit else None,
            username=unquote(parts.username) if parts.username else None,
            password=password,
            timeout=timeout,
            pool_size=pool_size,
            local_hostname=local_hostname,
            verify_tls=verify_tls,
            data_timeout=data_timeout,
        )


class SmtpTransaction:
    def __init__(self, relay: SmtpRelay, client: aiosmtplib.SMTP) -> None:
        self.relay, self.client, self.done = relay, client, False

    async def _guard(self, call):
        try:
            return await call
        except _FinalUnread as exc:
            await self._finish(broken=True)
            raise OutcomeUnknown(str(exc)) from None
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code <= 599 and exc.code != 421:
                return Reply(exc.code, exc.message)
            # 421 (the upstream closes), or no reply SMTP has at that step (a 250 to DATA, a 354 or 999 to
            # RCPT, a line it cannot read): the client hears the upstream is unavailable, never that code
            await self._finish(broken=True)
            raise UpstreamUnavailable(f"upstream answered {exc.code} {exc.message}"[:300]) from None
        except Exception as exc:  # a lost or slow upstream, or anything aiosmtplib raises on odd input
            await self._finish(broken=True)  # the connection's state is unknown: closed, its slot freed
            raise UpstreamUnavailable(str(exc) or type(exc).__name__) from None
        except BaseException:  # cancelled (the client left mid-command): its reply may still be on the way
            await self._finish(broken=True)
            raise

    async def add_recipient(self, address: str, options: Sequence[str]) -> Reply:
        reply = await self._guard(envelope_command(self.client, b"RCPT", b"TO:", address, options))
        return reply if isinstance(reply, Reply) else Reply(reply.code, reply.message)

    async def send(self, data: bytes) -> Reply:
        data = lineends.crlf(data)  # nothing but CRLF line ends, so only the dot-stuffed end ends DATA
        settings = self.relay.settings
        reply = await self._guard(send_data(self.client, data, settings.timeout, settings.data_timeout))
        if isinstance(reply, Reply):  # refused: the connection stays usable after RSET
            await self.abort()
            return reply
        await self._finish(broken=unread_bytes(self.client))
        return Reply(reply.code, reply.message)

    async def abort(self) -> None:
        if self.done:
            return
        try:
            await self.client.rset()
        except BaseException as exc:  # whatever went wrong (cancelled too), the slot is freed, not reused
            await self._finish(broken=True)
            if not isinstance(exc, Exception):
                raise
            return
        await self._finish(broken=False)

    async def _finish(self, broken: bool) -> None:
        if not self.done:
            self.done = True
            self.relay.release(self.client, broken)


async def envelope_command(
    client: aiosmtplib.SMTP, verb: bytes, prefix: bytes, address: str, options: Sequence[str]
) -> aiosmtplib.SMTPResponse:
    """MAIL FROM / RCPT TO as aiosmtplib's mail() and rcpt() write them, without their second parse of an
    address aiosmtpd has already parsed and checked. A reply other than 250/251 raises as theirs do."""
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    if not client.supports_extension("auth"):  # RFC 4954 5: AUTH= only to a server that offers AUTH
        options = [o for o in options if not o.upper().startswith("AUTH=")]
    response = await client.execute_command(
        verb, prefix + b"<" + address.encode("utf-8") + b">", *(option.encode("ascii") for option in options)
    )
    if response.code == 250 or (verb == b"RCPT" and response.code == 251):
        return response
    if verb == b"MAIL":
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, address)
    raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, address)


def dot_stuffed(data: bytes) -> bytes:
    """The message as DATA carries it: every line that starts with "." gets another, CRLF at the end."""
    stuffed = dots.stuff(data)
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n"


async def send_data(
    client: aiosmtplib.SMTP, data: bytes, timeout: float, final_timeout: float | None = None
) -> aiosmtplib.SMTPResponse:
    """DATA with the client's bytes as they are. aiosmtplib's own data() re-normalizes line endings and
    re-stuffs dots with two regular expressions over the whole message; the bytes relayed here are already
    lines as the client sent them. Falls back to data() if the protocol object is not shaped as expected
    (private.py names the parts used)."""
    protocol = command_protocol(client)
    if protocol is None:
        return await client.data(data)
    async with protocol._command_lock:
        protocol._response_pending = True
        protocol.write(b"DATA\r\n")
        start = await protocol.read_response(timeout=timeout)
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol._response_pending = True
        protocol.write(dot_stuffed(data) + b".\r\n")
        # the final answer may take long (the upstream's own checks): given up early, the message may be
        # delivered all the same, and the client's retry would deliver it again
        try:
            response = await protocol.read_response(timeout=max(timeout, final_timeout or timeout))
        except (aiosmtplib.SMTPException, OSError) as exc:  # OSError: the connection lost
            if isinstance(exc, aiosmtplib.SMTPResponseException) and 400 <= exc.code <= 599:
                raise
            raise _FinalUnread(f"no answer to the final dot that could be read: {exc}"[:300]) from None
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


class _FinalUnread(Exception):
    """The message went to its final dot; what came back (if anything) could not be read."""


class SmtpRelay:
    """A bounded pool of authenticated upstream connections, reused across messages."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self.settings = settings
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(settings.pool_size)
        self._tls = ssl.create_default_context()  # once: loading the CA store takes tens of milliseconds
        if not settings.verify_tls:
            self._tls.check_hostname = False
            self._tls.verify_mode = ssl.CERT_NONE

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.implicit_tls,
            start_tls=s.starttls,
            timeout=s.timeout,
            local_hostname=s.local_hostname,
            tls_context=self._tls,
        )
        await client.connect()
        if s.username and s.password is not None:
            try:
                await client.login(s.username, s.password)
            except BaseException:  # refused, or no mechanism in common: the connection goes, not kept open
                client.close()
                raise
        return client

    async def begin(self, mail_from: str, options: Sequence[str]) -> Transaction:
        try:
            async with asyncio.timeout(self.settings.timeout):  # (wait_for would run acquire() as a task)
                await self._slots.acquire()
        except TimeoutError:
            raise UpstreamUnavailable("every upstream connection is busy") from None
        for attempt in range(2):  # an idle connection the upstream has since closed: retried on a new one
            client = self._take_idle() if attempt == 0 else None
            try:
                if client is None:
                    client = await self._connect()
                await envelope_command(client, b"MAIL", b"FROM:", mail_from, options)
                return SmtpTransaction(self, client)
            except aiosmtplib.SMTPSenderRefused as exc:
                if client is not None and 400 <= exc.code <= 599 and exc.code != 421:
                    self.release(client, broken=False)
                    raise UpstreamRefused(Reply(exc.code, exc.message)) from None
                if client is not None:  # a 421 (it closes) or no SMTP reply at all: the upstream is unusable
                    self.release(client, broken=True)
                raise UpstreamUnavailable(
                    f"upstream answered MAIL with {exc.code} {exc.message}"[:300]
                ) from None
            except Exception as exc:  # unreachable, slow, or anything aiosmtplib raises on odd input
                if client is not None:
                    client.close()
                if attempt == 1 or not isinstance(exc, (aiosmtplib.SMTPServerDisconnected, ConnectionError)):
                    self._slots.release()  # never kept by a transaction that did not begin
                    raise UpstreamUnavailable(str(exc) or type(exc).__name__) from None
            except BaseException:  # cancelled while connecting or at MAIL FROM
                if client is not None:
                    client.close()
                self._slots.release()
                raise
        raise AssertionError("unreachable")

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        """The most recently used idle connection still open; those the upstream closed meanwhile (an idle
        timeout: they all go at once) are dropped on the way."""
        while self._idle:
            client = self._idle.pop()
            if client.is_connected and not unread_bytes(client):
                return client
            client.close()
        return None

    def release(self, client: aiosmtplib.SMTP, broken: bool) -> None:
        if broken or not client.is_connected:
            client.close()
        else:
            self._idle.append(client)
        self._slots.release()

    async def close(self) -> None:
        for client in self._idle:
            try:
                await asyncio.wait_for(client.quit(), 2)
            except Exception:  # closing anyway
                client.close()
        self._idle.clear()
