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
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from gateway.addresses import address_hash
from gateway.model import Channel, Consent, ConsentLevel
from gateway.store import open_store
from helpers import ACME_SENDER, REPO
from servers import GatewayProcess, free_port, wait_until
from test_optout import SAMPLE

PASSWORD = "scale-smtp-secret-1"
API_KEY = "scale-api-key-0123456789"
FRIEND = "+12125550123"
MARKETING = "Demo Outfitters: 20% off all jackets today. Reply STOP to opt out."
ENV = {"ACME_SMTP_PASSWORD": PASSWORD, "ACME_API_KEY": API_KEY, "GATEWAY_OPS_KEY": "scale-ops-key-0123456789",
       "GATEWAY_TOKEN_SECRET": "scale-secret-0123456789abcdef"}  # one secret: any instance reads any token

CONFIG = """
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

""" + ACME_SENDER + """api_key_env = "ACME_API_KEY"
sms_from = ["+15005550006"]
"""


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
        done = subprocess.run([sys.executable, "-m", "gateway", "report", "--since", "1d",
                               "--format", "json", "--config", str(self.config)], cwd=self.tmp, capture_output=True,
                              text=True, timeout=60, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **ENV})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def stop(self) -> None:
        assert self.process.stop() == 0, self.process.output()


def give_consent(database: str, number: str) -> None:
    async def go() -> None:
        store = open_store(database)
        try:
            await store.add_consent(Consent(Channel.SMS, address_hash(number), number, "global",
                                            ConsentLevel.EXPRESS_WRITTEN, "test", "web form",
                                            datetime(2026, 1, 1, tzinfo=UTC)))
        finally:
            await store.close()
    asyncio.run(go())


async def texts(urls: list[str], count: int) -> list[int]:
    async with aiohttp.ClientSession() as session:
        async def one(url: str) -> int:
            async with session.post(f"{url}/v1/sms", json={"to": FRIEND, "body": MARKETING},
                                    headers={"Authorization": f"Bearer {API_KEY}"}) as response:
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
        link = re.search(rb"^List-Unsubscribe: <(http[^>]+)>", a.delivered()[-1], re.M).group(1).decode()
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
        assert verdicts == sorted([("email", "relayed")] * 2 + [("email", "rejected")] + [("sms", "relayed")] * 3
                                  + [("sms", "rejected")] * 37)
    finally:
        a.stop()
        b.stop()


def test_postgresql_going_away_and_coming_back_under_a_running_gateway(tmp_path):
    """Its own server, stopped and started by the test: 451 4.3.0 and 503 + Retry-After while it is down,
    nothing relayed without the facts, and service again once it is back, with no restart."""
    pgdir = Path(tempfile.mkdtemp(prefix="gateway-test-pg."))  # not under pytest's 0700 tmp: PostgreSQL's user reads it
    started = subprocess.run([str(REPO / "scripts" / "postgres"), "start", str(pgdir)], capture_output=True,
                             text=True)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    give_consent(url, FRIEND)
    gw = Instance(tmp_path / "gw", url)

    def pg(action: str) -> None:
        bin_dir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        command = [str(bin_dir / "pg_ctl"), "-D", str(pgdir / "data"), "-w", "-m", "fast", action]
        if action == "start":
            command[-1:] = ["-l", str(pgdir / "server.log"), "start"]
        runner = ["runuser", "-u", "postgres", "--"] if subprocess.os.geteuid() == 0 else []
        subprocess.run(runner + command, check=True, capture_output=True, timeout=60)

    def sms() -> tuple[int, dict]:
        request = urllib.request.Request(f"{gw.url}/v1/sms", method="POST",
                                         data=json.dumps({"to": FRIEND, "body": MARKETING}).encode(),
                                         headers={"Authorization": f"Bearer {API_KEY}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers)

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
        assert {("reader@example.com", "relayed"), ("late@example.com", "relayed"),
                ("second@example.com", "relayed")} <= logged
        assert not list((gw.tmp / "state").glob("decisions-*.journal"))
    finally:
        gw.stop()
        subprocess.run([str(REPO / "scripts" / "postgres"), "stop", str(pgdir)], check=False)
