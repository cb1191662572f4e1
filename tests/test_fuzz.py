"""No byte string and no malformed MIME makes `gateway check` crash: a verdict, or exit 2 with a message."""

from __future__ import annotations

import json

import pytest
from helpers import REPO, config_copy, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.content.mime import parse_email

SAMPLE = (REPO / "config" / "samples" / "newsletter.eml").read_bytes()


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    return str(config_copy(REPO / "config" / "gateway.toml", tmp_path_factory.mktemp("fuzz")))


def check_file(cfg: str, path, data: bytes) -> None:
    path.write_bytes(data)
    code, out, err = run_cli(
        "check", "--config", cfg, "--sender", "demo", "--to", "reader@example.com", str(path)
    )
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err and "internal error" not in err, err
    if code in (0, 1):
        assert json.loads(out)["verdict"] in ("pass", "reject")
    else:
        assert err.startswith("gateway: ") and err.count("\n") == 1


header_names = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
        "Reply-To",
        "Sender",
        "List-Unsubscribe",
        "Content-Disposition",
        "X-Gateway-Sexually-Explicit",
    ]
)
header_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "multipart/alternative; boundary=",
            'multipart/mixed; boundary="b"',
            "text/html; charset=bogus",
            "text/plain; charset=utf-7",
            "base64",
            "quoted-printable",
            "=?utf-8?b?////?=",
            "=?x?q?=ZZ?=",
            "<>",
            "a@",
            "@b",
            '"unterminated <x@y',
            "message/rfc822",
            'text/html; charset="utf-16"',
        ]
    ),
)
body_chunks = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"--b\r\n",
            b"--b--\r\n",
            b"<a href=",
            b"<div style='display:none'>",
            b"<!--",
            b"=\r\n",
            b"=ZZ",
            b"<script>",
            b"&#xFFFFFF;",
            b"&#0;",
            b"\xff\xfe",
            b"<a href='javascript:x'>unsubscribe</a>",
            b"Content-Type: text/html\r\n\r\n",
        ]
    ),
)


@st.composite
def mime_messages(draw) -> bytes:
    headers = draw(st.lists(st.tuples(header_names, header_values), max_size=10))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers).encode("utf-8", "surrogateescape")
    return head + b"\r\n" + b"".join(draw(st.lists(body_chunks, max_size=12)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000))
def test_any_bytes(cfg, tmp_path, data):
    check_file(cfg, tmp_path / "any.eml", data)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mime_messages())
def test_malformed_mime(cfg, tmp_path, data):
    check_file(cfg, tmp_path / "mime.eml", data)


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(SAMPLE)), noise=st.binary(max_size=40))
def test_truncated_and_corrupted_real_mail_still_parses(cut, noise):
    content = parse_email(SAMPLE[:cut] + noise + SAMPLE[cut:])
    assert isinstance(content.visible_text, str)


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
        + b"--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" * 400,
        b"Subject: " + b"=?utf-8?q?" + b"A" * 100_000 + b"?=\r\n\r\nbody",
        b"Content-Type: text/html\r\n\r\n" + b"<div>" * 50_000,
        b"Content-Type: text/html\r\n\r\n" + b"<a href='x'>" * 20_000,
        b"Content-Type: text/html\r\n\r\n<div style='display:none'>" + b"<div>" * 20_000,
        b"\x00" * 10_000,
        b"Content-Type: text/html\r\n\r\n&#" + b"9" * 5_000 + b"; <a href='&#" + b"1" * 5_000 + b"'>x</a>",
    ],
)
def test_pathological_inputs(cfg, tmp_path, data):
    check_file(cfg, tmp_path / "p.eml", data)
