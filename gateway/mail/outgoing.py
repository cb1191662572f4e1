"""What the gateway adds to the mail it relays, done on the raw bytes so the body goes out exactly as it
came in.

Added at the top (newest first, as relays do): Received, then List-Unsubscribe and List-Unsubscribe-Post
for marketing mail that lacks them (RFC 2369, RFC 8058), then X-Compliance-Violations in monitor mode.
Removed: every X-Gateway-* header (internal instructions to the gateway), with its continuation lines.

List-Unsubscribe for one recipient: a one-click HTTPS URL with a signed token for that recipient and
sender, a mailto to the gateway's unsubscribe address with the same token, and List-Unsubscribe-Post.
For several recipients (mail that only turned out to be marketing after DATA): the mailto alone, since
one token cannot speak for several people; a reply there is matched by its From address.

A client's own List-Unsubscribe is repaired, not trusted to be complete (nodemailer's `list.unsubscribe`
with only a mailto, a URL without List-Unsubscribe-Post): the gateway's field replaces it, the gateway's
URIs first and the client's after them (none twice), with exactly one List-Unsubscribe-Post. So a
mailbox provider's one-click POST reaches the gateway, which suppresses at once for the next message
everywhere, and the client's own URIs stay for whoever uses them (docs/smtp.md#list-unsubscribe).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import quote

from ..config import Config
from ..content.mime import blank_line
from ..model import Category, Channel, Violation
from ..store import new_id
from ..tokens import TokenSigner
from .mailboxes import tagged, unsubscribe_address
from .signing import DkimSigners

INTERNAL_PREFIX = b"x-gateway-"


def split_head(raw: bytes) -> tuple[bytes, bytes]:
    """(header block with its line breaks, everything from the blank line on)."""
    at = blank_line(raw)
    return (raw, b"") if at is None else (raw[: at[0]], raw[at[0] :])


def _strip(head: bytes, prefixes: tuple[bytes, ...]) -> bytes:
    """The header block without the fields whose lower-cased lines start with one of `prefixes`."""
    lowered = head.lower()
    if not any(p in lowered for p in prefixes):
        return head
    kept, dropping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(prefixes)  # (`Name :` is `Name:` by now: regular_field_names)
        if not dropping:
            kept.append(line)
    return b"".join(kept)


_OBS_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:", re.MULTILINE)


def regular_field_names(raw: bytes) -> bytes:
    """RFC 5322 4.5.3's obsolete `Name : value` (blanks before the colon), which receivers must read as the
    field `Name`, written `Name: value`, and so judged, signed and relayed. Python's parser would take such
    a line for the start of the body (the fields after it unread by the rules, while receivers read them
    all), dkimpy refuses to sign it, and a client's `List-Unsubscribe :` kept as it was would be missed by
    one-click clients. A relaxed DKIM signature of the client's stays valid (RFC 6376 3.4.2 drops those
    blanks too); a simple one does not, as it would not through most MTAs."""
    head, rest = split_head(raw)
    if not _OBS_NAME.search(head):
        return raw
    return _OBS_NAME.sub(rb"\1:", head) + rest


def fold(name: str, value: str) -> bytes:
    """One header field, folded between its URIs (List-Unsubscribe: never at a comma inside one) so no
    line passes 78 characters where avoidable."""
    parts = _URI_ITEM.findall(value) if name.lower() == "list-unsubscribe" else []
    parts = parts or [value]
    lines, current = [], f"{name}: {parts[0]}"
    for part in parts[1:]:
        if len(current) + len(part) + 2 > 78:
            lines.append(current + ",")
            current = " " + part
        else:
            current += ", " + part
    lines.append(current)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


_LIST_UNSUBSCRIBE = (b"list-unsubscribe:", b"list-unsubscribe-post:")


def rewrite(raw: bytes, added: list[tuple[str, str]]) -> bytes:
    """`added` on top; the internal fields dropped, and the client's List-Unsubscribe fields when the
    gateway writes its own (a repair: `list_unsubscribe_headers`' `theirs`)."""
    head, rest = split_head(raw)
    drop: tuple[bytes, ...] = (INTERNAL_PREFIX,)
    if any(n.lower() == "list-unsubscribe" for n, _ in added):
        drop += _LIST_UNSUBSCRIBE
    return b"".join(fold(n, v) for n, v in added) + _strip(head, drop) + rest


_URI_ITEM = re.compile(r"<[^<>]*>")
_URI = re.compile(r"<([^<>]{1,2000})>")
_URI_OK = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]{1,900}")  # printable ASCII but < and >, and not too long


