"""The SMTP door: aiosmtpd's hooks, each a translation between SMTP and the email engine
(gateway/mail/engine.py), which decides everything about the mail. The door knows who the client is
(AUTH, or a trusted network), keeps aiosmtpd's envelope in step with what the engine accepted, counts
open transactions for an orderly stop, and writes the engine's `Action` as a reply line.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time

from aiosmtpd.smtp import TLSSetupException

from ..addresses import is_mailbox
from ..config import Config
from ..credentials import Credentials
from ..mail.actions import Action
from ..mail.engine import Client, EmailEngine, MailTransaction
from .auth import LoginMethods
from .limits import TOO_MANY_RECIPIENTS
from .private import pipelined_recipients

log = logging.getLogger("gateway.smtp")

NEED_MAIL = "503 5.5.1 Error: need MAIL command"
NEED_RCPT = "503 5.5.1 Error: need RCPT command"
MAX_REPLY = 512  # RFC 5321 4.5.3.1.5: a reply line, code and CRLF included
# EHLO/HELO names a domain or an address literal (RFC 5321 4.1.4); printable, one word, at most 255
_HELO_NAME = re.compile(r"[\x21-\x7e]{1,255}")
# RFC 6531 3.4: a non-ASCII address travels only in a transaction that announced SMTPUTF8
BAD_SENDER = "501 5.1.7 The reverse-path is not a mailbox (RFC 5321 4.1.2): <local-part@domain> or <>"
NEEDS_SMTPUTF8 = "553 5.6.7 Non-ASCII address without SMTPUTF8 on MAIL FROM (RFC 6531)"
BAD_HELO = "501 5.5.2 Syntax: EHLO hostname (a domain or an address literal, printable, one word)"


def _needs_smtputf8(address: str) -> bool:
    """UTF-8 beyond ASCII (bytes that are not UTF-8 at all are the engine's to refuse: 501)."""
    return not address.isascii() and not any("\udc80" <= c <= "\udcff" for c in address)


def reply(action: Action) -> str:
    """The engine's action as one reply line: whitespace (a quoted subject's line breaks) made single
    spaces, and cut to the octets RFC 5321 allows (the engine keeps its refusals within them already)."""
    line = " ".join(action.line().split())
    if not line.isascii():  # (an upstream's reply that was not UTF-8 reaches here as lone surrogates)
        line = line.encode("ascii", "backslashreplace").decode("ascii")
    raw = line.encode()
    return line if len(raw) <= MAX_REPLY - 2 else raw[: MAX_REPLY - 5].decode(errors="ignore") + "..."


class GatewayHandler(LoginMethods):
    def __init__(self, config: Config, engine: EmailEngine, credentials: Credentials, metrics=None) -> None:
        self.credentials = credentials
        self.config = config
        self.engine = engine
        self.metrics = metrics
        self.trusted = config.smtp.trusted_networks
        self._trusted_hosts: dict[str, bool] = {}
        self.trusted_sender = config.smtp.trusted_sender or (
            next(iter(config.senders)) if len(config.senders) == 1 else None
        )
        self.open_transactions = 0

    # -- who is sending ----------------------------------------------------------------------------------

    def _client(self, session) -> Client:
        if session.authenticated:
            sender = session.auth_data
        elif self._peer_trusted(session) and self.trusted_sender:
            sender = self.trusted_sender
        else:
            sender = None  # may still write to the gateway's own addresses (opt-outs, bounces, complaints)
        return Client(
            sender=sender,
            peer=session.peer[0] if session.peer else None,
            helo=session.host_name,
            tls=bool(session.ssl),
            authenticated=bool(session.authenticated),
        )

    def _peer_trusted(self, session) -> bool:
        if not self.trusted or not session.peer:
            return False
        return self._host_trusted(session.peer[0])

    def _host_trusted(self, host: str) -> bool:
        """Whether the address is in trusted_networks; remembered for the last 1,024 client addresses (a
        marketing tool sends from a handful, on a new connection per message)."""
        known = self._trusted_hosts.get(host)
        if known is None:
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                return False
            known = any(ip in net for net in self.trusted)
            if len(self._trusted_hosts) >= 1024:
                self._trusted_hosts.clear()
            self._trusted_hosts[host] = known
        return known

    # -- transactions --------------------------------------------------------------------------------------

    async def _end(self, session) -> None:
        tx: MailTransaction | None = getattr(session, "gateway", None)
        session.gateway = None
        if tx is not None:
            self.open_transactions -= 1
            await self.engine.end(tx)

    def connection_closed(self, session) -> None:
        tx: MailTransaction | None = getattr(session, "gateway", None)
        if tx is not None:
            session.gateway = None
            self.open_transactions -= 1
            asyncio.get_running_loop().create_task(_quietly(self.engine.end(tx)))

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd's last resort: a client gone mid-command is routine; anything else is a bug, and the
        client is told to retry rather than to give up."""
        if isinstance(error, (asyncio.IncompleteReadError, ConnectionError)):
            log.info("client connection lost: %s", type(error).__name__)
            return "421 4.4.2 Connection lost"
        if isinstance(error, TLSSetupException):  # a client that gave up on (or garbled) the handshake
            cause = error.__cause__
            log.info("TLS handshake failed: %s", type(cause).__name__ if cause else "no reason given")
            return "421 4.7.0 TLS handshake failed"
        log.exception("unexpected error in SMTP session")
        return "451 4.3.0 Internal error, try again later"

    def _vouches(self, session, mailbox: str) -> bool:
        """RFC 4954 5: the submitter a client names is passed on only when the gateway trusts it: the client
        logged in, and the mailbox is at one of its sender's domains."""
        if not session.authenticated or mailbox == "<>":
            return False
        decoded = re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), mailbox)
        return self.config.sender(session.auth_data).settings.owns_domain(decoded.rpartition("@")[2])

    # -- hooks ---------------------------------------------------------------------------------------------

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if not _HELO_NAME.fullmatch(hostname):
            return [BAD_HELO]  # and no host name: MAIL still needs a good EHLO
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def handle_HELO(self, server, session, envelope, hostname):
        if not _HELO_NAME.fullmatch(hostname):
            return BAD_HELO
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await self._end(session)
        if _needs_smtputf8(address) and "SMTPUTF8" not in mail_options:
            return NEEDS_SMTPUTF8
        given = getattr(server, "mail_auth", None)  # RFC 4954 5: passed on only when the gateway vouches
        if given is not None:
            mail_options = [*mail_options, f"AUTH={given if self._vouches(session, given) else '<>'}"]
        # the null reverse-path (bounces, auto-replies: RFC 5321 4.5.5) is "" from here on, so it goes
        # upstream as MAIL FROM:<> and is never given a return path or a notice (aiosmtpd reads it "<>")
        sender = "" if address == "<>" else address
        if sender and not is_mailbox(sender):  # what aiosmtpd's parser made of a path that is none
            return BAD_SENDER
        action, session.gateway = self.engine.mail(self._client(session), sender, mail_options)
        if session.gateway is None:
            return reply(action)
        self.open_transactions += 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return reply(action)

    async def handle_RSET(self, server, session, envelope):
        await self._end(session)
        return "250 2.0.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        tx: MailTransaction | None = getattr(session, "gateway", None)
        if tx is None:
            return NEED_MAIL
        if len(envelope.rcpt_tos) >= self.config.smtp.max_recipients:
            return TOO_MANY_RECIPIENTS
        if _needs_smtputf8(address) and not envelope.smtp_utf8:
            return NEEDS_SMTPUTF8
        if not envelope.rcpt_tos:  # the first RCPT: the facts of every recipient already sent, at once
            ahead = pipelined_recipients(server)
            if ahead:
                await self.engine.expect(tx, [address, *ahead])
        action = await self.engine.recipient(tx, address, rcpt_options)
        if action.accepted:
            envelope.rcpt_tos.append(address)
        return reply(action)

    async def handle_DATA(self, server, session, envelope):
        tx: MailTransaction | None = getattr(session, "gateway", None)
        if tx is None:
            return NEED_RCPT
        session.gateway = None  # the engine ends it, whatever happens (a lost connection included)
        start = time.perf_counter()
        line = "451"
        try:
            line = reply(await self.engine.message(tx, envelope.original_content))
            return line
        finally:
            self.open_transactions -= 1  # counted until it is over: a stop waits for it
            if self.metrics is not None:
                self.metrics.smtp_seconds.labels(line[:3]).observe(time.perf_counter() - start)


async def _quietly(coro) -> None:
    try:
        await coro
    except Exception as exc:  # the client is gone; the upstream side is only being tidied
        log.debug("while aborting an upstream transaction: %s", exc)
