"""What of the mail to the gateway's own addresses to believe (docs/optouts.md).

Anyone who reaches the SMTP port can write to these addresses, so nothing a report *says* suppresses
anyone. An automated report (a DSN, an ARF complaint) is honoured only for recipients of a message the
gateway relayed, found through what the gateway issued:

- the per-recipient return path (`smtp.bounce_domain`, `mailboxes.return_path`): the report came back to
  an address naming the decision; believed whatever the report's text says about recipients;
- the gateway's signed List-Unsubscribe token in the returned headers: names the recipient and sender;
- the returned message's Message-ID: names a message; only the recipients the report names (or, for a
  complaint whose recipient is redacted, the one recipient the message had) are taken.

Such an opt-out is in the referenced sender's scope: no report is global. A bounce says an address did not
work for that sender's mail; a complaint objects to that sender's mail; CAN-SPAM's opt-out (15 U.S.C.
7704(a)(4)) binds the sender the request was made to. Only erasure (`gateway forget`) and the operator
make global entries.

A person's mail to the unsubscribe address (or a reply asking to stop) counts for its From address when
the From domain vouches for it (DKIM aligned, or SPF for an aligned return path: `authn.py`), or for the
recipient a token in it names. Anything else changes nothing and is kept for review: a request for its
From address the console can confirm (or every one, with `smtp.trust_unauthenticated_opt_outs`), a report
as `report.unverified` in the audit trail, with how many addresses it named.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from ..addresses import address_hash
from ..config import Config
from ..lists import Lists, OptOut
from ..model import GLOBAL_SCOPE, Category, Channel, Reason
from ..store import Store, StoreError
from ..tokens import TokenSigner
from .actions import STORE_DOWN, Action
from .authn import DEADLINE as DNS_DEADLINE
from .authn import Dns, from_authenticated
from .inbound import Report, read_inbound
from .mailboxes import Mailbox, own_mailbox, returned_to

log = logging.getLogger("gateway.mail")

_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="optout-authn")  # apart from the store's
REFERENCE_DAYS = 180
KEEP_PER_PEER, KEEP_WINDOW = (
    30,
    600,
)  # unverified entries kept from one client address per window (s)  # a report about a message relayed longer ago than this is not matched
_GONE = {"relayed", "monitored", "relaying", "unknown"}  # verdicts of a message that went (or may have)


@dataclass(frozen=True)
class Sent:
    """One recipient of a message the gateway relayed, and how the report pointed at it."""

    sender: str
    recipient_hash: str
    recipient: str | None  # None once erased
    via: str  # "return path", "token", "message-id"


@dataclass(frozen=True)
class Sender:
    """Who handed the mail over, as the SMTP door saw it."""

    mail_from: str
    peer: str | None
    helo: str | None


class OptOutDesk:
    def __init__(self, config: Config, store: Store, lists: Lists, signer: TokenSigner) -> None:
        self.config, self.store, self.lists, self.signer = config, store, lists, signer
        self.dns = Dns(config.smtp.dns_resolver)
        self._checks: asyncio.Semaphore | None = None  # made in the running loop
        self._kept: dict[str, tuple[float, int]] = {}  # peer -> (window start, unverified entries kept)

    async def take(self, client: Sender, mailboxes: list[Mailbox], raw: bytes) -> Action:
        """Mail to the gateway's own addresses, read, judged and stored; answered once stored."""
        try:
            report = await asyncio.to_thread(read_inbound, raw, mailboxes, self.signer)
        except Exception as exc:  # malformed beyond what the stdlib parser forgives: kept out of the store
            # one line, no traceback: anyone may send such mail (3,000 nested parts made 60 lines each)
            log.warning(
                "inbound mail from <%s> could not be read: %s: %.200s",
                client.mail_from,
                type(exc).__name__,
                exc,
            )
            return Action(250, "2.0.0 Received")
        vouched = None
        if report.kind in ("unsubscribe", "reply") and report.from_address and not report.tokens:
            vouched = await self._vouched(raw, report.from_address.rpartition("@")[2], client, mailboxes)
        actor = "mail to the " + " and ".join(sorted({kind for kind, _ in mailboxes})) + " address"
        try:
            opt_outs, unverified = await self._judge(report, vouched, client)
            added = await self.lists.opt_outs(actor, opt_outs) if opt_outs else []
            for action, detail, address, scope in unverified:
                if self._may_keep(client.peer):
                    await self.lists.note_unverified(actor, action, detail, address, scope)
        except StoreError as exc:
            log.error("store unavailable for inbound mail: %s", exc)
            return STORE_DOWN
        log.info(
            "inbound %s from [%s]: %d opt-out(s), %d new, %d unverified",
            report.kind, client.peer, len(added), sum(added), len(unverified),
        )  # fmt: skip
        return Action(250, f"2.0.0 Received: {report.kind}")  # the same whatever it changed: no oracle

    def _may_keep(self, peer: str | None) -> bool:
        """At most `KEEP_PER_PEER` unverified entries from one client address in `KEEP_WINDOW` seconds: a
        flood of forgeries does not bury real requests in the console or fill the audit trail."""
        now, key = time.monotonic(), peer or "unknown"
        start, count = self._kept.get(key, (now, 0))
        if now - start > KEEP_WINDOW:
            start, count = now, 0
        self._kept[key] = (start, count + 1)
        if len(self._kept) > 10_000:
            self._kept.pop(next(iter(self._kept)))
        if count < KEEP_PER_PEER:
            return True
        if count == KEEP_PER_PEER:
            log.warning(
                "unverified mail from [%s]: more than %d in %d s, not kept", key, KEEP_PER_PEER, KEEP_WINDOW
            )
        return False

    async def _vouched(self, raw: bytes, domain: str, client: Sender, mailboxes: list[Mailbox]) -> str | None:
        """DKIM and SPF for the From domain (authn.py), in threads of their own, at most two messages at
        a time, each within its DNS budget: a flood of such mail waits here, and slows nothing else. A
        DKIM signature must cover a To or Cc naming the very mailbox the mail came to, its `+sender` tag
        too (the tag is the opt-out's scope: a replay to the untagged address would widen it to all)."""
        came_to = set(mailboxes)
        if self._checks is None:
            self._checks = asyncio.Semaphore(2)
        async with self._checks:
            call = partial(
                from_authenticated,
                raw,
                domain,
                client.mail_from,
                client.helo,
                client.peer,
                self.dns.fresh(),
                lambda address: own_mailbox(self.config, address) in came_to,
            )
            try:
                return await asyncio.wait_for(
                    asyncio.get_running_loop().run_in_executor(_CHECKS, call), timeout=DNS_DEADLINE + 10
                )
            except TimeoutError:
                log.warning(
                    "DKIM/SPF check of mail from the %s domain took too long: not vouched for", domain
                )
                return None

    # -- judging -----------------------------------------------------------------------------------------

    async def _judge(self, report: Report, vouched: str | None, client: Sender):
        where = f"[{client.peer or 'unknown'}]"
        if report.kind == "bounce":
            return await self._bounce(report, where)
        if report.kind == "complaint":
            return await self._complaint(report, where)
        if report.kind in ("unsubscribe", "reply"):
            return await self._request(report, vouched, where)
        if report.kind == "not-a-complaint":
            log.info(
                "feedback report %r from %s: not a complaint, nothing changed", report.feedback_type, where
            )
        return [], []

    async def _bounce(self, report: Report, where: str):
        if not report.permanent:
            return [], []  # a delay or a transient failure: nothing to do
        statuses = {address_hash(a): status for a, status in report.failed}
        first = report.failed[0][1] if report.failed else "5.0.0"
        sent = await self._referenced(report)
        # a return path or token names its recipient; a Message-ID only its message, which each of its
        # recipients holds: one of them (or anyone shown it) could name the others in a forged DSN. So a
        # Message-ID counts only for a message that went to the one recipient the report names.
        by_message = [s for s in sent if s.via == "message-id"]
        taken = [s for s in sent if s.via != "message-id"]
        if len(by_message) == 1 and by_message[0].recipient_hash in statuses:
            taken += by_message
        if not taken:
            why = f"DSN from {where} naming {report.named} address(es): it refers to no message the gateway relayed"
            return [], [("report.unverified", why, None, GLOBAL_SCOPE)]
        return [
            self._opt_out(s, Reason.BOUNCE, f"dsn {statuses.get(s.recipient_hash, first)} ({s.via})")
            for s in taken
        ], []

    async def _complaint(self, report: Report, where: str):
        sent = await self._referenced(report)
        wanted = address_hash(report.complainant) if report.complainant else None
        by_message = [s for s in sent if s.via == "message-id"]
        # a return path or token names its recipient; a Message-ID only its message, which each of its
        # recipients holds: it counts for a message to one recipient (the one named, or redacted)
        taken = [s for s in sent if s.via != "message-id"]
        if len(by_message) == 1 and wanted in (None, by_message[0].recipient_hash):
            taken += by_message
        if not taken:
            why = (
                f"{report.feedback_type} report from {where}: it refers to no message the gateway relayed"
                + ("" if wanted is None else " to the complaining recipient")
            )
            return [], [("report.unverified", why, None, GLOBAL_SCOPE)]
        return [
            self._opt_out(s, Reason.COMPLAINT, f"arf {report.feedback_type} ({s.via})") for s in taken
        ], []

    async def _request(self, report: Report, vouched: str | None, where: str):
        kind = "mail to the unsubscribe address" if report.kind == "unsubscribe" else "reply asking to stop"
        found = [
            self._opt_out(s, Reason.UNSUBSCRIBE, f"{kind} ({s.via})") for s in await self._referenced(report)
        ]
        sender = report.from_address
        if sender is None or any(o.hash == address_hash(sender) or o.address == sender for o in found):
            return found, []
        scope = next((o.scope for o in found), None) or self._tagged_scope(report)
        if vouched is not None or self.config.smtp.trust_unauthenticated_opt_outs:
            how = vouched or "trusted unauthenticated"
            found.append(OptOut(Channel.EMAIL, scope, Reason.UNSUBSCRIBE, f"{kind} ({how})", address=sender))
            return found, []
        why = f"{kind} from {where}: its From address is not authenticated (no aligned DKIM or SPF pass)"
        return found, [("request.unverified", why, sender, scope)]

    def _tagged_scope(self, report: Report) -> str:
        """`unsubscribe+acme@` (or `bounces+acme@`) names the sender; a VERP tag names a decision instead."""
        tags = [t for kind, t in report.mailboxes if t and kind == "unsubscribe"]
        tags += [t for kind, t in report.mailboxes if t and kind == "bounce"]
        return next((t for t in tags if t in self.config.senders), GLOBAL_SCOPE)

    def _opt_out(self, sent: Sent, reason: Reason, source: str) -> OptOut:
        if sent.recipient is not None:
            return OptOut(Channel.EMAIL, sent.sender, reason, source, address=sent.recipient)
        return OptOut(Channel.EMAIL, sent.sender, reason, source, hash=sent.recipient_hash)

    async def _referenced(self, report: Report) -> list[Sent]:
        """The relayed recipients the report points at, each once, through what the gateway issued."""
        found: dict[tuple[str, str], Sent] = {}

        def add(sent: Sent) -> None:
            known = found.get((sent.sender, sent.recipient_hash))
            if known is None:
                found[(sent.sender, sent.recipient_hash)] = sent
            elif known.recipient is None and sent.recipient is not None:  # the address, not just its hash
                found[(sent.sender, sent.recipient_hash)] = Sent(
                    sent.sender, sent.recipient_hash, sent.recipient, known.via
                )

        tags = [t for kind, t in report.mailboxes if kind == "bounce"]
        for address in report.return_paths:
            mailbox = own_mailbox(self.config, address)
            if mailbox is not None and mailbox[0] == "bounce":
                tags.append(mailbox[1])
        for decision_id in {d for d in (returned_to(self.signer, t) for t in tags) if d}:
            decision = await self.store.decision(decision_id)
            if decision is not None and decision.channel is Channel.EMAIL and decision.verdict.value in _GONE:
                recipient = None if decision.recipient.startswith("sha256:") else decision.recipient
                ahash = decision.recipient[7:] if recipient is None else address_hash(recipient)
                add(Sent(decision.sender, ahash, recipient, "return path"))
        oldest = time.time() - self.config.unsubscribe_link_days * 86400  # as the unsubscribe page's links
        for token in report.tokens:  # a sender no longer configured: the lists service widens it to global
            if token.issued_at >= oldest:
                add(Sent(token.scope, token.address_hash, None, "token"))
        since = datetime.now(UTC) - timedelta(days=REFERENCE_DAYS)
        senders = list(self.config.senders)
        # A Message-ID is no secret: every recipient of a newsletter sees the one they all share. So it
        # counts only for mail the gateway did not mark per recipient (its own token and return path do
        # that for marketing mail): a recipient cannot suppress the others with it.
        marked = self.config.smtp.add_list_unsubscribe
        for message_id in report.message_ids if senders else ():
            for _, sender, recipient, ahash, category in await self.store.sent_as(senders, message_id, since):
                if not (marked and category == Category.MARKETING.value):
                    add(Sent(sender, ahash, recipient, "message-id"))
                elif (sender, ahash) in found:  # named already (a token): its address, for the console
                    add(Sent(sender, ahash, recipient, found[(sender, ahash)].via))
        return list(found.values())
