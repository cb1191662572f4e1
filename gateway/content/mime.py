"""RFC 5322 / MIME bytes to `EmailContent`: the headers rules need and what a reader sees.

Built on the stdlib `email` package. Nothing here raises on bad input: undecodable headers, unknown
or lying charsets, broken base64 and truncated multiparts degrade to the best readable text, and what
went wrong is listed in `EmailContent.defects`.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.utils
import re
from email.message import Message

from ..model import EmailContent, Link
from . import html as html_render

EXPLICIT_HEADER = "X-Gateway-Sexually-Explicit"
_TRUE = {"1", "yes", "true", "on"}
_URL = re.compile(r"""(?:https?://|www\.)[^\s<>"'()\[\]{}]+|mailto:[^\s<>"'()\[\]{}]+""", re.IGNORECASE)
_MAX_PARTS = 200


def decode_header(value: str | None) -> str:
    """RFC 2047 encoded-words to text; undecodable pieces kept as they are, never an exception."""
    if value is None:
        return ""
    value = str(value)
    try:
        pieces = []
        for chunk, charset in email.header.decode_header(value):
            if isinstance(chunk, bytes):
                pieces.append(_decode_bytes(chunk, charset or "ascii"))
            else:
                pieces.append(chunk)
        text = "".join(pieces)
    except (ValueError, LookupError, AssertionError, email.errors.HeaderParseError):
        text = value
    return " ".join(text.split())


def _decode_bytes(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _header(msg: Message, name: str) -> str:
    """A header as text; the stdlib hands back a Header object for undecodable bytes."""
    value = msg.get(name)
    return "" if value is None else str(value)


def _charset(part: Message) -> str:
    try:
        return part.get_content_charset() or "utf-8"
    except (LookupError, ValueError, TypeError, AttributeError):
        return "utf-8"


def _addresses(msg: Message, name: str) -> tuple[str, ...]:
    values = msg.get_all(name) or []
    try:
        pairs = email.utils.getaddresses([str(v) for v in values])
    except (ValueError, IndexError, TypeError):
        return ()
    return tuple(addr.strip() for _, addr in pairs if addr and "@" in addr)


def _payload_text(part: Message, defects: list[str]) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # the stdlib raises assorted errors on broken transfer encodings
        defects.append(f"undecodable body part ({type(exc).__name__})")
        data = None
    if data is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    if not isinstance(data, bytes):
        return str(data)
    charset = _charset(part)
    try:
        return data.decode(charset)
    except LookupError:
        defects.append(f"unknown charset {charset!r}")
    except UnicodeDecodeError:
        defects.append(f"body is not valid {charset}")
    return _decode_bytes(data, "utf-8")


def _plain_links(text: str) -> tuple[Link, ...]:
    """URLs in plain text; the anchor text of each is its line and the line before (the instruction)."""
    links = []
    for m in _URL.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if line_start > 0:
            line_start = text.rfind("\n", 0, line_start - 1) + 1
        line_end = text.find("\n", m.end())
        context = text[line_start : len(text) if line_end < 0 else line_end]
        url = m.group(0).rstrip(".,;:!?")
        links.append(Link(url=url if "://" in url or url.lower().startswith("mailto:") else f"http://{url}",
                          text=" ".join(context.split())))
    return tuple(links)


def _is_attachment(part: Message) -> bool:
    disposition = _header(part, "Content-Disposition").split(";", 1)[0].strip().lower()
    return disposition == "attachment"


def _shown_parts(msg: Message, defects: list[str], budget: list[int]) -> list[tuple[str, str]]:
    """The (type, text) parts a mail client displays: the preferred alternative, every inline part."""
    if budget[0] <= 0:
        return []
    budget[0] -= 1
    ctype = msg.get_content_type()
    if msg.is_multipart():
        children = msg.get_payload()
        if not isinstance(children, list):
            return []
        if ctype == "multipart/alternative":
            # RFC 2046 5.1.4: the last alternative the client understands is the one shown.
            for child in reversed(children):
                shown = _shown_parts(child, defects, budget)
                if shown:
                    return shown
            return []
        if ctype == "multipart/related" and children:
            return _shown_parts(children[0], defects, budget)
        shown: list[tuple[str, str]] = []
        for child in children:
            shown.extend(_shown_parts(child, defects, budget))
        return shown
    if _is_attachment(msg) or ctype not in ("text/plain", "text/html"):
        return []
    return [(ctype, _payload_text(msg, defects))]


def parse_email(raw: bytes) -> EmailContent:
    msg = email.message_from_bytes(raw)
    defects = [type(d).__name__ for d in msg.defects]
    texts: list[str] = []
    links: list[Link] = []
    for ctype, body in _shown_parts(msg, defects, [_MAX_PARTS]):
        if ctype == "text/html":
            text, found = html_render.render(body)
        else:
            text, found = body.strip(), _plain_links(body)
        texts.append(text)
        links.extend(found)
    if not msg.is_multipart() and msg.get_content_maintype() not in ("text", "multipart"):
        defects.append(f"body is {msg.get_content_type()}, nothing readable")
    visible = "\n".join(t for t in texts if t)
    return EmailContent(
        subject=decode_header(msg.get("Subject")),
        from_addresses=_addresses(msg, "From"),
        sender_address=next(iter(_addresses(msg, "Sender")), None),
        reply_to=_addresses(msg, "Reply-To"),
        to_addresses=_addresses(msg, "To") + _addresses(msg, "Cc"),
        in_reply_to=decode_header(msg.get("In-Reply-To")) or None,
        references=decode_header(msg.get("References")) or None,
        list_unsubscribe=decode_header(msg.get("List-Unsubscribe")) or None,
        list_unsubscribe_post=decode_header(msg.get("List-Unsubscribe-Post")) or None,
        visible_text=visible,
        links=tuple(links),
        folded_text=visible.lower(),
        declared_explicit=_header(msg, EXPLICIT_HEADER).strip().lower() in _TRUE,
        size=len(raw),
        defects=tuple(defects),
    )
