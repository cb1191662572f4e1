"""The dots of a DATA section (RFC 5321 4.5.2): where the data ends, and the dot added to each line that
starts with one. Each is defined here by the bytes method it applies, and run by the C module `_dots`
(built from _dots.c at install) where it is built, which returns exactly the same.

The bytes methods are the reference: tests/test_dots.py checks the C functions against them on random
data, and they run wherever the C module is missing or GATEWAY_NO_EXTENSIONS is set.
"""

from __future__ import annotations

from ..content.scan import WANTED

END = b"\r\n.\r\n"


def find_end(buffer: bytes | bytearray, start: int) -> int:
    """Where CRLF.CRLF first starts at or after `start` (>= 0), or -1."""
    return buffer.find(END, start)


def unstuff(data: bytes) -> bytes:
    """The dot the client added to each line that starts with one taken off (a first line's by the caller)."""
    return data.replace(b"\r\n..", b"\r\n.")


def stuff(data: bytes) -> bytes:
    """A dot added to each line after the first that starts with one."""
    return data.replace(b"\n.", b"\n..")


def has_bare(data: bytes) -> bool:
    """Whether a CR or an LF stands anywhere but in a CRLF pair (three counts, no copy)."""
    pairs = data.count(b"\r\n")
    return data.count(b"\r") != pairs or data.count(b"\n") != pairs


REFERENCE = {"find_end": find_end, "unstuff": unstuff, "stuff": stuff, "has_bare": has_bare}

try:
    if not WANTED:
        raise ImportError("GATEWAY_NO_EXTENSIONS is set")
    from gateway.smtp import _dots
except ImportError:
    COMPILED = False
else:
    COMPILED = True
    find_end, unstuff, stuff, has_bare = _dots.find_end, _dots.unstuff, _dots.stuff, _dots.has_bare
