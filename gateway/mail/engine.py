"""The email engine: what becomes of a message at each stage of an SMTP transaction, whichever door it
came through. The SMTP door calls `mail`, `expect`, `recipient`, `message` and `end`, and turns each
`Action` into a reply; `/v1/check` and `gateway check` call `check`. The SMS engine is
gateway/sms/service.py; both ask one `Disposition` (policy/disposition.py) what becomes of a violation.

MAIL   — a transaction for the client's sender (None when unauthenticated: only mail to the gateway's own
         addresses is then taken).
RCPT   — the recipient rules for that address (its facts read at once for every recipient the client
         has already named, when it pipelines); refused (550 5.7.1 <addr> rejected: CODE (why)), or
         asked of the upstream in the same transaction, whose answer is the client's.
DATA   — the content rules once for the message; refused (550 5.7.1 Rejected: ...) or relayed with the
         gateway's headers; accepted only after the upstream accepted and the decisions are durable.
Store unreachable: 451 4.3.0. Upstream unreachable or slow: 451 4.4.1.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..addresses import normalize_email
from ..config import Config
from ..content.mime import Unparseable, parse_email
from ..lists import Lists
from ..model import Category, Channel, Decision, RecipientFacts, Verdict, Violation
from ..pipeline import EmailResult, Pipeline
from ..policy import ordered
from ..policy.disposition import Fate
from ..store import Store, StoreError, new_id
from . import lineends
from .actions import (
    BAD_RECIPIENT,
    BAD_SENDER,
    MAIL_OK,
    NEED_AUTH,
    OWN_ADDRESSES_ALONE,
    RCPT_OK,
    STORE_DOWN,
    UPSTREAM_DOWN,
    Action,
    cut,
    fitted,
)
from .evidence import detail
from .fanout import Notice, fan_out, per_recipient
from .holding import held
from .mailboxes import Mailbox, own_mailbox, return_path
from .optouts import OptOutDesk
from .optouts import Sender as OptOutSender
from .outgoing import Outgoing, regular_field_names
from .sending import Safekeeping, Sending, digest
from .upstream import Relay, Transaction, UpstreamRefused, UpstreamUnavailable

if TYPE_CHECKING:  # what delivery needs, imported where it is made (gateway serve): checks start fast
    from ..decisions import DecisionLog
    from ..tokens import TokenSigner
    from .signing import DkimSigners

log = logging.getLogger("gateway.mail")

_ENHANCED = re.compile(r"^\d\.\d{1,3}\.\d{1,3}\s+")
# in an address, even quoted: refused before the upstream sees it; so are bytes that were not UTF-8
# (aiosmtpd hands them on as lone surrogates, which no store and no upstream can take)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Client:
    """Who is sending, as the door established it."""

    sender: str | None  # the configured sender the credential (or trusted network) names; None: neither
    peer: str | None = None  # the client's address
    helo: str | None = None
    tls: bool = False
    authenticated: bool = False


@dataclass
class MailTransaction:
    """One client transaction: its envelope so far, the recipients' facts, and the upstream side."""

    client: Client
    mail_from: str
    options: tuple[str, ...]
    upstream: Transaction | None = None
    inbound: list[Mailbox] = field(default_factory=list)  # own mailboxes named
    facts: dict[str, RecipientFacts] = field(default_factory=dict)  # read for recipients named so far
    noted: dict[str, tuple[Violation, ...]] = field(default_factory=dict)  # monitor mode: let through
    accepted: list[str] = field(default_factory=list)
    lost: bool = False  # the upstream transaction went away: what it had accepted is gone with it
    message_id: str = ""  # the message's, once DATA is read
    digest: str = ""  # of its subject and body (`digest`)
    relay_id: str | None = None  # the id its relayed decision will have (named by a VERP return path)
    asked: list[tuple[str, Sequence[str]]] = field(default_factory=list)  # by earlier probes (as written)
    detail: str = ""  # what its decisions keep beyond the columns: campaign fields, evidence (evidence.py)


@dataclass(frozen=True)
class Delivery:
    """Where accepted mail goes and what is kept of it: what an engine that relays needs beyond the rules."""

    relay: Relay
    decisions: DecisionLog
    signer: TokenSigner  # unsubscribe tokens, in List-Unsubscribe and read back from mail to the gateway
    lists: Lists  # where the opt-outs in mail to the gateway's own addresses go
    dkim: DkimSigners | None = None
    keeping: Safekeeping = field(default_factory=Safekeeping)  # intents, disk reserve (none in tests)


