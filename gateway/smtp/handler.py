"""The SMTP door: aiosmtpd hooks that turn SMTP into pipeline calls and verdicts into reply codes.

MAIL   — only authenticated clients or trusted networks (530 5.7.0 otherwise).
RCPT   — recipient rules per address (550 5.7.1 <addr> rejected: CODE (why)); the accepted recipient is
         then asked of the upstream in the same transaction, whose answer is the client's answer.
DATA   — content rules once per message; refused (550 5.7.1 Rejected: ...) or relayed with the gateway's
         headers; 250 only after the upstream accepted and the decisions are durable.
Store unreachable: 451 4.3.0. Upstream unreachable or slow: 451 4.4.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache

from ..addresses import normalize_email
from ..config import Config
from ..content.mime import parse_email
from ..decisions import DecisionLog
from ..model import Category, Channel, Decision, RecipientFacts, Verdict, Violation
from ..pipeline import Pipeline
from ..policy import envelope_violations
from ..store import Store, StoreError, new_id
from .headers import rewrite
from .inbound import own_mailbox, read_inbound
from .relay import Relay, Transaction, UpstreamRefused, UpstreamUnavailable
from .signing import DkimSigners
from .unsubscribe import list_unsubscribe_headers

log = logging.getLogger("gateway.smtp")

_ENHANCED = re.compile(r"^\d\.\d{1,3}\.\d{1,3}\s+")
STORE_DOWN = "451 4.3.0 Compliance store unavailable, try again later"
UPSTREAM_DOWN = "451 4.4.1 Upstream unavailable, try again later"


@dataclass
class Pending:
    """One client transaction: its sender, the recipients accepted so far, and the upstream side."""

    sender: str | None  # None: not authenticated, so only mail to the gateway's own addresses
    mail_from: str
    upstream: Transaction | None = None
    inbound: list[tuple[str, str | None]] = field(default_factory=list)  # own mailboxes named (kind, tag)
    facts: dict[str, RecipientFacts] = field(default_factory=dict)
    noted: dict[str, tuple[Violation, ...]] = field(default_factory=dict)  # monitor mode: let through
    accepted: list[str] = field(default_factory=list)


def _why(violations: tuple[Violation, ...] | list[Violation]) -> str:
    return "; ".join(f"{v.code} ({v.message})" for v in violations)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class GatewayHandler:
    def __init__(
        self,
        config: Config,
        store: Store,
        relay: Relay,
        decisions: DecisionLog,
        unsubscribe,
        metrics=None,
        dkim: DkimSigners | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.dkim = dkim
        self.store = store
        self.relay = relay
        self.decisions = decisions
        self.unsubscribe = unsubscribe  # TokenSigner
        self.pipeline = Pipeline(config, store)
        self.trusted = config.smtp.trusted_networks
        self._trusted_hosts: dict[str, bool] = {}
        self.trusted_sender = config.smtp.trusted_sender or (
            next(iter(config.senders)) if len(config.senders) == 1 else None
        )
        self.open_transactions = 0

    # -- session bookkeeping ----------------------------------------------------------------------------

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

    async def _end(self, session, *, abort: bool) -> None:
        pending: Pending | None = getattr(session, "gateway", None)
        session.gateway = None
        if pending is None:
            return
        self.open_transactions -= 1
        if abort and pending.upstream is not None:
            try:
                await pending.upstream.abort()
            except UpstreamUnavailable:
                pass

    def connection_closed(self, session) -> None:
        pending: Pending | None = getattr(session, "gateway", None)
        if pending is not None:
            session.gateway = None
            self.open_transactions -= 1
            if pending.upstream is not None:
                asyncio.get_running_loop().create_task(_quietly(pending.upstream.abort()))

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd's last resort: a client gone mid-command is routine; anything else is a bug, and the
        client is told to retry rather than to give up."""
        if isinstance(error, (asyncio.IncompleteReadError, ConnectionError)):
            log.info("client connection lost: %s", type(error).__name__)
            return "421 4.4.2 Connection lost"
        log.exception("unexpected error in SMTP session")
        return "451 4.3.0 Internal error, try again later"

    # -- hooks ------------------------------------------------------------------------------------------

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING", "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if session.authenticated:
            sender = session.auth_data
        elif self._peer_trusted(session) and self.trusted_sender:
            sender = self.trusted_sender
        else:
            sender = None  # may still write to the gateway's own addresses (opt-outs, bounces, complaints)
        await self._end(session, abort=True)
        session.gateway = Pending(sender=sender, mail_from=address)
        self.open_transactions += 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RSET(self, server, session, envelope):
        await self._end(session, abort=True)
        return "250 2.0.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        pending: Pending | None = getattr(session, "gateway", None)
        if pending is None:
            return "503 5.5.1 Error: need MAIL command"
        mailbox = own_mailbox(self.config, address)
        if mailbox is not None or pending.inbound:
            if mailbox is None or pending.accepted:
                return (
                    "452 4.5.3 Mail to the gateway's own addresses goes in a transaction of its own: send the "
                    "other recipients in another"
                )
            pending.inbound.append(mailbox)
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        if pending.sender is None:
            return "530 5.7.0 Authentication required"
        sender = self.config.senders[pending.sender].settings
        if pending.accepted and self._one_recipient_per_message(sender):
            return (
                "452 4.5.3 One recipient per message for marketing mail (each gets its own unsubscribe "
                "link): send the others in another transaction"
            )
        recipient = normalize_email(address)
        now = datetime.now(UTC)
        try:
            facts = (await self.store.facts(Channel.EMAIL, pending.sender, [recipient], now))[recipient]
        except StoreError as exc:
            log.error("store unavailable at RCPT: %s", exc)
            return STORE_DOWN
        found = envelope_violations(Channel.EMAIL, facts, sender.category, sender, self.config.policy, now)
        monitoring = self.config.mode_for(pending.sender).value == "monitor"
        if found and not monitoring:
            self._record_soon(pending, recipient, sender.category, Verdict.REJECTED, found, "", 0, "")
            return _one_line(f"550 5.7.1 <{address}> rejected: {_why(found)}")
        if pending.upstream is None:
            try:
                pending.upstream = await self.relay.begin(pending.mail_from, list(envelope.mail_options))
            except UpstreamUnavailable as exc:
                log.warning("upstream unavailable at MAIL: %s", exc)
                return UPSTREAM_DOWN
            except UpstreamRefused as exc:
                return _one_line(exc.reply.line())
        try:
            reply = await pending.upstream.add_recipient(address, rcpt_options)
        except UpstreamUnavailable as exc:
            log.warning("upstream unavailable at RCPT: %s", exc)
            pending.upstream = None
            return UPSTREAM_DOWN
        if not reply.ok:
            self._record_soon(pending, recipient, sender.category, Verdict.FAILED, (), "", 0, reply.line())
            return _one_line(reply.line())
        pending.facts[recipient] = facts
        pending.noted[recipient] = found
        pending.accepted.append(recipient)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        pending: Pending | None = getattr(session, "gateway", None)
        if pending is not None and pending.inbound:
            try:
                return await self._take_inbound(pending, envelope.original_content)
            finally:
                await self._end(session, abort=False)
        if pending is None or pending.upstream is None:
            return "503 5.5.1 Error: need RCPT command"
        start = time.perf_counter()
        reply = "451"
        try:
            reply = await self._deliver(session, pending, envelope.original_content)
            return reply
        finally:
            await self._end(session, abort=False)
            if self.metrics is not None:
                self.metrics.smtp_seconds.labels(reply[:3]).observe(time.perf_counter() - start)

    # -- DATA ---------------------------------------------------------------------------------------------

    async def _take_inbound(self, pending: Pending, raw: bytes) -> str:
        """Mail to the gateway's own addresses: read for opt-outs, bounces and complaints, stored, never
        relayed. 250 only once what it asked for is in the store."""
        try:
            found = read_inbound(raw, pending.inbound, self.config, self.unsubscribe, datetime.now(UTC))
        except Exception:  # malformed beyond what the stdlib parser forgives: keep it out of the store
            log.warning("inbound mail from %s could not be read", pending.mail_from, exc_info=True)
            return "250 2.0.0 Received"
        try:
            added = [await self.store.add_suppression(entry) for entry in found.suppressions]
        except StoreError as exc:
            log.error("store unavailable for inbound mail: %s", exc)
            return STORE_DOWN
        log.info("inbound %s: %d suppression(s), %d new", found.kind, len(added), sum(added))
        return f"250 2.0.0 Received: {found.kind}"

    def _one_recipient_per_message(self, sender) -> bool:
        return sender.category is Category.MARKETING and self.config.smtp.add_list_unsubscribe

    async def _deliver(self, session, pending: Pending, raw: bytes) -> str:
        now = datetime.now(UTC)
        content = parse_email(raw)
        evaluation = self.pipeline.judge_email(
            pending.sender, content, pending.accepted, pending.facts, now
        ).evaluation
        monitoring = self.config.mode_for(pending.sender).value == "monitor"
        found = list(evaluation.violations)
        for recipient in pending.accepted:
            found.extend(v for v in pending.noted.get(recipient, ()) if v not in found)
        excerpt = content.subject[:200]
        if found and not monitoring:
            await pending.upstream.abort()
            for recipient in pending.accepted:
                self._record_soon(
                    pending,
                    recipient,
                    evaluation.category,
                    Verdict.REJECTED,
                    tuple(found),
                    excerpt,
                    len(raw),
                    "",
                )
            return _one_line("550 5.7.1 Rejected: " + "; ".join(f"{v.code}: {v.message}" for v in found))

        added = [("Received", self._received(session, pending, now))]
        if (
            evaluation.category is Category.MARKETING
            and content.list_unsubscribe is None
            and self.config.smtp.add_list_unsubscribe
        ):
            added += list_unsubscribe_headers(
                self.unsubscribe, self.config, pending.sender, pending.accepted, now
            )
        if found:
            added.append(("X-Compliance-Violations", ", ".join(dict.fromkeys(v.code for v in found))))
        outgoing = rewrite(raw, added)
        if self.dkim is not None and self.dkim.signs_for(pending.sender):
            outgoing = await self.dkim.sign(pending.sender, outgoing)  # last: it covers the added headers
        try:
            reply = await pending.upstream.send(outgoing)
        except UpstreamUnavailable as exc:
            log.warning("upstream unavailable at DATA: %s", exc)
            for recipient in pending.accepted:
                self._record_soon(
                    pending,
                    recipient,
                    evaluation.category,
                    Verdict.FAILED,
                    tuple(found),
                    excerpt,
                    len(raw),
                    f"unavailable: {exc}",
                )
            return UPSTREAM_DOWN
        if not reply.ok:
            for recipient in pending.accepted:
                self._record_soon(
                    pending,
                    recipient,
                    evaluation.category,
                    Verdict.FAILED,
                    tuple(found),
                    excerpt,
                    len(raw),
                    reply.line(),
                )
            return _one_line(reply.line())
        verdict = Verdict.MONITORED if found else Verdict.RELAYED
        decisions = [
            self._decision(
                pending, r, evaluation.category, verdict, tuple(found), excerpt, len(raw), reply.line(), now
            )
            for r in pending.accepted
        ]
        await self.decisions.record(decisions)  # durable before the client hears 250
        return _one_line(f"250 2.0.0 Accepted upstream: {_ENHANCED.sub('', reply.text, count=1)}")

    def _received(self, session, pending: Pending, now: datetime) -> str:
        peer = session.peer[0] if session.peer else "unknown"
        helo = session.host_name or "unknown"
        proto = "ESMTP" + ("S" if session.ssl else "") + ("A" if session.authenticated else "")
        target = f"\r\n\tfor <{pending.accepted[0]}>" if len(pending.accepted) == 1 else ""
        return (
            f"from {helo} ([{peer}])\r\n\tby {self.config.smtp.hostname} (compliance-gateway) with {proto}"
            f" id {new_id()}{target};\r\n\t{_received_date(int(now.timestamp()))}"
        )

    # -- decisions ------------------------------------------------------------------------------------------

    def _decision(
        self,
        pending: Pending,
        recipient: str,
        category: Category,
        verdict: Verdict,
        violations: tuple[Violation, ...],
        excerpt: str,
        size: int,
        upstream: str,
        at: datetime | None = None,
    ) -> Decision:
        mine = tuple(v for v in violations if v.recipient in (None, recipient))
        return Decision(
            new_id(),
            at or datetime.now(UTC),
            Channel.EMAIL,
            pending.sender,
            recipient,
            category,
            verdict,
            mine,
            excerpt,
            size,
            upstream,
        )

    def _record_soon(
        self,
        pending: Pending,
        recipient: str,
        category: Category,
        verdict: Verdict,
        violations: tuple[Violation, ...],
        excerpt: str,
        size: int,
        upstream: str,
    ) -> None:
        self.decisions.record_soon(
            [self._decision(pending, recipient, category, verdict, violations, excerpt, size, upstream)]
        )


@lru_cache(maxsize=4)
def _received_date(second: int) -> str:
    """RFC 5322's date, as format_datetime writes it for UTC: the same for every message of that second."""
    return format_datetime(datetime.fromtimestamp(second, UTC))


async def _quietly(coro) -> None:
    try:
        await coro
    except Exception as exc:  # the client is gone; the upstream side is only being tidied
        log.debug("while aborting an upstream transaction: %s", exc)
