"""SMS throughput and latency through `POST /v1/sms`, beside the fake Twilio provider hit directly.

    .venv/bin/python bench/sms.py [--seconds 5] [--workers 2]

wrk (Debian package, installed by scripts/test) drives each row for a fixed time: concurrency 1 and 50;
the gateway with the outbox provider (texts stored durably in SQLite), with the twilio provider (the
official package's async client) in front of tests/fake_twilio.py, and that fake hit directly (the limit).
Every text is a marketing text to one of 1,000 numbers with express written consent: every rule runs,
each text claims its place under the caps, and its decision is durable before the 201. Calling hours are
set to the whole day so that the table does not depend on the hour it is run at.
Prints req/s, p50 and p99 latency, non-2xx answers, and the gateway's CPU (100% = one core).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from processes import cpu_seconds, family, free_port, wait_for_port

from gateway.addresses import address_hash
from gateway.model import Channel, Consent, ConsentLevel
from gateway.store import open_store

KEY = "bench-api-key-0123456789"
ACCOUNT = "AC" + "0" * 31 + "1"
PROVIDER_ACCOUNT = "AC" + "f" * 32
NUMBERS = [f"+1212555{n}" for n in range(1000, 2000)]
BODY = "Acme Outfitters: 20% off all jackets today. Reply STOP to opt out."

CONFIG = """
[gateway]
database = "sqlite:///{tmp}/bench.db"
state_dir = "{tmp}/state"

[smtp]
listen = "127.0.0.1:{smtp}"
upstream = "maildir:{tmp}/outbox"
workers = {workers}

[http]
listen = "127.0.0.1:{http}"

[sms]
provider = "{provider}"
account_sid = "{provider_account}"
base_url = "http://127.0.0.1:{fake}"

[policy.sms_hours]
start = "00:00"
end = "24:00"

[[sender]]
name = "acme"
brand = "Acme Outfitters"
api_key_env = "BENCH_API_KEY"
sms_from = ["+15005550006"]
twilio_account_sid = "{account}"
"""

# wrk's Lua: each request to the next of the 1,000 numbers. $NAME is filled in by `lua()`.
V1_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"to": "+1212555' .. (1000 + counter % 1000) .. '", "body": "$BODY"}'
  return wrk.format("POST", "/v1/sms", {["Content-Type"] = "application/json",
                                        ["Authorization"] = "Bearer $KEY"}, body)
end
"""

DIRECT_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local body = "To=%2B1212555" .. (1000 + counter % 1000) .. "&From=%2B15005550006&Body=$FORM_BODY"
  return wrk.format("POST", "/2010-04-01/Accounts/$ACCOUNT/Messages.json",
                    {["Content-Type"] = "application/x-www-form-urlencoded",
                     ["Authorization"] = "Basic $BASIC"}, body)
end
"""


def lua(template: str, **values: str) -> str:
    for name, value in values.items():
        template = template.replace("$" + name, value)
    return template


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_command(url: str, script: Path, connections: int, seconds: int) -> list[str]:
    threads = 1 if connections == 1 else 2
    return [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict:
    return wrk_result(
        subprocess.run(
            wrk_command(url, script, connections, seconds),
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        ).stdout
    )


def wrk_result(out: str) -> dict:
    """Requests/s, p50 and p99 in ms, non-2xx answers and socket errors from wrk's report."""
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(latency["50"]),
        "p99": _ms(latency["99"]),
        "bad": int(non_2xx.group(1)) if non_2xx else 0,
        "errors": errors.group(1) if errors else "",
    }


