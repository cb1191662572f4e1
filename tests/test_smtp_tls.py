"""TLS and credentials: STARTTLS before AUTH where required, an upstream with STARTTLS and AUTH, and the
start-up refusals that keep credentials off the network."""

from __future__ import annotations

import smtplib
import ssl
import subprocess
import sys

import pytest
from helpers import REPO, self_signed_certificate
from servers import GatewayProcess, Sink, free_port
from test_smtp import CONFIG, ENV, PASSWORD, RECEIPT


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def start(tmp_path, smtp_extra: str, *sink_args: str, upstream_user: str = ""):
    port, upstream = free_port(), free_port()
    sink = Sink(tmp_path / "sink", upstream, *sink_args)
    config = tmp_path / "gateway.toml"
    text = CONFIG.format(
        http_port=free_port(), tmp=tmp_path, port=port, upstream=upstream, smtp_extra=smtp_extra
    )
    if upstream_user:
        text = text.replace(f"smtp://127.0.0.1:{upstream}", f"smtp://{upstream_user}@127.0.0.1:{upstream}")
    config.write_text(text)
    gateway = GatewayProcess(config, port, tmp_path, {**ENV, "RELAY_PASSWORD": "relay-pass-123"})
    return port, sink, gateway


def test_auth_waits_for_starttls_when_plaintext_auth_is_off(tmp_path, certificate):
    cert, key = certificate
    port, sink, gateway = start(
        tmp_path, f'tls_cert = "{cert}"\ntls_key = "{key}"\nallow_plaintext_auth = false'
    )
    try:
        with smtplib.SMTP("127.0.0.1", port) as c:
            c.ehlo()
            assert c.has_extn("starttls") and not c.has_extn("auth")
            code, text = c.docmd("AUTH", "PLAIN AGFjbWUAYWNtZS1zbXRwLXNlY3JldC0x")
            assert code == 538 and b"Encryption required" in text
            assert c.mail("orders@news.demo.example")[0] == 250
            assert c.rcpt("a@example.com")[0] == 530
            c.rset()
            c.starttls(context=unverified())
            c.ehlo()
            assert c.has_extn("auth")
            assert c.docmd("STARTTLS") == (503, b"5.5.1 TLS already active")  # RFC 3207 4.2: never twice
            # an answer to AUTH's challenge longer than a line may be: a 500, not an internal error
            assert c.docmd("AUTH", "PLAIN")[0] == 334
            assert c.docmd("A" * 1100)[0] == 500
            assert c.docmd("NOOP")[0] == 250
            c.login("acme-tx", PASSWORD)
            assert c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT) == {}
        ((_meta, data),) = sink.messages()
        assert b"with ESMTPSA" in data
    finally:
        sink.stop()
        gateway.stop()
    output = gateway.output()
    assert "Traceback" not in output and "ERROR" not in output, output[-3000:]


def test_relay_through_an_upstream_with_starttls_and_auth(tmp_path, certificate):
    cert, key = certificate
    extra = 'upstream_password_env = "RELAY_PASSWORD"\nupstream_verify_tls = false'
    port, sink, gateway = start(
        tmp_path,
        extra,
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--auth",
        "relayuser:relay-pass-123",
        upstream_user="relayuser",
    )
    try:
        with smtplib.SMTP("127.0.0.1", port) as c:
            c.login("acme-tx", PASSWORD)
            assert c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT) == {}
            assert c.sendmail("orders@news.demo.example", ["b@example.com"], RECEIPT) == {}
        messages = sink.messages()
        assert [m["authenticated_as"] for m, _ in messages] == ["relayuser", "relayuser"]
        assert all(m["tls"] for m, _ in messages)
    finally:
        sink.stop()
        gateway.stop()


