"""Mail to the gateway's own addresses: what it says, before anything is believed.

The SMTP door takes such mail without AUTH, so everything in it may be forged. `read_inbound` is pure
(bytes in, a `Report` out); `gateway/mail/optouts.py` decides what of it to believe, by what the
gateway itself issued:

- a DSN (RFC 3464, `multipart/report; report-type=delivery-status`): whether it reports a permanent
  failure (`Action: failed`, a `5.x.x` status), the addresses it names, and the returned headers'
  references (the gateway's signed List-Unsubscribe tokens, the returned message's Message-ID);
- an ARF report (RFC 5965, `report-type=feedback-report`): its Feedback-Type (`abuse` and `fraud` are
  complaints; `not-spam` and the rest are not), the complaining recipient when not redacted, and the
  reported message's references, including the per-recipient return path (`Return-Path`);
- any other message to the unsubscribe address (RFC 2369 `mailto:`, or a person writing), or a reply to
  the bounce address whose subject or first line asks to stop: its From address and the token the
  gateway's `mailto:` puts in the subject.

The bounce address's `+tag` says which of the gateway's return paths the mail came back to (`returnpath.py`).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass
from email.message import Message

from ..addresses import is_valid_email, normalize_email
from ..content.mime import message_id
from ..model import Channel
from ..policy.replies import mail_asks_to_stop
from ..tokens import TokenSigner, Unsubscribe
from .mailboxes import Mailbox

_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{60,300}(?![A-Za-z0-9_-])")
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")  # RFC 3463: only this much of a Status line is kept
_MAX_NAMED = 10_000  # addresses read from one report; the rest are counted, not kept
_MAX_REFERENCES = 20
COMPLAINT_TYPES = frozenset({"abuse", "fraud"})


@dataclass(frozen=True)
class Report:
    """What one message to the gateway's own addresses claims, none of it verified yet."""

    kind: str  # bounce, complaint, not-a-complaint, unsubscribe, reply, ignored
    mailboxes: tuple[Mailbox, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # DSN: (address, status) reported failed permanently
    named: int = 0  # how many addresses the report names in all
    permanent: bool = False  # DSN: some recipient failed permanently
    complainant: str | None = None  # ARF: Original-Rcpt-To / Removal-Recipient; None when redacted
    feedback_type: str = ""
    tokens: tuple[Unsubscribe, ...] = ()  # the gateway's signed tokens found in returned headers or subject
    return_paths: tuple[str, ...] = ()  # returned headers' Return-Path addresses (may be the gateway's VERP)
    message_ids: tuple[str, ...] = ()  # the returned or reported message's Message-ID
    from_address: str | None = None  # unsubscribe / reply: the From address


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


def _address_field(value: object) -> str | None:
    """`rfc822; user@example.com` (DSN and ARF fields) to a normalized address."""
    if not value:
        return None
    text = str(value).split(";", 1)[-1].strip().strip("<>")
    address = normalize_email(text)
    return address if is_valid_email(address) else None


def _tokens(signer: TokenSigner, text: str) -> tuple[Unsubscribe, ...]:
    found = []
    for candidate in _TOKEN.findall(text or "")[:_MAX_REFERENCES]:
        token = signer.read(candidate)
        if token is not None and token.channel is Channel.EMAIL and token not in found:
            found.append(token)
    return tuple(found)


def _returned(msg: Message, signer: TokenSigner) -> dict:
    """References in the returned or reported message's headers (message/rfc822 or text/rfc822-headers)."""
    tokens: list[Unsubscribe] = []
    return_paths: list[str] = []
    message_ids: list[str] = []
    for part in msg.walk():
        if part.get_content_type() not in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            continue
        original = next(iter(_messages(part)), None) or email.message_from_string(_decoded(part))
        headers = "\n".join(f"{k}: {v}" for k, v in original.items()[:500])
        tokens += [t for t in _tokens(signer, headers) if t not in tokens]
        for value in original.get_all("Return-Path", [])[:_MAX_REFERENCES]:
            if (address := _address_field(value)) and address not in return_paths:
                return_paths.append(address)
        for value in original.get_all("Message-ID", [])[:_MAX_REFERENCES]:
            mid = message_id(str(value))  # as the decisions keep it
            if mid and mid not in message_ids:
                message_ids.append(mid)
    return {
        "tokens": tuple(tokens[:_MAX_REFERENCES]),
        "return_paths": tuple(return_paths[:_MAX_REFERENCES]),
        "message_ids": tuple(message_ids[:_MAX_REFERENCES]),
    }


def _dsn(msg: Message, signer: TokenSigner, mailboxes: tuple[Mailbox, ...]) -> Report:
    failed: list[tuple[str, str]] = []
    named = 0
    permanent = False
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _messages(part)[1:]:  # the first block is about the message, the rest one per recipient
            action = str(block.get("Action", "")).strip().lower()
            status = _STATUS.match(str(block.get("Status", "")).strip())
            address = _address_field(block.get("Final-Recipient")) or _address_field(
                block.get("Original-Recipient")
            )
            named += address is not None
            if action == "failed" and status is not None and status.group().startswith("5"):
                permanent = True
                if address and len(failed) < _MAX_NAMED:
                    failed.append((address, status.group()))
    returned = _returned(msg, signer)
    return Report("bounce", mailboxes, tuple(failed), named, permanent, **returned)


def _arf(msg: Message, signer: TokenSigner, mailboxes: tuple[Mailbox, ...]) -> Report:
    complainant, feedback_type = None, ""
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            fields = next(iter(_messages(part)), None)
            if fields is None:  # some senders of reports do not parse as header blocks
                fields = email.message_from_string(_decoded(part))
            feedback_type = str(fields.get("Feedback-Type", "")).strip().lower()[:40]
            complainant = _address_field(fields.get("Original-Rcpt-To")) or _address_field(
                fields.get("Removal-Recipient")
            )
    returned = _returned(msg, signer)
    kind = "complaint" if feedback_type in COMPLAINT_TYPES or not feedback_type else "not-a-complaint"
    return Report(
        kind, mailboxes, named=int(complainant is not None), complainant=complainant,
        feedback_type=feedback_type or "abuse", **returned,
    )  # fmt: skip


def _first_line(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            try:
                text = _decoded(part, part.get_content_charset() or "utf-8")
            except LookupError:  # a charset Python does not know
                continue
            return next((line.strip() for line in text.splitlines() if line.strip()), "")
    return ""


def from_address(msg: Message) -> str | None:
    senders = email.utils.getaddresses([str(v) for v in msg.get_all("From", [])])
    return next((normalize_email(a) for _, a in senders if is_valid_email(normalize_email(a))), None)


def read_inbound(raw: bytes, mailboxes: list[Mailbox], signer: TokenSigner) -> Report:
    """What one message to the gateway's own addresses claims (`mailboxes`: from `own_mailbox`)."""
    msg = email.message_from_bytes(raw)
    named = tuple(mailboxes)
    report = _report_type(msg)
    if report == "delivery-status":
        return _dsn(msg, signer, named)
    if report == "feedback-report":
        return _arf(msg, signer, named)
    subject = str(msg.get("Subject", ""))
    if any(kind == "unsubscribe" for kind, _ in mailboxes):
        kind = "unsubscribe"
    elif mail_asks_to_stop(subject) or mail_asks_to_stop(_first_line(msg)):
        kind = "reply"
    else:
        return Report("ignored", named)
    sender = from_address(msg)
    return Report(
        kind, named, named=int(sender is not None), tokens=_tokens(signer, subject), from_address=sender
    )
