"""Shared by the tests: configs pointed at a throwaway database, facts from TOML, the CLI in-process."""

from __future__ import annotations

import contextlib
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

from gateway.addresses import address_hash, normalize
from gateway.cli import main as cli_main
from gateway.model import Category, Channel, Consent, ConsentBasis, ConsentLevel, Reason, Suppression
from gateway.store import Store

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
CHECK_TIME = "2026-05-05T16:00:00+00:00"

# The senders the end-to-end mail tests share: a marketing stream and a transactional one (TOML).
ACME_SENDER = """[[sender]]
name = "acme"
brand = "Demo Outfitters"
physical_address = "123 Main St, Suite 4, Springfield, IL 62701"
from_domains = ["news.demo.example"]
smtp_username = "acme"
smtp_password_env = "ACME_SMTP_PASSWORD"
"""
ACME_TX_SENDER = """[[sender]]
name = "acme-tx"
brand = "Demo Outfitters"
from_domains = ["news.demo.example"]
category = "transactional"
smtp_username = "acme-tx"
smtp_password_env = "TX_SMTP_PASSWORD"
"""

# A gateway with both doors and the acme sender, for the end-to-end mail tests (format with tmp, smtp,
# http and upstream, and append more senders).
MAIL_GATEWAY = (
    """
[gateway]
database = "sqlite:///{tmp}/gateway.db"
state_dir = "{tmp}/state"
public_url = "http://127.0.0.1:{http}"

[smtp]
listen = "127.0.0.1:{smtp}"
upstream = "{upstream}"

[http]
listen = "127.0.0.1:{http}"

"""
    + ACME_SENDER
)


def shipped_config(tmp: Path, smtp_port: int, http_port: int) -> str:
    """config/gateway.toml as shipped, listening on these ports, with its database, outbox and state in
    `tmp` (for gateways started in the test's own process)."""
    text = (REPO / "config" / "gateway.toml").read_text()
    text = text.replace('listen = "127.0.0.1:2525"', f'listen = "127.0.0.1:{smtp_port}"')
    text = text.replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{http_port}"')
    text = text.replace("sqlite:///var/gateway.db", f"sqlite:///{tmp}/g.db")
    text = text.replace("maildir:var/outbox", f"maildir:{tmp}/outbox")
    return text.replace("[gateway]", f'[gateway]\nstate_dir = "{tmp}/state"', 1)


def config_copy(source: Path, tmp: Path, name: str = "gateway.toml") -> Path:
    """The config at `source`, with its database moved into `tmp`."""
    text = source.read_text()
    db = f'database = "sqlite:///{tmp / (source.stem + ".db")}"'
    text, count = re.subn(r"(?m)^database\s*=.*$", db, text)
    if not count:
        text = (
            text.replace("[gateway]", f"[gateway]\n{db}", 1)
            if "[gateway]" in text
            else f"[gateway]\n{db}\n" + text
        )
    target = tmp / name
    target.write_text(text)
    return target


def _time(value) -> datetime | None:
    if value is None:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def load_facts(store: Store, facts: dict) -> None:
    for s in facts.get("suppression", []):
        channel = Channel(s["channel"])
        address = normalize(channel, s["address"])
        await store.add_suppression(
            Suppression(
                channel,
                address_hash(address),
                address,
                s.get("scope", "global"),
                Reason(s["reason"]),
                s.get("source", "test"),
                _time(s["created_at"]),
                _time(s.get("expires_at")),
            )
        )
    for c in facts.get("consent", []):
        channel = Channel(c["channel"])
        address = normalize(channel, c["address"])
        await store.add_consent(
            Consent(
                channel,
                address_hash(address),
                address,
                c.get("scope", "global"),
                ConsentLevel.parse(c["level"]),
                c.get("source", "test"),
                c.get("evidence", ""),
                _time(c["obtained_at"]),
                _time(c.get("expires_at")),
                _time(c.get("revoked_at")),
                basis=ConsentBasis.parse(c.get("basis", "")),
            )
        )
    for n in facts.get("send", []):
        channel = Channel(n.get("channel", "sms"))
        await store.record_send(
            channel,
            normalize(channel, n["address"]),
            n["sender"],
            Category(n.get("category", "marketing")),
            _time(n["at"]),
        )
    if facts.get("rnd"):  # Reassigned Numbers Database answers: {"number", "queried", "answer"}
        await store.import_rnd(
            [(a["number"].removeprefix("+1"), a["queried"], a["answer"]) for a in facts["rnd"]],
            "test",
            "0" * 64,
            datetime.now(UTC),
        )
    for copy in facts.get("dnc", []):  # a Do-Not-Call list's copy: {"list", "as_of", "numbers": [E.164...]}
        from gateway.store.queries import Accepted

        await store.import_dnc(
            copy["list"],
            [Accepted(n.removeprefix("+1")) for n in copy.get("numbers", [])],
            date.fromisoformat(copy["as_of"]),
            datetime.now(UTC),
        )


def run_cli(*args: str) -> tuple[int, str, str]:
    """`gateway ARGS...` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(list(args))
    return code, out.getvalue(), err.getvalue()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for localhost (openssl, two days): (cert.pem, key.pem) in `folder`."""
    import subprocess

    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
