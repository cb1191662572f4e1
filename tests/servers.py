"""Real processes for end-to-end tests: the gateway (`gateway serve`), the test sink, Postfix's smtp-sink.

Ready means the port accepts connections; nothing sleeps on a guess.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from helpers import REPO

PYTHON = sys.executable


_GIVEN: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never the same one twice in this process (the kernel may hand
    a just-closed port out again, and two listeners of one test would then collide)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"process exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {port} after {timeout} s")


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError("condition not met in time")


class Sink:
    """tests/smtp_sink.py (or another upstream of the tests writing the same files) in its own process."""

    def __init__(self, out: Path, port: int | None = None, *extra: str, script: str = "smtp_sink.py") -> None:
        self.out, self.port = out, port or free_port()
        self.proc = subprocess.Popen(
            [
                PYTHON,
                str(REPO / "tests" / script),
                "--port",
                str(self.port),
                "--dir",
                str(out),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_port(self.port, self.proc)

    def messages(self) -> list[tuple[dict, bytes]]:
        found = []
        for meta in sorted(self.out.glob("*.json")):
            found.append((json.loads(meta.read_text()), meta.with_suffix(".eml").read_bytes()))
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class GatewayProcess:
    """`python -m gateway serve --config PATH`."""

    def __init__(self, config: Path, port: int, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.log = open(cwd / "gateway.log", "a")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "gateway", "serve", "--config", str(config)],
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        )
        wait_for_port(port, self.proc)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text()


class RawClient:
    """An SMTP client that writes exactly the bytes it is given (smtplib would mend them)."""

    def __init__(
        self,
        port: int,
        login: tuple[str, str] | None = None,
        source: str | None = None,
        ehlo: bytes = b"client.example",
    ) -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=30, source_address=(source, 0) if source else None
        )
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()
        if self.greeting[0] != 220:
            return
        self.command(b"EHLO " + ehlo)
        if login:
            plain = base64.b64encode(b"\0" + login[0].encode() + b"\0" + login[1].encode())
            assert self.command(b"AUTH PLAIN " + plain)[0] == 235

    def reply(self) -> tuple[int, bytes]:
        """(code, text) of the next reply; (0, b"") when the gateway has closed the connection."""
        while True:
            line = self.file.readline()
            if not line:
                return 0, b""
            if line[3:4] != b"-":
                return int(line[:3]), line[4:].strip()

    def command(self, line: bytes) -> tuple[int, bytes]:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def message(
        self, mail_from: bytes, data: bytes, recipients: tuple[bytes, ...] = (b"reader@example.com",)
    ) -> tuple[int, bytes]:
        code, text = self.command(b"MAIL FROM:<" + mail_from + b">")
        if code != 250:
            return code, text
        for recipient in recipients:
            assert self.command(b"RCPT TO:<" + recipient + b">")[0] == 250
        assert self.command(b"DATA")[0] == 354
        self.sock.sendall(data.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        return self.reply()

    def close(self) -> None:
        try:
            self.command(b"QUIT")
        except OSError:
            pass
        self.file.close()  # (its reference keeps the socket open otherwise)
        self.sock.close()
