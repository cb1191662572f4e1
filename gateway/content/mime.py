"""RFC 5322 / MIME bytes to `EmailContent`: the headers rules need and what a reader sees.

Built on the stdlib `email` package. Undecodable headers, unknown or lying charsets, broken base64 and
truncated multiparts degrade to the best readable text, and what went wrong is listed in
`EmailContent.defects`. A message that cannot be read at all raises `Unparseable`, with what is wrong: it
cannot be judged, so the gateway refuses it (554 5.6.0) rather than relay it. So do messages past these
limits, which keep a hostile message from costing more than a real one:

- MAX_MULTIPARTS multipart containers (boundary declarations) in the whole message, whatever their nesting;
- MAX_HEADER_FIELDS header fields in the message's own header block;
- the readable parts shown are at most _MAX_PARTS (the rest are left unread and listed as a defect).
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.utils
import re
from email._header_value_parser import get_address_list  # (HeaderRegistry's parser)
from email.headerregistry import HeaderRegistry
from email.message import Message

from ..model import EmailContent, Link
from . import html as html_render
from .fields import parse_head
from .scan import lower

EXPLICIT_HEADER = "X-Gateway-Sexually-Explicit"
_TRUE = {"1", "yes", "true", "on"}
_URL = re.compile(r"""(?:https?://|www\.)[^\s<>"'()\[\]{}]+|mailto:[^\s<>"'()\[\]{}]+""", re.IGNORECASE)
_MAX_PARTS = 200
MAX_MULTIPARTS = 100
MAX_HEADER_FIELDS = 1000
_BOUNDARY = re.compile(rb"boundary\s*=", re.IGNORECASE)
_FIELD_START = re.compile(rb"(?:\A|\n)[^ \t\r\n]")
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class Unparseable(ValueError):
    """A message that cannot be read, so cannot be judged; the text says what is wrong with it."""


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


def _as_text(value) -> str:
    """A header value as text: "" when absent; the stdlib hands back a Header object for undecodable bytes."""
    return "" if value is None else str(value)


def _header(msg: Message, name: str) -> str:
    return _as_text(msg.get(name))


def _charset(part: Message) -> str:
    try:
        return part.get_content_charset() or "utf-8"
    except (LookupError, ValueError, TypeError, AttributeError):
        return "utf-8"


_ATOMS = r"[^\s<>@,;:\"()\\\[\]]+"
_PLAIN_ADDRESS = re.compile(rf"\s*(?:[^\"<>,;:@()\\\[\]]*<({_ATOMS}@{_ATOMS})>|({_ATOMS}@{_ATOMS}))\s*")


def _fields(msg: Message) -> dict[str, list]:
    """The message's header fields by lower-cased name, each with its values in order: one pass, instead
    of a scan of every field (lower-casing each name) per header asked for."""
    fields: dict[str, list] = {}
    for name, value in msg.items():
        fields.setdefault(name.lower(), []).append(value)
    return fields


def _first(fields: dict[str, list], name: str):
    """What Message.get answers: the first field of that name, or None."""
    values = fields.get(name)
    return values[0] if values else None


# What tells ops which campaign a message belongs to: who it is from, its list, and the fields sending tools
# write (Gmail's Feedback-ID, Mailgun's tag, SES's configuration set, the common X-Campaign family).
CAMPAIGN_FIELDS = (
    "From",
    "List-Id",
    "Feedback-ID",
    "X-Campaign",
    "X-Campaign-ID",
    "X-CampaignID",
    "X-Mailgun-Tag",
    "X-SES-Configuration-Set",
    "X-Mailer",
)


def _joined(fields: dict[str, list], name: str) -> str | None:
    """Every field of that name, decoded and joined with commas: RFC 2369 wants one List-Unsubscribe,
    but mailers (nodemailer given several URIs) write one field per URI, and each counts."""
    values = [decode_header(v) for v in fields.get(name) or ()]
    return ", ".join(v for v in values if v) or None


def _addresses(fields: dict[str, list], name: str) -> tuple[str, ...]:
    values = fields.get(name)
    if not values:
        return ()
    if len(values) == 1 and isinstance(values[0], str) and (m := _PLAIN_ADDRESS.fullmatch(values[0])):
        return (m.group(1) or m.group(2),)  # `Name <a@b>` or `a@b`: what getaddresses gives, without it
    try:
        pairs = email.utils.getaddresses([str(v) for v in values])
    except (ValueError, IndexError, TypeError):
        return ()
    return tuple(addr.strip() for _, addr in pairs if addr and "@" in addr)


_REGISTRY = HeaderRegistry()


def _recipients(fields: dict[str, list], name: str) -> tuple[str, ...]:
    """The addresses of To or Cc, malformed ones too, as written (`bob@`, `junk`, `Jo <jo@x.com`): whoever
    is named as a recipient is judged, and an entry that is not a well-formed address gets
    INVALID_RECIPIENT rather than being passed over or repaired. Groups (`undisclosed-recipients:;`) name
    nobody but their members."""
    values = fields.get(name)
    if not values:
        return ()
    if len(values) == 1 and isinstance(values[0], str) and (m := _PLAIN_ADDRESS.fullmatch(values[0])):
        return (m.group(1) or m.group(2),)
    found: list[str] = []
    for value in values:
        try:  # the stdlib's own address-list parser (what HeaderRegistry uses), entry by entry
            entries = get_address_list(str(value))[0].addresses
        except Exception:  # on hostile input: whatever it is, nobody valid is named
            found.append(str(value).strip()[:254] or "<>")
            continue
        for entry in entries:
            text = str(entry).strip()
            try:
                header = _REGISTRY(name, text)
            except Exception:  # e.g. an entry folded over lines the stdlib's Address refuses (CR or LF)
                found.append(" ".join(text.split())[:254] or "<>")
                continue
            if entry.all_defects or header.defects:
                found.append(text[:254] or "<>")  # judged as written, so the refusal quotes it
            else:
                found += [a.addr_spec.strip() or "<>" for a in header.addresses]  # type: ignore[attr-defined]
    return tuple(found)


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
        links.append(
            Link(
                url=url if "://" in url or url.lower().startswith("mailto:") else f"http://{url}",
                text=" ".join(context.split()),
            )
        )
    return tuple(links)


def _is_attachment(part: Message) -> bool:
    disposition = _header(part, "Content-Disposition").split(";", 1)[0].strip().lower()
    return disposition == "attachment"


Shown = list[tuple[str, str]]


def _pick(ctype: str, children: list, shown_of) -> Shown | None:
    """What a client displays of a multipart (RFC 2046): of an alternative, the last part it understands;
    of a related, its root; of anything else, every part. `shown_of(child)` may answer None (the fast
    path cannot read that child), which is passed up."""
    if ctype == "multipart/alternative":
        for child in reversed(children):
            shown = shown_of(child)
            if shown is None or shown:
                return shown
        return []
    if ctype == "multipart/related":
        children = children[:1]
    found: Shown = []
    for child in children:
        got = shown_of(child)
        if got is None:
            return None
        found.extend(got)
    return found


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
        return _pick(ctype, children, lambda child: _shown_parts(child, defects, budget)) or []
    if _is_attachment(msg) or ctype not in ("text/plain", "text/html"):
        return []
    return [(ctype, _payload_text(msg, defects))]


def blank_line(raw: bytes) -> tuple[int, int] | None:
    """Where the first blank line (CRLF CRLF, or a bare LF LF) ends the header block: (end of the header
    block with its last line break, start of the body); None when there is none. A bare-LF blank line
    is looked for only before the CRLF one, not through the whole body of a CRLF message."""
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n", 0, len(raw) if crlf < 0 else crlf + 1)
    if lf >= 0:
        return lf + 1, lf + 2
    if crlf >= 0:
        return crlf + 2, crlf + 4
    return None


def _split_head(raw: bytes) -> tuple[bytes, bytes] | None:
    """(header block, body) at the first blank line; None when there is none."""
    at = blank_line(raw)
    return None if at is None else (raw[: at[0]], raw[at[1] :])


def _parsed_head(head: bytes) -> Message:
    """The header block as email.message_from_bytes(head + CRLF) parses it (fast where it is regular)."""
    msg = parse_head(head)
    return email.message_from_bytes(head + b"\r\n") if msg is None else msg


def _leaf(head: bytes, body: bytes) -> Message:
    part = _parsed_head(head)
    part.set_payload(body.decode("ascii", "surrogateescape"))  # as the stdlib's bytes parser stores it
    return part


def _fast_shown(
    head: bytes,
    body: bytes,
    defects: list[str],
    budget: list[int],
    depth: int = 0,
    parsed: Message | None = None,
) -> list[tuple[str, str]] | None:
    """The shown parts, cutting multipart bodies at their boundaries with bytes.find instead of the
    stdlib's line-by-line parser. None whenever the structure is anything but regular: the caller then
    uses the stdlib parser, which is lenient with broken MIME."""
    if parsed is not None:
        part = parsed
        part.set_payload(body.decode("ascii", "surrogateescape"))
    else:
        part = _leaf(head, body)
    if not part.is_multipart() and part.get_content_maintype() != "multipart":
        return _shown_parts(part, defects, budget)
    boundary = part.get_boundary()
    if not boundary or depth > 10 or not boundary.isascii():
        return None
    delimiter = b"--" + boundary.encode("ascii")
    starts = []
    pos = 0 if body.startswith(delimiter) else None
    search_from = 0
    while True:
        if pos is None:
            at = body.find(b"\n" + delimiter, search_from)
            if at < 0:
                return None  # no closing delimiter: irregular
            pos = at + 1
        after = body[pos + len(delimiter) : pos + len(delimiter) + 2]
        line_end = body.find(b"\n", pos)
        if after == b"--":
            break
        if line_end < 0 or body[pos + len(delimiter) : line_end].strip():
            return None
        starts.append((pos, line_end + 1))
        search_from, pos = line_end, None
    ends = [s for s, _ in starts[1:]] + [pos]
    ctype = part.get_content_type()
    children = []
    for (_, start), end in zip(starts, ends):
        chunk = body[start:end]
        chunk = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1] if chunk.endswith(b"\n") else chunk
        split = (
            (b"", chunk[2:])
            if chunk.startswith(b"\r\n")
            else (b"", chunk[1:])
            if chunk.startswith(b"\n")
            else _split_head(chunk)
        )
        if split is None:
            return None
        children.append(split)
    if not children:
        return None
    return _pick(ctype, children, lambda child: _fast_shown(child[0], child[1], defects, budget, depth + 1))


