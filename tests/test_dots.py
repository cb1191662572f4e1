"""The C dots of SMTP's DATA (gateway/smtp/_dots.c) against the bytes methods they replace (dots.py).

Each C function must return exactly what its reference returns, on any bytes: dots, CRs and LFs in every
order, terminators cut short, at the edges and in the middle, with 8-bit bytes mixed in.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.smtp import dots

# C against its reference: scripts/test's pass without the extensions (GATEWAY_NO_EXTENSIONS) deselects these
compiled = pytest.mark.c_extension
REF = dots.REFERENCE


def test_the_c_dots_are_built():
    """pip install builds _dots.c; the extension is optional there, so here a failed build must show."""
    if os.environ.get("GATEWAY_NO_EXTENSIONS"):
        assert not dots.COMPILED
    else:
        assert dots.COMPILED, "gateway/smtp/_dots.c was not built: see pip's output for the compiler error"


PIECES = [
    b"\r",
    b"\n",
    b".",
    b"..",
    b"\r\n",
    b"\r\n.",
    b"\r\n..",
    b"\r\n...",
    b"\r\n.\r\n",
    b"\n.",
    b"\n..",
    b".\r\n",
    b"x",
    b"line of text",
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b" ",
]
data = st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join)


@compiled
@settings(max_examples=3000, deadline=None)
@given(data=data, start=st.integers(0, 200))
@example(data=b"\r\n.\r\n", start=0)
@example(data=b"x\r\n.\r\n", start=1)
@example(data=b"x\r\n.\r\n", start=2)
@example(data=b"\r\n.\r", start=0)
@example(data=b"..\r\n..", start=0)
@example(data=b"\n.", start=0)
@example(data=b"\n", start=0)
@example(data=b"\r", start=0)
@example(data=b"a\r\n\r", start=0)
def test_the_same_as_the_bytes_methods(data, start):
    assert dots.stuff(data) == REF["stuff"](data)
    assert dots.unstuff(data) == REF["unstuff"](data)
    assert dots.find_end(data, start) == REF["find_end"](data, start)
    assert dots.find_end(bytearray(data), start) == REF["find_end"](data, start)
    assert dots.has_bare(data) is REF["has_bare"](data)


@compiled
def test_big_messages_and_what_is_handed_back():
    lines = b"".join(b"." * (i % 3) + b"text %d\r\n" % i for i in range(20_000))  # about 200 KB
    for name in ("stuff", "unstuff"):
        assert getattr(dots, name)(lines) == REF[name](lines)
    assert dots.find_end(lines + b".\r\n", 0) == REF["find_end"](lines + b".\r\n", 0) == len(lines) - 2
    plain = b"no line here starts with a dot\r\nnor here\r\n"
    assert dots.stuff(plain) is plain and dots.unstuff(plain) is plain  # nothing to change: no copy

    class Sub(bytes):
        pass

    same = dots.stuff(Sub(plain))
    assert same == plain and type(same) is bytes


@compiled
def test_wrong_arguments_are_errors():
    with pytest.raises(TypeError):
        dots.stuff("text")
    with pytest.raises(TypeError):
        dots.unstuff(bytearray(b"x"))
    with pytest.raises(TypeError):
        dots.find_end("text", 0)
    if dots.COMPILED:
        with pytest.raises(ValueError):
            dots.find_end(b"x", -1)
        with pytest.raises(TypeError):
            dots.find_end(b"x")
        assert dots.find_end(b"\r\n.\r\n", 2**63 - 1) == -1
