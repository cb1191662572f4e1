"""Line ends in a message: CRLF, and nothing else, is a line end anywhere the gateway sends a message.

A bare CR or a bare LF is where SMTP smuggling starts (the 2023 class): an upstream that ends DATA on
`<LF>.<LF>` or `<CR>.<CR>` would take what follows as a second message the gateway never judged, with any
envelope. The SMTP door refuses such messages by default, as Postfix's `smtpd_forbid_bare_newline`
does, or (smtp.bare_newlines = "normalize") turns every bare CR and bare LF into CRLF before the message
is judged, so what is judged is what goes; the relay normalises again before it dot-stuffs, so no other
line end can reach an upstream whatever a caller passes it.
"""

from __future__ import annotations

import re

from ..smtp import dots

_LINE_END = re.compile(rb"\r\n|\r|\n")

REFUSAL = "bare CR or LF in the message: every line must end in CRLF (RFC 5321 2.3.8)"


def has_bare(data: bytes) -> bool:
    """Whether a CR or an LF stands anywhere but in a CRLF pair (one memchr pass in C: smtp/_dots.c)."""
    return dots.has_bare(data)


def crlf(data: bytes) -> bytes:
    """Every line end CRLF: a bare CR and a bare LF each become one (CR CR LF is two line ends)."""
    return _LINE_END.sub(b"\r\n", data) if has_bare(data) else data