def seed(database: str) -> None:
    """Express written consent for each of the bench's numbers, in the store at this database URL."""

    async def go() -> None:
        store = open_store(database)
        then = datetime(2026, 1, 1, tzinfo=UTC)
        for number in NUMBERS:
            await store.add_consent(
                Consent(
                    Channel.SMS,
                    address_hash(number),
                    number,
                    "global",
                    ConsentLevel.EXPRESS_WRITTEN,
                    "bench",
                    "web form",
                    then,
                )
            )
        await store.close()

    asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: run scripts/test once (it installs it)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fake_port = free_port()
        fake = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "fake_twilio.py"), "--port", str(fake_port)]
        )
        wait_for_port(fake_port)
        scripts = {
            "v1": tmp / "v1.lua",
            "direct": tmp / "direct.lua",
        }
        scripts["v1"].write_text(lua(V1_SCRIPT, BODY=BODY, KEY=KEY))
        scripts["direct"].write_text(
            lua(
                DIRECT_SCRIPT,
                FORM_BODY=quote_plus(BODY),
                ACCOUNT=PROVIDER_ACCOUNT,
                BASIC=base64.b64encode(f"{PROVIDER_ACCOUNT}:token".encode()).decode(),
            )
        )
        try:
            for connections in (1, 50):
                result = wrk(f"http://127.0.0.1:{fake_port}", scripts["direct"], connections, args.seconds)
                rows.append(("fake Twilio, direct", connections, result, None))
            for provider in ("outbox", "twilio"):
                run = tmp / provider
                run.mkdir()
                http = free_port()
                config = run / "bench.toml"
                config.write_text(
                    CONFIG.format(
                        tmp=run,
                        smtp=free_port(),
                        http=http,
                        workers=args.workers,
                        provider=provider,
                        provider_account=PROVIDER_ACCOUNT,
                        fake=fake_port,
                        account=ACCOUNT,
                    )
                )
                seed(f"sqlite:///{run}/bench.db")
                gateway = subprocess.Popen(
                    [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                    cwd=run,
                    stdout=subprocess.DEVNULL,
                    stderr=open(run / "gateway.log", "w"),
                    env={
                        **os.environ,
                        "PYTHONPATH": str(REPO),
                        "BENCH_API_KEY": KEY,
                        "TWILIO_AUTH_TOKEN": "token",
                    },
                )
                try:
                    wait_for_port(http)
                except SystemExit:
                    gateway.kill()
                    raise SystemExit(
                        f"the gateway did not start:\n{(run / 'gateway.log').read_text()[-2000:]}"
                    )
                time.sleep(0.5)
                pids = family(gateway.pid)
                try:
                    wrk(
                        f"http://127.0.0.1:{http}", scripts["v1"], 10, 2
                    )  # warm up: key check, every number seen
                    for connections in (1, 50):
                        before, start = cpu_seconds(pids), time.monotonic()
                        result = wrk(f"http://127.0.0.1:{http}", scripts["v1"], connections, args.seconds)
                        cpu = (cpu_seconds(pids) - before) / (time.monotonic() - start)
                        label = "/v1/sms, outbox" if provider == "outbox" else "/v1/sms -> fake Twilio"
                        rows.append((label, connections, result, cpu))
                finally:
                    gateway.send_signal(signal.SIGTERM)
                    gateway.wait(60)
        finally:
            fake.terminate()
            fake.wait(10)
    direct_p50 = {c: r["p50"] for label, c, r, _ in rows if label.startswith("fake")}
    print(
        f"{'path':<24} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'+p50 ms':>8} {'non-2xx':>8} "
        f"{'gateway CPU':>12}"
    )
    for label, connections, r, cpu in rows:
        added = (
            f"{r['p50'] - direct_p50[connections]:>8.2f}"
            if "Twilio" in label and cpu is not None
            else f"{'':>8}"
        )
        cpu_text = f"{cpu * 100:>11.0f}%" if cpu is not None else f"{'':>12}"
        print(
            f"{label:<24} {connections:>5} {r['rps']:>8,.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} {added} "
            f"{r['bad']:>8} {cpu_text}" + (f"  socket errors: {r['errors']}" if r["errors"] else "")
        )
    print(
        f"(gateway: {args.workers} worker process(es), all rules, durable decisions and outbox; "
        f"+p50: added over the direct call at the same concurrency; machine: {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
