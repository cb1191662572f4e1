"""A message's header block parsed as `email.message_from_bytes` parses it, faster, for the regular case.

The stdlib's feed parser reads a header block line by line through a buffered state machine, and its
`Message.get` scans every field, lower-casing each name, on each call (the MIME code asks about ten times
per message: content type, charset, transfer encoding, disposition). Here a block whose every line is a
field or a continuation, ended by CRLF, is split in one pass into the same fields (compat32's
`header_source_parse`, as the feed parser applies it), and lookups go through a dictionary. Anything else
(a bare CR or LF, a line that is neither, a Unix From line, a leading continuation) answers None, and the
caller uses the stdlib parser, which also lists the defects.
"""

from __future__ import annotations

import re
from email import policy as _policies
from email.message import Message
from functools import lru_cache

_COMPAT32 = _policies.compat32
# A field name and its colon, as the feed parser's header pattern reads one ([\041-\071\073-\176]*:), but
# not empty: the feed parser takes ":value" as a defect.
_FIELD = re.compile(r"[\x21-\x39\x3b-\x7e]+:")


class IndexedMessage(Message):
    """A Message whose `get` looks fields up in a dictionary, rebuilt when the fields change."""

    _index: dict[str, tuple[str, str]] | None = None
    _indexed: tuple[list, int] | None = None

    def get(self, name, failobj=None):
        headers = self._headers  # type: ignore[attr-defined]  # the stdlib's list of (name, value) pairs
        if self._indexed is None or self._indexed[0] is not headers or self._indexed[1] != len(headers):
            index: dict[str, tuple[str, str]] = {}
            for field in headers:
                index.setdefault(field[0].lower(), field)
            self._index, self._indexed = index, (headers, len(headers))
        field = self._index.get(name.lower()) if self._index is not None else None
        return failobj if field is None else self.policy.header_fetch_parse(*field)

    def _get_params_preserve(self, failobj, header):
        """The parameters of a field, as Message has them: worked out once per distinct value (a
        sender's Content-Type is the same on every message) rather than by _parseparam on each ask."""
        value = self.get(header, _MISSING)
        if value is _MISSING:
            return failobj
        if type(value) is not str:  # an undecodable value comes as a Header: the stdlib's own way
            return super()._get_params_preserve(failobj, header)  # type: ignore[misc]  # the stdlib's own
        return list(_params_of(value))

    def replace_header(self, _name, _value):  # the one change made in place, keeping the list and its length
        self._indexed = None
        super().replace_header(_name, _value)


_MISSING = object()


@lru_cache(maxsize=256)
def _params_of(value: str) -> tuple:
    holder = Message(_COMPAT32)
    holder.set_raw("X", value)
    return tuple(Message._get_params_preserve(holder, None, "X"))  # type: ignore[attr-defined]


def parse_head(head: bytes) -> IndexedMessage | None:
    """The fields of a header block (each line ending in CRLF, the blank line excluded) as
    `email.message_from_bytes(head + b"\\r\\n")` gives them; None when the block is not that regular."""
    bare = head.replace(b"\r\n", b"")
    if b"\r" in bare or b"\n" in bare or not head.endswith(b"\r\n"):
        return None
    msg = IndexedMessage(_COMPAT32)
    current: list[str] = []
    for line in head.decode("ascii", "surrogateescape").split("\r\n")[:-1]:
        if line[:1] in (" ", "\t"):
            if not current:
                return None  # a continuation with no field before it
            current.append(line + "\r\n")
            continue
        if not _FIELD.match(line):
            return None
        if current:
            msg.set_raw(*_COMPAT32.header_source_parse(current))
        current = [line + "\r\n"]
    if current:
        msg.set_raw(*_COMPAT32.header_source_parse(current))
    msg.set_payload("")
    return msg
