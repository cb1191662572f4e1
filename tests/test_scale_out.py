"""Several gateway instances on one PostgreSQL: an opt-out taken by one holds on the other for the next
message, a cap counts across both, the decision log is one; and PostgreSQL going away and coming back
under a running gateway (451 / 503 meanwhile, never a pass, no acknowledged decision lost, then back
without a restart)."""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from helpers import ACME_SENDER, REPO
from servers import GatewayProcess, free_port, wait_until
from test_optout import SAMPLE

from gateway.addresses import address_hash
from gateway.model import Channel, Consent, ConsentLevel
from gateway.store import open_store

PASSWORD = "scale-smtp-secret-1"
API_KEY = "scale-api-key-0123456789"
FRIEND = "+12125550123"
MARKETING = "Demo Outfitters: 20% off all jackets today. Reply STOP to opt out."
ENV = {
    "ACME_SMTP_PASSWORD": PASSWORD,
    "ACME_API_KEY": API_KEY,
    "GATEWAY_OPS_KEY": "scale-ops-key-0123456789",
    "GATEWAY_TOKEN_SECRET": "scale-secret-0123456789abcdef",
}  # one secret: any instance reads any token

CONFIG = (
    """
[gateway]
database = "{database}"
state_dir = "{tmp}/state"
public_url = "http://127.0.0.1:{http}"

[smtp]
listen = "127.0.0.1:{smtp}"
upstream = "maildir:{tmp}/outbox"

[http]
listen = "127.0.0.1:{http}"

[sms]
provider = "outbox"
retry_after = 7

[policy]
default_state_rules = false

[policy.sms_hours]
start = "00:00"
end = "24:00"

[policy.frequency_cap]
max = 3
hours = 24

"""
    + ACME_SENDER
    + """api_key_env = "ACME_API_KEY"
sms_from = ["+15005550006"]
"""
)


class Instance:
    def __init__(self, tmp: Path, database: str) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.smtp, self.http = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http}"
        self.config = tmp / "gateway.toml"
        self.config.write_text(CONFIG.format(database=database, tmp=tmp, smtp=self.smtp, http=self.http))
        self.process = GatewayProcess(self.config, self.http, tmp, ENV)

    def send(self, to: str = "reader@example.com") -> dict:
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=30) as client:
            client.login("acme", PASSWORD)
            try:
                return client.sendmail("news@news.demo.example", [to], SAMPLE)
            except smtplib.SMTPRecipientsRefused as refused:
                return {k: (code, text.decode()) for k, (code, text) in refused.recipients.items()}

    def delivered(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted((self.tmp / "outbox" / "new").glob("*"))]

    def report(self) -> list[dict]:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway",
                "report",
                "--since",
                "1d",
                "--format",
                "json",
                "--config",
                str(self.config),
            ],
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **ENV},
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def stop(self) -> None:
        assert self.process.stop() == 0, self.process.output()