_MSG_ID = re.compile(r"<([^<>\s\x00-\x1f\x7f\ud800-\udfff]{1,250})>")


def message_id(value: str) -> str:
    """The id in a Message-ID field (RFC 5322 3.6.4), without its angle brackets; "" when there is none
    (a bare id without brackets is taken as it is, if it is one word)."""
    m = _MSG_ID.search(value)
    if m:
        return m.group(1)
    value = value.strip()
    return value if 0 < len(value) <= 250 and value.isprintable() and " " not in value else ""


def parse_email(raw: bytes) -> EmailContent:
    """What a reader of the message sees, and the headers the rules need; `Unparseable` when it cannot be
    read or is past a limit (the module's docstring)."""
    # a cheap bound first ("boundary" in either case), the exact count only past it
    bound = raw.count(b"oundary") + raw.count(b"OUNDARY")
    multiparts = len(_BOUNDARY.findall(raw)) if bound > MAX_MULTIPARTS else 0
    if multiparts > MAX_MULTIPARTS:
        raise Unparseable(
            f"{multiparts} multipart containers, more than the {MAX_MULTIPARTS} the gateway reads"
        )
    end = _HEAD_END.search(raw)
    head = raw if end is None else raw[: end.start()]
    fields = len(_FIELD_START.findall(head))
    if fields > MAX_HEADER_FIELDS:
        raise Unparseable(f"{fields} header fields, more than the {MAX_HEADER_FIELDS} the gateway reads")
    try:
        return _parse_email(raw)
    except RecursionError:
        raise Unparseable("its structure is nested too deep to read") from None
    except Exception as exc:  # anything else the stdlib parser or a decoder raised on hostile bytes
        raise Unparseable(f"{type(exc).__name__}: {exc}"[:200]) from None