def serve_exit(tmp_path, text: str) -> subprocess.CompletedProcess:
    config = tmp_path / "g.toml"
    config.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_listen_beyond_loopback_with_a_demo_credential(tmp_path, certificate):
    cert, key = certificate
    text = (
        (REPO / "config" / "gateway.toml")
        .read_text()
        .replace('listen = "127.0.0.1:2525"', f'listen = "0.0.0.0:{free_port()}"')
    )
    text = text.replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{free_port()}"')
    text = text.replace("[smtp]", f'[smtp]\ntls_cert = "{cert}"\ntls_key = "{key}"', 1)
    proc = serve_exit(tmp_path, text)
    assert (
        proc.returncode == 2
        and "still has a demo credential" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_refuses_plaintext_auth_beyond_loopback(tmp_path):
    text = CONFIG.format(
        http_port=free_port(), tmp=tmp_path, port=free_port(), upstream=free_port(), smtp_extra=""
    ).replace('listen = "127.0.0.1:', 'listen = "0.0.0.0:')
    proc = serve_exit(tmp_path, text)
    assert proc.returncode == 2 and "AUTH would cross the network in plain text" in proc.stderr


def test_a_port_already_taken_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = serve_exit(
            tmp_path,
            CONFIG.format(
                http_port=free_port(), tmp=tmp_path, port=port, upstream=free_port(), smtp_extra=""
            ),
        )
    assert proc.returncode == 2 and f"cannot listen for SMTP on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_relay_to_an_smtps_upstream(tmp_path, certificate):
    cert, key = certificate
    port, upstream = free_port(), free_port()
    sink = Sink(tmp_path / "sink", upstream, "--tls-cert", str(cert), "--tls-key", str(key), "--implicit-tls")
    config = tmp_path / "gateway.toml"
    config.write_text(
        CONFIG.format(
            http_port=free_port(),
            tmp=tmp_path,
            port=port,
            upstream=upstream,
            smtp_extra="upstream_verify_tls = false",
        ).replace("smtp://127.0.0.1", "smtps://127.0.0.1")
    )
    gateway = GatewayProcess(config, port, tmp_path, ENV)
    try:
        with smtplib.SMTP("127.0.0.1", port) as c:
            c.login("acme-tx", PASSWORD)
            assert c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT) == {}
        ((meta, _),) = sink.messages()
        assert meta["tls"] is True
    finally:
        sink.stop()
        gateway.stop()


def test_a_client_that_aborts_the_tls_handshake_is_a_line_in_the_log_not_a_traceback(tmp_path, certificate):
    import socket
    import time

    cert, key = certificate
    port, sink, gateway = start(tmp_path, f'tls_cert = "{cert}"\ntls_key = "{key}"')
    try:
        for garbage in (b"", b"\x16\x03\x01\x00\x05hello", b"GET / HTTP/1.0\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.recv(1024)
                s.sendall(b"EHLO x\r\n")
                time.sleep(0.1)
                s.recv(4096)
                s.sendall(b"STARTTLS\r\n")
                assert s.recv(1024).startswith(b"220")
                s.sendall(garbage)  # then gone, mid-handshake
        with smtplib.SMTP("127.0.0.1", port) as c:  # and the door goes on
            assert c.ehlo()[0] == 250
        time.sleep(0.5)
    finally:
        sink.stop()
        assert gateway.stop() == 0
    output = gateway.output()
    assert "Traceback" not in output and "ERROR" not in output, output[-3000:]


def test_an_implicit_tls_listener_for_clients_that_speak_smtps(tmp_path, certificate):
    import socket
    import time

    cert, key = certificate
    smtps = free_port()
    port, sink, gateway = start(
        tmp_path,
        f'tls_cert = "{cert}"\ntls_key = "{key}"\nsmtps_listen = "127.0.0.1:{smtps}"\nallow_plaintext_auth = false',
    )
    try:
        with smtplib.SMTP_SSL("127.0.0.1", smtps, context=unverified()) as c:
            c.ehlo()
            assert c.has_extn("auth") and not c.has_extn("starttls")  # encrypted already
            c.login("acme-tx", PASSWORD)
            assert c.sendmail("orders@news.demo.example", ["a@example.com"], RECEIPT) == {}
        ((_, data),) = sink.messages()
        assert b"with ESMTPSA" in data.split(b"\r\n\r\n", 1)[0]
        with smtplib.SMTP_SSL("127.0.0.1", smtps, context=unverified()) as c:  # RFC 3207 4.2: never twice
            c.ehlo()
            assert c.docmd("STARTTLS") == (503, b"5.5.1 TLS already active")
        for garbage in (b"", b"EHLO plain text\r\n"):  # not TLS at all, or gone mid-handshake
            with socket.create_connection(("127.0.0.1", smtps), timeout=10) as s:
                s.sendall(garbage)
        time.sleep(0.5)
        with smtplib.SMTP("127.0.0.1", port) as c:
            assert c.ehlo()[0] == 250
    finally:
        sink.stop()
        assert gateway.stop() == 0
    output = gateway.output()
    assert "SMTPS (implicit TLS) listening" in output
    assert "Traceback" not in output and "ERROR" not in output, output[-3000:]
