"""A delivery status notification (RFC 3464) for the copies of a message the upstream refused for good
while it took the others.

SMTP gives one answer per message after DATA. When the gateway has sent one copy per recipient and the
upstream refused some of them for good, a refusal would make the client bounce the message for every
recipient, those who received it too, and a 451 would have it retry the refused ones for days. An MTA in
that place accepts the message and reports the failed recipients to the envelope sender in a DSN: the
gateway does the same, and says 250 only once the upstream has taken the DSN (RFC 5321 6.1: once a
message is accepted, a failure is reported, never dropped). A message with a null envelope sender gets no
DSN (RFC 5321 4.5.5: no notification about a notification).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime

from ..store import new_id
from .outgoing import split_head
from .upstream import Relay, UpstreamRefused, UpstreamUnavailable

_ENHANCED = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}\b")
_UNSAFE = re.compile(r"[^\x20-\x7e]")
_MAX_HEAD = 64 * 1024  # of the original's header section returned in the report


def _status(code: int, text: str) -> str:
    found = _ENHANCED.match(text.strip())
    return found.group() if found and found.group(1) == str(code)[0] else f"{str(code)[0]}.0.0"


def _ascii(text: str, limit: int = 400) -> str:
    return _UNSAFE.sub("?", " ".join(text.split()))[:limit]


def report(
    *,
    hostname: str,
    sender: str,
    failed: Sequence[tuple[str, int, str]],
    delivered: int,
    original: bytes,
    arrived: datetime,
) -> bytes:
    """The DSN to `sender` for the `failed` recipients (address, upstream code, upstream text)."""
    boundary = f"=_report_{new_id()}"
    date = format_datetime(arrived, usegmt=True)
    lines = [f"  <{_ascii(r, 300)}>: host answered {code} {_ascii(text)}" for r, code, text in failed]
    human = (
        f"This is the mail gateway at {hostname}.\r\n\r\n"
        f"Your message could not be delivered to {len(failed)} of its recipients; the upstream mail "
        f"server refused them for good. {delivered} other recipients received it.\r\n\r\n"
        + "\r\n".join(lines)
        + "\r\n"
    )
    status = f"Reporting-MTA: dns; {hostname}\r\nArrival-Date: {date}\r\n" + "".join(
        f"\r\nFinal-Recipient: rfc822; {_ascii(r, 300)}\r\nAction: failed\r\n"
        f"Status: {_status(code, text)}\r\nDiagnostic-Code: smtp; {code} {_ascii(text)}\r\n"
        for r, code, text in failed
    )
    head = split_head(original)[0][:_MAX_HEAD]
    return (
        (
            f"From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n"
            f"To: <{sender}>\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"Date: {date}\r\n"
            f"Message-ID: <{new_id()}@{hostname}>\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
            "\r\n"
            f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{human}\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{status}\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        ).encode()
        + head.rstrip(b"\r\n")
        + f"\r\n\r\n--{boundary}--\r\n".encode()
    )


async def send(relay: Relay, sender: str, data: bytes) -> bool | None:
    """Hand the DSN to the upstream, from the null sender: True when taken, False when not for now (worth a
    retry), None when refused for good (a 5xx: many relays take no mail from the null sender)."""
    try:
        tx = await relay.begin("", () if sender.isascii() else ("SMTPUTF8",))
        try:
            reply = await tx.add_recipient(sender, ())
            if reply.ok:
                reply = await tx.send(data)
            else:
                await tx.abort()
        except BaseException:
            await tx.abort()
            raise
    except UpstreamRefused as exc:
        return None if exc.reply.code >= 500 else False
    except UpstreamUnavailable:
        return False
    return True if reply.ok else (None if reply.code >= 500 else False)
