"""gateway/content/fields.py against the stdlib parser it stands in for.

Where parse_head answers at all, its fields, lookups and MIME parameters are the stdlib's; and parse_email
gives the same EmailContent with it as with the stdlib parser alone.
"""

from __future__ import annotations

import email
import email.errors

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.content import fields, mime

NAMES = [
    "Subject",
    "From",
    "To",
    "Cc",
    "Content-Type",
    "content-type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "MIME-Version",
    "List-Unsubscribe",
    "X-A",
    "x-a",
    "X-Gateway-Sexually-Explicit",
]
FIELD = st.tuples(
    st.sampled_from(NAMES * 4 + ["", "Bad Name", "From ", "Ünï", "X:Y"]),
    st.sampled_from([":", ": ", ": ", ":\t"] * 3 + [" :", ""]),
    st.sampled_from(
        [
            "",
            "x",
            "  padded  ",
            "text/html; charset=utf-8",
            "multipart/alternative; boundary=b",
            'text/plain; charset="iso-8859-1"',
            "=?utf-8?q?caf=C3=A9?=",
            "a@b.example",
            "Name <a@b.example>, c@d.example",
            "quoted-printable",
            "inline; filename=x",
            "caf\u00e9",
            "\U0001f600",
            "a\x00b",
            "a\x0bb",
            "a\x1cb",
            "attachment; filename*=utf-8''caf%C3%A9.txt",
            'text/plain; charset="utf-8"; format=flowed',
            'multipart/mixed; boundary="=_a b"',
            'text/plain; name*0="a"; name*1="b"',
            "text/html; charset=utf-8; charset=latin-1",
            "text/plain; ;;=x; novalue",
        ]
    ),
).map(lambda t: (t[0] + t[1] + t[2]).encode("utf-8"))
OTHER = st.sampled_from([b" continued", b"\tcontinued", b" ", b"From someone", b"\xff\xfe", b""])
LINE = st.one_of(FIELD, FIELD, FIELD, FIELD, OTHER)  # mostly fields, so that many blocks are regular
ENDING = st.sampled_from([b"\r\n"] * 20 + [b"\n", b"\r"])
heads = st.lists(st.tuples(LINE, ENDING), max_size=12).map(lambda lines: b"".join(a + b for a, b in lines))
_HEADER_DEFECTS = (
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.InvalidHeaderDefect,
    email.errors.FirstHeaderLineIsContinuationDefect,
)


@settings(max_examples=1500, deadline=None)
@given(head=heads)
@example(head=b"Subject: a\r\n b\r\n\tc\r\nFrom: x@y\r\n")
@example(head=b"Content-Type: text/plain;\r\n charset=utf-8\r\nContent-Type: text/html\r\n")
@example(head=b":no name\r\n")
def test_same_fields_as_the_stdlib(head):
    ours = fields.parse_head(head)
    theirs = email.message_from_bytes(head + b"\r\n")
    if ours is None:
        return
    assert not [d for d in theirs.defects if isinstance(d, _HEADER_DEFECTS)]
    assert ours.items() == theirs.items()
    for name in NAMES + ["absent"]:
        assert ours.get(name) == theirs.get(name)
        assert ours.get_all(name) == theirs.get_all(name)
    assert ours.get_content_type() == theirs.get_content_type()
    assert ours.get_params() == theirs.get_params()
    assert ours.get_content_charset() == theirs.get_content_charset()
    assert ours.get_boundary() == theirs.get_boundary()
    assert ours.get_filename() == theirs.get_filename()


def test_lookups_follow_changes_to_the_fields():
    msg = fields.parse_head(b"Content-Type: text/plain\r\nX-A: 1\r\n")
    assert msg.get("x-a") == "1"
    msg.replace_header("X-A", "2")
    msg["X-B"] = "3"
    msg.set_boundary("b")
    del msg["x-a"]
    assert (msg.get("x-a"), msg.get("x-b"), msg.get_boundary()) == (None, "3", "b")


def test_irregular_blocks_are_left_to_the_stdlib():
    for head in (
        b"Subject: x\nFrom: y\r\n",
        b"Subject: x\r\rFrom: y\r\n",
        b" lead\r\nX: y\r\n",
        b"From someone Tue\r\nX: y\r\n",
        b"No colon here\r\n",
        b":\r\n",
        b"Subject: x",
    ):
        assert fields.parse_head(head) is None, head


BODIES = [
    b"<p>Hello &amp; welcome</p>",
    b"plain text\r\n",
    b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n",
    b"=E9t=E9\r\n",
    b"aGVsbG8=\r\n",
]


@settings(max_examples=500, deadline=None)
@given(head=heads, body=st.sampled_from(BODIES))
@example(head=b" continued\r\nSubject:\r\nTo:\r\n continued\r\n continued\r\n", body=BODIES[0])  # folded To
def test_parse_email_is_the_same_either_way(head, body):
    raw = head + b"\r\n" + body
    fast = mime.parse_email(raw)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mime, "parse_head", lambda head: None)
        assert mime.parse_email(raw) == fast