def give_consent(database: str, number: str) -> None:
    async def go() -> None:
        store = open_store(database)
        try:
            await store.add_consent(
                Consent(
                    Channel.SMS,
                    address_hash(number),
                    number,
                    "global",
                    ConsentLevel.EXPRESS_WRITTEN,
                    "test",
                    "web form",
                    datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
        finally:
            await store.close()

    asyncio.run(go())


async def texts(urls: list[str], count: int) -> list[int]:
    async with aiohttp.ClientSession() as session:

        async def one(url: str) -> int:
            async with session.post(
                f"{url}/v1/sms",
                json={"to": FRIEND, "body": MARKETING},
                headers={"Authorization": f"Bearer {API_KEY}"},
            ) as response:
                body = await response.json()
                assert response.status == 201 or body["violations"][0]["code"] == "FREQUENCY_CAP", body
                return response.status

        return await asyncio.gather(*(one(urls[i % len(urls)]) for i in range(count)))


def test_two_instances_share_opt_outs_caps_and_the_decision_log(tmp_path, pg_engine):
    give_consent(pg_engine.url, FRIEND)
    a, b = Instance(tmp_path / "a", pg_engine.url), Instance(tmp_path / "b", pg_engine.url)
    try:
        # an unsubscribe POSTed to A: B refuses the next RCPT for that address
        assert a.send() == {}
        link = (
            re.search(rb"^List-Unsubscribe: <(http[^>]+)>", a.delivered()[-1], re.MULTILINE).group(1).decode()
        )
        request = urllib.request.Request(link, data=b"List-Unsubscribe=One-Click", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        refused = b.send()
        assert refused["reader@example.com"][0] == 550 and "SUPPRESSED" in refused["reader@example.com"][1]
        assert b.send("other@example.com") == {}

        # 40 texts to one number over both instances, cap 3: exactly 3 go out
        statuses = asyncio.run(texts([a.url, b.url], 40))
        assert sorted(statuses) == [201] * 3 + [422] * 37

        # one decision log: either instance's report shows both instances' decisions
        wait_until(lambda: len(a.report()) == 43, timeout=30)  # 3 emails, 40 texts
        from_a, from_b = a.report(), b.report()
        assert [d["id"] for d in from_a] == [d["id"] for d in from_b]
        verdicts = sorted((d["channel"], d["verdict"]) for d in from_a)
        assert verdicts == sorted(
            [("email", "relayed")] * 2
            + [("email", "rejected")]
            + [("sms", "relayed")] * 3
            + [("sms", "rejected")] * 37
        )
    finally:
        a.stop()
        b.stop()


class PrivateServer:
    """A PostgreSQL server of the test's own, to stop and start under a running gateway."""

    def __init__(self) -> None:
        self.dir = Path(
            tempfile.mkdtemp(prefix="gateway-test-pg.")
        )  # not under pytest's 0700 tmp: PostgreSQL's user reads it
        started = subprocess.run(
            [str(REPO / "scripts" / "postgres"), "start", str(self.dir)], capture_output=True, text=True
        )
        assert started.returncode == 0, started.stderr
        self.url = started.stdout.strip()

    def __call__(self, action: str) -> None:
        bin_dir = max(Path("/usr/lib/postgresql").glob("*/bin"))
        command = [str(bin_dir / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-m", "fast", action]
        if action == "start":
            command[-1:] = ["-l", str(self.dir / "server.log"), "start"]
        runner = ["runuser", "-u", "postgres", "--"] if subprocess.os.geteuid() == 0 else []
        subprocess.run(runner + command, check=True, capture_output=True, timeout=60)

    def remove(self) -> None:
        subprocess.run([str(REPO / "scripts" / "postgres"), "stop", str(self.dir)], check=False)


def post_text(gw: Instance, to: str = FRIEND) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of one POST /v1/sms."""
    request = urllib.request.Request(
        f"{gw.url}/v1/sms",
        method="POST",
        data=json.dumps({"to": to, "body": MARKETING}).encode(),
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def test_postgresql_going_away_and_coming_back_under_a_running_gateway(tmp_path):
    """Its own server, stopped and started by the test: 451 4.3.0 and 503 + Retry-After while it is down,
    nothing relayed without the facts, and service again once it is back, with no restart."""
    pg = PrivateServer()
    url = pg.url
    give_consent(url, FRIEND)
    gw = Instance(tmp_path / "gw", url)

    def sms() -> tuple[int, dict]:
        return post_text(gw)[:2]

    try:
        assert gw.send() == {} and sms()[0] == 201
        late = smtplib.SMTP("127.0.0.1", gw.smtp, timeout=30)  # its RCPT read the facts before the stop
        late.login("acme", PASSWORD)
        late.mail("news@news.demo.example")
        assert late.rcpt("late@example.com")[0] == 250
        pg("stop")
        try:
            refused = gw.send("second@example.com")
            assert refused["second@example.com"][0] == 451 and "4.3.0" in refused["second@example.com"][1]
            status, headers = sms()
            assert status == 503 and headers["Retry-After"] == "7"
            # relayed, and its decision durable in the journal while PostgreSQL is away: 250
            assert late.data(SAMPLE)[0] == 250
            late.quit()
        finally:
            pg("start")
        wait_until(lambda: sms()[0] == 201, timeout=30)  # the pool reconnects by itself
        assert gw.send("second@example.com") == {}
        assert len(gw.delivered()) == 3
        # the acknowledged decision moved from the journal into PostgreSQL with the first write that worked
        logged = {(d["recipient"], d["verdict"]) for d in gw.report()}
        assert {
            ("reader@example.com", "relayed"),
            ("late@example.com", "relayed"),
            ("second@example.com", "relayed"),
        } <= logged
        assert not list((gw.tmp / "state").glob("decisions-*.journal"))
    finally:
        gw.stop()
        pg.remove()


def test_postgresql_stopped_under_load_loses_no_acknowledged_decision(tmp_path):
    """Texts (10 at a time, each to its own number) and mail (3 connections) flow while PostgreSQL stops
    for a second and starts again: every answer is a success or a temporary refusal, and every text
    answered 201 and every message answered 250 has its decision in the log afterwards."""
    pg = PrivateServer()
    numbers = [f"+1212555{n}" for n in range(1000, 1240)]
    for number in numbers:
        give_consent(pg.url, number)
    gw = Instance(tmp_path / "gw", pg.url)
    sent_texts: list[tuple[int, dict]] = []
    mail: dict[str, int] = {}
    unsent = iter(numbers)  # next() on a list iterator is atomic under the GIL
    over = threading.Event()  # PostgreSQL is back: the senders finish

    def text() -> None:
        # bounded by the 240 numbers; each sender stops once the outage is over
        while not over.is_set() and (number := next(unsent, None)) is not None:
            status, _, body = post_text(gw, number)
            sent_texts.append((status, body))

    def letters(n: int) -> None:
        for i in range(500):  # bounded; in practice it ends with the outage
            if over.is_set():
                return
            to = f"load{n}-{i}@example.com"
            try:
                refused = gw.send(to)  # {} or the refusal at RCPT
                mail[to] = refused[to][0] if refused else 250
            except smtplib.SMTPResponseException as error:  # at DATA, or the greeting
                mail[to] = error.smtp_code

    try:
        with ThreadPoolExecutor(13) as pool:
            jobs = [pool.submit(letters, n) for n in range(3)]
            jobs += [pool.submit(text) for _ in range(10)]
            # the outage starts once both doors have answered under load, whatever their speed
            try:
                # list() copies the dict's values in one step: iterating them while a sender adds one raises
                wait_until(
                    lambda: (
                        [s for s, _ in sent_texts].count(201) >= 20 and list(mail.values()).count(250) >= 5
                    ),
                    timeout=30,
                )
                pg("stop")
                time.sleep(1.0)
                pg("start")
            finally:
                over.set()
            for job in jobs:
                job.result()
        wait_until(lambda: post_text(gw, numbers[0])[0] in (201, 422), timeout=30)  # a write that works
        statuses = [status for status, _ in sent_texts]
        assert set(statuses) <= {201, 503} and set(mail.values()) <= {250, 421, 451}, (statuses, mail)
        # both sides of the outage were seen
        assert {201, 503} <= set(statuses) and {250, 451} <= set(mail.values()), (statuses, mail)
        logged = {d["id"]: d for d in gw.report()}
        for status, body in sent_texts:
            if status == 201:
                assert logged[body["id"]]["verdict"] == "relayed"
        relayed_mail = {
            d["recipient"] for d in logged.values() if d["channel"] == "email" and d["verdict"] == "relayed"
        }
        assert {to for to, code in mail.items() if code == 250} <= relayed_mail
        assert len(gw.delivered()) == sum(1 for code in mail.values() if code == 250)
    finally:
        gw.stop()
        pg.remove()
