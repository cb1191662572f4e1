"""tests/fuzz_targets.py under hypothesis: random bytes, malformed MIME and real mail cut and corrupted,
through parsing, the rules, the header rewrite and DATA framing (bounded: a few hundred examples each;
scripts/fuzz.py runs the same target for as long as you like)."""

from __future__ import annotations

from fuzz_targets import through_the_gateway
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import SAMPLE, mime_messages

from gateway.content.mime import MAX_HEADER_FIELDS, MAX_MULTIPARTS, Unparseable, parse_email

FAST = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

line_ends = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\r"])


@FAST
@given(data=st.binary(max_size=3000))
def test_any_bytes(data):
    through_the_gateway(data)


@FAST
@given(data=mime_messages())
def test_malformed_mime(data):
    through_the_gateway(data)


@FAST
@given(
    cut=st.integers(min_value=0, max_value=len(SAMPLE)),
    noise=st.binary(max_size=60),
    ends=st.lists(line_ends, min_size=1, max_size=4),
)
def test_real_mail_cut_corrupted_and_with_any_line_ends(cut, noise, ends):
    lines = (SAMPLE[:cut] + noise + SAMPLE[cut:]).split(b"\r\n")
    data = b"".join(line + ends[i % len(ends)] for i, line in enumerate(lines))
    through_the_gateway(data)


@FAST
@given(
    dots_=st.lists(
        st.sampled_from([b".", b"..", b".\r\n", b"\r\n.", b"x", b"\r\n", b"\n.", b"\r."]), max_size=30
    )
)
def test_dots_anywhere(dots_):
    through_the_gateway(b"Subject: dots\r\n\r\n" + b"".join(dots_))


def test_the_documented_limits_are_clear_refusals():
    deep = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(MAX_MULTIPARTS + 1)
    )
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADER_FIELDS + 1)) + b"\r\nbody"
    for data, what in ((deep, b"multipart containers"), (many, b"header fields")):
        try:
            parse_email(data)
        except Unparseable as exc:
            assert what.decode() in str(exc)
        else:
            raise AssertionError(f"past the limit on {what!r} and still read")
    parse_email(
        deep.split(b'Content-Type: multipart/mixed; boundary="b%d"' % MAX_MULTIPARTS)[0]
    )  # at it: read