class EmailEngine:
    """`delivery` None: an engine that only judges (`check`), as `gateway check` uses it."""

    def __init__(self, config: Config, store: Store, delivery: Delivery | None = None) -> None:
        self.config = config
        self.pipeline = Pipeline(config, store)
        self._delivery = delivery
        self._sending = Sending(config, store, delivery.decisions, delivery.keeping) if delivery else None
        self.optouts = OptOutDesk(config, store, delivery.lists, delivery.signer) if delivery else None

    @property
    def sending(self) -> Sending:
        if self._sending is None:
            raise RuntimeError("this email engine judges only: it was made without a relay")
        return self._sending

    @property
    def delivery(self) -> Delivery:
        if self._delivery is None:
            raise RuntimeError("this email engine judges only: it was made without a relay")
        return self._delivery

    # -- a dry run (HTTP /v1/check, gateway check) -------------------------------------------------------

    async def check(
        self, sender: str, raw: bytes, at: datetime, recipients: Sequence[str] | None = None
    ) -> EmailResult:
        """The verdict on a message, sent nowhere and logged nowhere; recipients default to To and Cc."""
        return await self.pipeline.check_email(sender, raw, at, recipients)

    # -- the stages of a transaction ---------------------------------------------------------------------

    def mail(
        self, client: Client, mail_from: str, options: Sequence[str]
    ) -> tuple[Action, MailTransaction | None]:
        """A transaction, or a refusal (None) for a sender address no mail system should pass on."""
        if _CONTROL.search(mail_from):
            return BAD_SENDER, None
        return MAIL_OK, MailTransaction(client, mail_from, tuple(options))

    async def expect(self, tx: MailTransaction, addresses: Sequence[str]) -> None:
        """Recipients the client has already named (pipelined RCPTs): their facts read in one batch, so
        that each RCPT finds its own at hand. Nothing is decided here; a failure leaves each RCPT to read
        (and answer) for itself."""
        sender = tx.client.sender
        if sender is None or sender not in self.config.senders:
            return
        wanted = list(
            dict.fromkeys(
                a
                for a in map(normalize_email, addresses)
                if a not in tx.facts and own_mailbox(self.config, a) is None
            )
        )
        if len(wanted) < 2:
            return
        try:
            tx.facts.update(await self.pipeline.email_facts(sender, wanted, datetime.now(UTC)))
        except StoreError as exc:
            log.debug("facts for pipelined recipients not read ahead: %s", exc)

    async def recipient(self, tx: MailTransaction, address: str, options: Sequence[str]) -> Action:
        if _CONTROL.search(address):
            return BAD_RECIPIENT
        mailbox = own_mailbox(self.config, address)
        if mailbox is not None or tx.inbound:
            if mailbox is None or tx.accepted:
                return OWN_ADDRESSES_ALONE
            tx.inbound.append(mailbox)
            return RCPT_OK
        sender = tx.client.sender
        if sender is None:
            return NEED_AUTH
        settings = self.config.sender(sender).settings
        if tx.lost:  # the recipients accepted so far are no longer upstream: the client sends it all again
            return UPSTREAM_DOWN
        recipient = normalize_email(address)
        if recipient in tx.accepted:  # named twice (any case): one copy, as an MTA merges them
            return RCPT_OK
        now = datetime.now(UTC)
        facts = tx.facts.get(recipient)
        if facts is None:
            try:
                facts = (await self.pipeline.email_facts(sender, [recipient], now))[recipient]
            except StoreError as exc:
                log.error("store unavailable at RCPT: %s", exc)
                return STORE_DOWN
        found = self.pipeline.envelope(sender, facts, now)
        if self.config.disposition(sender).fate(found) is Fate.REFUSE:
            self._record_soon(self._decision(tx, recipient, settings.category, Verdict.REJECTED, found))
            return Action(
                550, fitted(f"5.7.1 <{address}> rejected: ", [(v.code, v.message) for v in found], " (%s)")
            )
        if tx.upstream is None:
            mail_from = tx.mail_from
            if self._copy_per_recipient(settings.category) and tx.mail_from:
                tx.relay_id = new_id()  # the decision's id, named by its own return path (VERP)
                mail_from = return_path(self.delivery.signer, self.config, tx.relay_id) or mail_from
            try:
                tx.upstream = await held(
                    self.delivery.relay, mail_from, tx.options, self.config.smtp.upstream_hold_timeout
                )
            except UpstreamUnavailable as exc:
                log.warning("upstream unavailable at MAIL: %s", exc)
                return UPSTREAM_DOWN
            except UpstreamRefused as exc:
                return Action(exc.reply.code, exc.reply.text)
        copies = self._copy_per_recipient(settings.category)  # the probe only asks: each copy goes anew
        try:
            reply = await tx.upstream.add_recipient(address, options)
            if reply.code == 452 and tx.accepted and copies:
                # the upstream takes no more recipients in one transaction: ask about the rest in another
                probe, tx.upstream = tx.upstream, None
                tx.asked += list(getattr(probe, "recipients", ()))
                await probe.abort()
                tx.upstream = await held(
                    self.delivery.relay, tx.mail_from, tx.options, self.config.smtp.upstream_hold_timeout
                )
                reply = await tx.upstream.add_recipient(address, options)
        except (UpstreamUnavailable, UpstreamRefused) as exc:
            log.warning("upstream unavailable at RCPT: %s", exc)
            tx.upstream, tx.lost = None, bool(tx.accepted) and not copies  # nothing accepted: nothing lost
            return UPSTREAM_DOWN
        if not reply.ok:
            self._record_soon(
                self._decision(tx, recipient, settings.category, Verdict.FAILED, (), upstream=reply.line())
            )
            return Action(reply.code, reply.text)
        tx.facts[recipient] = facts
        tx.noted[recipient] = found
        tx.accepted.append(recipient)
        return RCPT_OK

    async def message(self, tx: MailTransaction, raw: bytes) -> Action:
        """The end of DATA. The upstream transaction is finished either way (`end`)."""
        try:
            if tx.inbound:
                return await self._take_inbound(tx, raw)
            return await self._deliver(tx, raw)
        finally:
            await self.end(tx)

    async def end(self, tx: MailTransaction) -> None:
        """The transaction is over (RSET, a new MAIL, the end of DATA, a lost connection): an upstream
        transaction still open is rolled back, so its pooled connection is free again."""
        upstream, tx.upstream = tx.upstream, None
        if upstream is not None:
            try:
                await upstream.abort()
            except UpstreamUnavailable:
                pass

    # -- DATA ----------------------------------------------------------------------------------------------

    def _copy_per_recipient(self, category: Category) -> bool:
        """Marketing mail carries its recipient's own signed unsubscribe link, so one copy per recipient."""
        return category is Category.MARKETING and self.config.smtp.add_list_unsubscribe

    async def _take_inbound(self, tx: MailTransaction, raw: bytes) -> Action:
        """Mail to the gateway's own addresses: read for opt-outs, bounces and complaints, judged by what
        the gateway issued, stored, never relayed. Accepted only once what it asked for is in the store."""
        client = tx.client
        assert self.optouts is not None
        return await self.optouts.take(OptOutSender(tx.mail_from, client.peer, client.helo), tx.inbound, raw)

    async def _deliver(self, tx: MailTransaction, raw: bytes) -> Action:
        sender = tx.client.sender
        upstream = tx.upstream
        if (
            sender is None or tx.lost or (upstream is None and len(tx.accepted) < 2)
        ):  # gone at an earlier RCPT
            return UPSTREAM_DOWN
        now = datetime.now(UTC)
        if lineends.has_bare(raw):  # what a lenient upstream could take for the end of DATA: smuggling
            if self.config.smtp.bare_newlines == "refuse":
                return self._unjudged(tx, sender, len(raw), Action(554, "5.5.2 Refused: " + lineends.REFUSAL))
            raw = lineends.crlf(raw)  # judged as it will go
        raw = regular_field_names(raw)  # `Name :` as `Name:`: judged, signed and relayed as receivers read it
        try:
            content = parse_email(raw)
        except Unparseable as exc:  # it cannot be judged, so it does not go: a refusal, not an error
            return self._unjudged(tx, sender, len(raw), Action(554, f"5.6.0 message cannot be parsed: {exc}"))
        tx.message_id, tx.digest = content.message_id, digest(content.subject, raw)
        evaluation = self.pipeline.judge_email(sender, content, tx.accepted, tx.facts, now).evaluation
        noted = [v for recipient in tx.accepted for v in tx.noted.get(recipient, ())]
        found = ordered([*evaluation.violations, *noted], tx.accepted)
        category, excerpt, size = evaluation.category, content.subject[:200], len(raw)
        fate = self.config.disposition(sender).fate(found)
        settings = self.config.sender(sender).settings
        tx.detail = detail(content, raw, found, settings, self.config.policy, explain=fate is not Fate.PASS)
        if fate is Fate.REFUSE:
            for recipient in tx.accepted:
                self._record_soon(
                    self._decision(tx, recipient, category, Verdict.REJECTED, found, excerpt, size)
                )
            return Action(550, fitted("5.7.1 Rejected: ", [(v.code, v.message) for v in found], ": %s"))

        monitored = found if fate is Fate.MONITOR else ()
        has_own = content.list_unsubscribe is not None or content.list_unsubscribe_post is not None
        theirs = (content.list_unsubscribe or "") if has_own else None
        verdict = Verdict.MONITORED if fate is Fate.MONITOR else Verdict.RELAYED
        client, delivery = tx.client, self.delivery
        message = Outgoing(
            self.config, delivery.signer, delivery.dkim, sender, raw, category, theirs, monitored, now,
            client.helo, client.peer, client.tls, client.authenticated,
        )  # fmt: skip
        if len(tx.accepted) > 1 and self._copy_per_recipient(category):
            asked = [
                *tx.asked,
                *getattr(upstream, "recipients", ()),
            ]  # as the client wrote them, with options
            tx.upstream = None  # the probe asked the upstream about each recipient; each copy goes on its own
            if upstream is not None:
                await upstream.abort()
            copies = per_recipient(
                message, tx.accepted, asked, tx.relay_id,
                lambda r: self._decision(tx, r, category, verdict, found, excerpt, len(raw), "", now),
                lambda decision_id: return_path(self.delivery.signer, self.config, decision_id) if tx.mail_from else None,
                tx.mail_from,
            )  # fmt: skip
            smtp = self.config.smtp
            return await fan_out(
                self.sending, self.delivery.relay, copies, tx.options,
                hold=smtp.upstream_hold_timeout, at_once=smtp.upstream_pool_size, message_id=tx.message_id,
                notice=Notice(tx.mail_from or "", smtp.hostname, raw),
            )  # fmt: skip
        if upstream is None:  # not marketing after all: one transaction, and the upstream went away
            return UPSTREAM_DOWN
        outgoing = await message.for_recipients(tx.accepted)
        intended = [
            self._decision(tx, r, category, verdict, found, excerpt, size, "", now) for r in tx.accepted
        ]
        if tx.relay_id is not None and len(intended) == 1:
            intended = [replace(intended[0], id=tx.relay_id)]
        tx.upstream = None  # the sending finishes it, whatever happens
        return await self.sending.send(upstream, outgoing, intended, now, tx.mail_from)

    # -- decisions ---------------------------------------------------------------------------------------

    def _unjudged(self, tx: MailTransaction, sender: str, size: int, refusal: Action) -> Action:
        """A message refused before any rule could read it: a rejected decision for each recipient, its
        reason the refusal's text, and the refusal (within a reply line's octets)."""
        refusal = Action(refusal.code, cut(refusal.text))
        category = self.config.sender(sender).settings.category
        why = _ENHANCED.sub("", refusal.text, count=1)
        for recipient in tx.accepted:
            self._record_soon(self._decision(tx, recipient, category, Verdict.REJECTED, (), "", size, why))
        return refusal

    def _decision(
        self,
        tx: MailTransaction,
        recipient: str,
        category: Category,
        verdict: Verdict,
        violations: Sequence[Violation],
        excerpt: str = "",
        size: int = 0,
        upstream: str = "",
        at: datetime | None = None,
    ) -> Decision:
        mine = tuple(v for v in violations if v.recipient in (None, recipient))
        return Decision(
            new_id(),
            at or datetime.now(UTC),
            Channel.EMAIL,
            tx.client.sender or "",
            recipient,
            category,
            verdict,
            mine,
            excerpt,
            size,
            upstream,
            message_id=tx.message_id,
            digest=tx.digest,
            detail=tx.detail,
        )

    def _record_soon(self, decision: Decision) -> None:
        """Refusals and failures acknowledge nothing: written with the next batch, nobody waits."""
        self.delivery.decisions.record_soon([decision])