def _their_uris(field: str | None) -> list[str]:
    """The URIs of a client's List-Unsubscribe as it can be written again: whitespace inside the angle
    brackets dropped (RFC 2369 2), anything not printable ASCII (decoded encoded-words included) or over
    900 characters left out."""
    found = ("".join(u.split()) for u in _URI.findall(field or ""))
    return [u for u in found if _URI_OK.fullmatch(u)]


def list_unsubscribe_headers(
    signer: TokenSigner,
    config: Config,
    sender: str,
    recipients: Sequence[str],
    now: datetime,
    theirs: str | None = None,
) -> list[tuple[str, str]]:
    """The gateway's List-Unsubscribe (and -Post): its URIs first, then those of the client's own field
    (`theirs`, which `rewrite` then drops), each once; at most ten."""
    mailbox = tagged(unsubscribe_address(config), sender)
    if len(recipients) != 1:
        ours = [f"mailto:{mailbox}?subject=unsubscribe"]
    else:
        token = signer.make(Channel.EMAIL, sender, recipients[0], int(now.timestamp()))
        ours = [
            f"{config.public_url}/unsubscribe/{token}",
            f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}",
        ]
    uris = list(dict.fromkeys([*ours, *_their_uris(theirs)]))[:10]
    field = [("List-Unsubscribe", ", ".join(f"<{u}>" for u in uris))]
    one_click = any(u.lower().startswith("https://") for u in uris) or len(recipients) == 1
    return field + ([("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")] if one_click else [])


_HELO_UNSAFE = re.compile(r"[^\x21-\x7e]")


def received(
    *,
    helo: str | None,
    peer: str | None,
    tls: bool,
    authenticated: bool,
    by: str,
    message_id: str,
    recipients: Sequence[str],
    now: datetime,
) -> str:
    """The Received field (RFC 5321 4.4) the gateway adds: who handed the message over, and when."""
    helo = _HELO_UNSAFE.sub("?", helo[:255]) if helo else None  # a field of one line, whatever was said
    proto = "ESMTP" + ("S" if tls else "") + ("A" if authenticated else "")
    target = f"\r\n\tfor <{recipients[0]}>" if len(recipients) == 1 else ""
    return (
        f"from {helo or 'unknown'} ([{peer or 'unknown'}])\r\n\tby {by} (compliance-gateway) with {proto}"
        f" id {message_id}{target};\r\n\t{_received_date(int(now.timestamp()))}"
    )


@lru_cache(maxsize=4)
def _received_date(second: int) -> str:
    """RFC 5322's date, as format_datetime writes it for UTC: the same for every message of that second."""
    return format_datetime(datetime.fromtimestamp(second, UTC))


@dataclass(frozen=True)
class Outgoing:
    """A message as it goes upstream, for all its recipients or for one (a copy of marketing mail):
    the client's bytes with the gateway's fields on top, the internal ones gone, signed last."""

    config: Config
    signer: TokenSigner
    dkim: DkimSigners | None
    sender: str
    raw: bytes
    category: Category
    theirs: str | None  # the client's List-Unsubscribe ("" for a -Post alone); None: it has none
    monitored: Sequence[Violation]
    now: datetime
    helo: str | None
    peer: str | None
    tls: bool
    authenticated: bool

    async def for_recipients(self, recipients: Sequence[str]) -> bytes:
        smtp = self.config.smtp
        stamp = received(
            helo=self.helo,
            peer=self.peer,
            tls=self.tls,
            authenticated=self.authenticated,
            by=smtp.hostname,
            message_id=new_id(),
            recipients=recipients,
            now=self.now,
        )
        added = [("Received", stamp)]
        if (
            self.category is Category.MARKETING
            and smtp.add_list_unsubscribe
            and (self.theirs is None or smtp.repair_list_unsubscribe)
        ):
            added += list_unsubscribe_headers(
                self.signer, self.config, self.sender, recipients, self.now, self.theirs
            )
        mine = [v for v in self.monitored if v.recipient is None or v.recipient in recipients]  # this copy's
        if mine:
            added.append(("X-Compliance-Violations", ", ".join(dict.fromkeys(v.code for v in mine))))
        outgoing = rewrite(self.raw, added)
        if self.dkim is not None and self.dkim.signs_for(self.sender):
            outgoing = await self.dkim.sign(self.sender, outgoing)  # last: it covers the added headers
        return outgoing
