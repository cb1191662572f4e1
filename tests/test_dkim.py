"""DKIM: relayed mail of a sender with a key is signed after the gateway's own headers, and the signature
covers List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 §4); verified with dkimpy."""

from __future__ import annotations

import smtplib
import subprocess
import sys

import dkim
from helpers import ACME_SENDER, REPO
from servers import GatewayProcess, Sink, free_port

KEYS = REPO / "tests" / "keys"
PUBLIC = (KEYS / "dkim-test.pub.b64").read_text().strip()
SAMPLE = (REPO / "config" / "samples" / "newsletter.eml").read_bytes().replace(b"\n", b"\r\n")

CONFIG = (
    """
[gateway]
database = "sqlite:///{tmp}/gateway.db"
state_dir = "{tmp}/state"
public_url = "https://gw.example"

[smtp]
listen = "127.0.0.1:{smtp}"
upstream = "smtp://127.0.0.1:{upstream}"

[http]
listen = "127.0.0.1:{http}"

"""
    + ACME_SENDER
    + """dkim_selector = "gw2026"
{key}
"""
)


def dns(name: bytes, timeout: int = 5) -> bytes:
    assert name == b"gw2026._domainkey.news.demo.example."
    return f"v=DKIM1; k=rsa; p={PUBLIC}".encode()


def test_relayed_mail_carries_a_signature_covering_the_unsubscribe_headers(tmp_path):
    smtp, http, upstream = free_port(), free_port(), free_port()
    sink = Sink(tmp_path / "sink", upstream)
    config = tmp_path / "gateway.toml"
    config.write_text(
        CONFIG.format(
            tmp=tmp_path,
            smtp=smtp,
            http=http,
            upstream=upstream,
            key=f'dkim_key_file = "{KEYS / "dkim-test.pem"}"',
        )
    )
    gateway = GatewayProcess(
        config,
        smtp,
        tmp_path,
        {"ACME_SMTP_PASSWORD": "pw-0123456789", "GATEWAY_TOKEN_SECRET": "secret-0123456789abcdef"},
    )
    try:
        with smtplib.SMTP("127.0.0.1", smtp) as client:
            client.login("acme", "pw-0123456789")
            assert client.sendmail("news@news.demo.example", ["reader@example.com"], SAMPLE) == {}
        ((_, data),) = sink.messages()
    finally:
        sink.stop()
        assert gateway.stop() == 0
    assert data.startswith(b"DKIM-Signature: ")
    signature = (
        data.split(b"\r\n\r\n", 1)[0].decode().split("DKIM-Signature:", 1)[1].split("\r\nReceived:", 1)[0]
    )
    signed = [h.strip() for h in signature.split("h=", 1)[1].split(";", 1)[0].replace("\r\n", "").split(":")]
    assert {"from", "subject", "date", "list-unsubscribe", "list-unsubscribe-post"} <= set(signed)
    assert "d=news.demo.example" in signature and "s=gw2026" in signature
    assert dkim.verify(data, dnsfunc=dns)
    tampered = data.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        b"List-Unsubscribe-Post: List-Unsubscribe=Two-Clicks",
    )
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_an_unusable_key_stops_the_start_with_a_clear_line(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    config = tmp_path / "gateway.toml"
    for key, expected in (
        (f'dkim_key_file = "{bad}"', "not a usable"),
        (f'dkim_key_file = "{tmp_path / "missing.pem"}"', "cannot read dkim_key_file"),
    ):
        config.write_text(
            CONFIG.format(tmp=tmp_path, smtp=free_port(), http=free_port(), upstream=free_port(), key=key)
        )
        proc = subprocess.run(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr
