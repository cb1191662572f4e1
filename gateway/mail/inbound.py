"""Mail to the gateway's own addresses: what opt-out, bounce or complaint it carries.

The SMTP door takes such mail without AUTH and relays it nowhere. What it means:

- a DSN (RFC 3464, `multipart/report; report-type=delivery-status`): every recipient whose `Action` is
  `failed` with a permanent `5.x.x` status is suppressed as `bounce`, in every scope (the address does
  not work); delays and transient failures change nothing;
- an ARF complaint (RFC 5965, `report-type=feedback-report`): the complaining recipient is suppressed
  as `complaint`, for the sender whose unsubscribe token the reported message carries, else everywhere;
- any other message to the unsubscribe address (RFC 2369 `mailto:`, or a person writing): its sender is
  unsubscribed; a token in the subject (the gateway's `mailto:` puts one there) names the recipient and
  the sender exactly, and a `+sender` tag on the address (`unsubscribe+acme@...`) names the sender;
- a reply to the bounce address whose subject or first line asks to stop ("unsubscribe", "remove me",
  "stop", ...) unsubscribes its sender too; anything else there is read and dropped.

`read_inbound` is pure: bytes in, opt-outs out. The engine has the lists service store them before the door
answers 250.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass
from email.message import Message

from ..addresses import address_hash, is_valid_email, normalize_email
from ..config import Config
from ..lists import OptOut
from ..model import GLOBAL_SCOPE, Channel, Reason
from ..policy.replies import mail_asks_to_stop
from ..tokens import TokenSigner
from .mailboxes import Mailbox

_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{60,300}(?![A-Za-z0-9_-])")


@dataclass(frozen=True)
class Inbound:
    kind: str  # unsubscribe, reply, bounce, complaint, ignored
    opt_outs: tuple[OptOut, ...] = ()


def _report_type(msg: Message) -> str | None:
    if msg.get_content_type() != "multipart/report":
        return None
    value = msg.get_param("report-type")
    text = email.utils.collapse_rfc2231_value(value) if value else ""
    return text.lower() or None


def _messages(part: Message) -> list[Message]:
    """The messages (or header blocks) a multipart or message/* part holds."""
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _decoded(part: Message, charset: str = "utf-8") -> str:
    """A leaf part's content as text (its transfer encoding undone); "" when it has none."""
    raw = part.get_payload(decode=True)
    return raw.decode(charset, "replace") if isinstance(raw, bytes) else ""


def _address_field(value: str | None) -> str | None:
    """`rfc822; user@example.com` (DSN and ARF fields) to a normalized address."""
    if not value:
        return None
    text = str(value).split(";", 1)[-1].strip().strip("<>")
    address = normalize_email(text)
    return address if is_valid_email(address) else None


def _token_scope(signer: TokenSigner, text: str, channel: Channel = Channel.EMAIL):
    for candidate in _TOKEN.findall(text or ""):
        found = signer.read(candidate)
        if found is not None and found.channel is channel:
            return found
    return None


def _scope(config: Config, tag: str | None) -> str:
    return tag if tag and tag in config.senders else GLOBAL_SCOPE


def _entry(address: str, scope: str, reason: Reason, source: str) -> OptOut:
    return OptOut(Channel.EMAIL, scope, reason, source, address=address)


def _dsn(msg: Message) -> Inbound:
    found = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _messages(part)[1:]:  # the first block is about the message, the rest one per recipient
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip()
            address = _address_field(block.get("Final-Recipient")) or _address_field(
                block.get("Original-Recipient")
            )
            if action == "failed" and status.startswith("5") and address:
                found.append(_entry(address, GLOBAL_SCOPE, Reason.BOUNCE, f"dsn {status}"))
    return Inbound("bounce", tuple(found))


def _complaint(msg: Message, signer: TokenSigner) -> Inbound:
    address, original_headers = None, ""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/feedback-report":
            fields = next(iter(_messages(part)), part)
            address = (
                _address_field(fields.get("Original-Rcpt-To"))
                or _address_field(fields.get("Removal-Recipient"))
                or address
            )
        elif ctype in ("message/rfc822", "text/rfc822-headers"):
            original = next(iter(_messages(part)), None) or email.message_from_string(_decoded(part))
            original_headers = "\n".join(f"{k}: {v}" for k, v in original.items())
            if address is None:
                tos = email.utils.getaddresses([str(v) for v in original.get_all("To", [])])
                address = next(
                    (normalize_email(a) for _, a in tos if is_valid_email(normalize_email(a))), None
                )
    if address is None:
        return Inbound("complaint")
    token = _token_scope(signer, original_headers)
    scope = token.scope if token is not None and token.address_hash == address_hash(address) else GLOBAL_SCOPE
    return Inbound("complaint", (_entry(address, scope, Reason.COMPLAINT, "arf complaint"),))


def _first_line(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            try:
                text = _decoded(part, part.get_content_charset() or "utf-8")
            except LookupError:  # a charset Python does not know
                continue
            return next((line.strip() for line in text.splitlines() if line.strip()), "")
    return ""


def read_inbound(raw: bytes, mailboxes: list[Mailbox], config: Config, signer: TokenSigner) -> Inbound:
    """What one message to the gateway's own addresses means (`mailboxes`: from `own_mailbox`)."""
    msg = email.message_from_bytes(raw)
    report = _report_type(msg)
    if report == "delivery-status":
        return _dsn(msg)
    if report == "feedback-report":
        return _complaint(msg, signer)
    subject = str(msg.get("Subject", ""))
    token = _token_scope(signer, subject)
    senders = email.utils.getaddresses([str(v) for v in msg.get_all("From", [])])
    from_address = next((normalize_email(a) for _, a in senders if is_valid_email(normalize_email(a))), None)
    to_unsubscribe = [tag for kind, tag in mailboxes if kind == "unsubscribe"]
    if to_unsubscribe:
        kind, reason_source = "unsubscribe", "mail to the unsubscribe address"
    elif mail_asks_to_stop(subject) or mail_asks_to_stop(_first_line(msg)):
        kind, reason_source = "reply", "reply asking to stop"
    else:
        return Inbound("ignored")
    tag = next((t for t in to_unsubscribe if t), None) or next((t for _, t in mailboxes if t), None)
    scope = token.scope if token is not None else _scope(config, tag)
    found = []
    if token is not None and (from_address is None or address_hash(from_address) != token.address_hash):
        # the recipient the token was made for (its address is not in the token: stored hashed)
        found.append(
            OptOut(
                Channel.EMAIL,
                token.scope,
                Reason.UNSUBSCRIBE,
                reason_source + " (token)",
                hash=token.address_hash,
            )
        )
    if from_address is not None:
        found.append(_entry(from_address, scope, Reason.UNSUBSCRIBE, reason_source))
    return Inbound(kind, tuple(found))