def _shown_of(raw: bytes) -> tuple[Message, list[str], list[tuple[str, str]]]:
    """The parsed head, the defects, and the parts a reader is shown: (content type, decoded text)."""
    split = _split_head(raw)
    defects: list[str] = []
    shown = None
    if split is not None:
        msg = _parsed_head(split[0])
        try:
            shown = _fast_shown(split[0], split[1], defects, [_MAX_PARTS], parsed=msg)
        except (ValueError, LookupError, TypeError, UnicodeError):
            shown = None  # anything odd: the stdlib parser below copes with broken MIME
    if shown is None:
        msg = email.message_from_bytes(raw)
        defects = [type(d).__name__ for d in msg.defects]
        shown = _shown_parts(msg, defects, [_MAX_PARTS])
    return msg, defects, shown


def html_documents(raw: bytes) -> list[str]:
    """The HTML parts a reader is shown, decoded (for the evidence of a refusal); [] when unreadable."""
    try:
        return [body for ctype, body in _shown_of(raw)[2] if ctype == "text/html"]
    except Exception:  # what parse_email would call Unparseable: no evidence to give
        return []


def _parse_email(raw: bytes) -> EmailContent:
    msg, defects, shown = _shown_of(raw)
    texts: list[str] = []
    links: list[Link] = []
    for ctype, body in shown:
        if ctype == "text/html":
            text, found = html_render.render(body)
        else:
            text, found = body.strip(), _plain_links(body)
        texts.append(text)
        links.extend(found)
    if msg.get_content_maintype() not in ("text", "multipart"):
        defects.append(f"body is {msg.get_content_type()}, nothing readable")
    visible = "\n".join(t for t in texts if t)
    fields = _fields(msg)
    return EmailContent(
        subject=decode_header(_first(fields, "subject")),
        from_addresses=_addresses(fields, "from"),
        sender_address=next(iter(_addresses(fields, "sender")), None),
        reply_to=_addresses(fields, "reply-to"),
        to_addresses=_recipients(fields, "to") + _recipients(fields, "cc"),
        in_reply_to=decode_header(_first(fields, "in-reply-to")) or None,
        references=decode_header(_first(fields, "references")) or None,
        list_unsubscribe=_joined(fields, "list-unsubscribe"),
        list_unsubscribe_post=decode_header(_first(fields, "list-unsubscribe-post")) or None,
        visible_text=visible,
        links=tuple(links),
        folded_text=lower(visible),
        declared_explicit=_as_text(_first(fields, EXPLICIT_HEADER.lower())).strip().lower() in _TRUE,
        size=len(raw),
        defects=tuple(defects),
        message_id=message_id(_as_text(_first(fields, "message-id"))),
        campaign=tuple(
            (name, value[:200])
            for name in CAMPAIGN_FIELDS
            if (value := " ".join(decode_header(_first(fields, name.lower())).split()))
        ),
    )
