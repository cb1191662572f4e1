"""First-page times of the decisions API and the ops console with 1,000,000 decisions in the store.

    .venv/bin/python bench/console.py [--decisions 1000000] [--repeat 20]

Fills a fresh SQLite store with decisions spread over 30 days (3 senders, both channels, a third of them
rejected with one or two codes), starts `gateway serve`, signs in to the console, and times the first
page of each filter (median and worst of --repeat requests, after one warm-up request). Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from processes import free_port, wait_for_port

from gateway.addresses import address_hash
from gateway.store.sqlite import SqliteStore

OPS_KEY = "bench-ops-key-0123456789"
CODES = [
    "SUPPRESSED",
    "CONSENT_MISSING",
    "CANSPAM_UNSUBSCRIBE",
    "CANSPAM_AD_LABEL",
    "QUIET_HOURS",
    "FREQUENCY_CAP",
]
CONFIG = """
[gateway]
database = "sqlite:///{db}"
state_dir = "{tmp}/state"
[smtp]
listen = "127.0.0.1:{smtp}"
upstream = "maildir:{tmp}/outbox"
[http]
listen = "127.0.0.1:{http}"
[ops]
api_key_env = "BENCH_OPS_KEY"
{senders}
"""


def fill(db: Path, count: int) -> None:
    SqliteStore(str(db))  # schema
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous=OFF")
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / count
    rows = []
    for i in range(count):
        at = start + step * i
        rejected = rng.random() < 0.33
        codes = rng.sample(CODES, rng.choice((1, 2))) if rejected else []
        email = rng.random() < 0.7
        recipient = (
            f"person{rng.randrange(200_000)}@example.com" if email else f"+1212555{rng.randrange(1000, 9999)}"
        )
        at_text = at.isoformat(timespec="microseconds")
        rows.append(
            (
                f"{int(at.timestamp() * 1e6):013x}{i:08x}",
                at_text,
                "email" if email else "sms",
                rng.choice(("acme", "acme-tx", "partner")),
                recipient,
                address_hash(recipient),
                "marketing",
                "rejected" if rejected else "relayed",
                " ".join(codes),
                json.dumps([{"code": c, "message": "bench"} for c in codes]),
                f"Spring sale {i % 500}" if email else "Acme: 20% off. Reply STOP to opt out.",
                5000,
                "250 ok",
            )
        )
        if len(rows) == 50_000:
            conn.executemany(
                "INSERT INTO decisions (id, at, channel, sender, recipient, recipient_hash, category, "
                "verdict, codes, violations, excerpt, size, upstream) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            conn.commit()
            rows = []
    if rows:
        conn.executemany(
            "INSERT INTO decisions (id, at, channel, sender, recipient, recipient_hash, category, "
            "verdict, codes, violations, excerpt, size, upstream) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    store = SqliteStore(str(db))  # the search index, as a running gateway fills it a moment after each write
    asyncio.run(store.index_search_text())
    asyncio.run(store.close())


def timed(opener, url: str, headers: dict, repeat: int) -> tuple[float, float]:
    def once() -> float:
        request = urllib.request.Request(url, headers=headers)
        start = time.perf_counter()
        with opener.open(request, timeout=60) as response:
            response.read()
        return (time.perf_counter() - start) * 1000

    once()
    times = [once() for _ in range(repeat)]
    return statistics.median(times), max(times)


def heap_mb(pid: int) -> float:
    """Anonymous resident memory (the heap): the database's memory-mapped pages are file-backed, not here."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def csv_export(opener, base: str, headers: dict, pid: int) -> tuple[int, float, float, float]:
    """Download /v1/decisions.csv for the whole log, counting lines as they stream, while sampling the
    gateway's heap: flat if it streams, growing by the export's size if it held the rows."""
    before = heap_mb(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak.append(heap_mb(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    lines = 0
    try:
        with opener.open(
            urllib.request.Request(base + "/v1/decisions.csv", headers=headers), timeout=600
        ) as response:
            while chunk := response.read(1 << 20):
                lines += chunk.count(b"\n")
    finally:
        done.set()
        sampler.join()
    return lines, time.perf_counter() - start, before, max(peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", type=Path, help="keep the filled database here and reuse it on the next run")
    args = parser.parse_args()
    senders = "\n".join(
        f'[[sender]]\nname = "{n}"\nbrand = "Acme"\nfrom_domains = ["acme.example"]\n'
        for n in ("acme", "acme-tx", "partner")
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = args.db or tmp / "bench.db"
        began = time.perf_counter()
        if not db.exists():
            fill(db, args.decisions)
        filled = time.perf_counter() - began
        http = free_port()
        (tmp / "bench.toml").write_text(
            CONFIG.format(tmp=tmp, db=db.resolve(), smtp=free_port(), http=http, senders=senders)
        )
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(tmp / "bench.toml")],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "gateway.log", "w"),
            env={**os.environ, "PYTHONPATH": str(REPO), "BENCH_OPS_KEY": OPS_KEY},
        )
        try:
            wait_for_port(http)
            base = f"http://127.0.0.1:{http}"
            opener = urllib.request.build_opener()
            bearer = {"Authorization": f"Bearer {OPS_KEY}"}
            rows = []
            for label, path in [
                ("API, newest 50", "/v1/decisions?limit=50"),
                ("API, rejected", "/v1/decisions?verdict=rejected&limit=50"),
                ("API, code QUIET_HOURS", "/v1/decisions?code=QUIET_HOURS&limit=50"),
                ("API, sender + channel", "/v1/decisions?sender=partner&channel=sms&limit=50"),
                ("API, last 24 h, rejected", "/v1/decisions?since=24h&verdict=rejected&limit=50"),
                ("API, search whole address", "/v1/decisions?q=person4242@example.com&limit=50"),
                ("API, search part of one", "/v1/decisions?q=person4242&limit=50"),
                ("API, search part, common", "/v1/decisions?q=example.com&limit=50"),
                ("API, search part, ~500 hits", "/v1/decisions?q=person42&limit=50"),
                ("API, search subject part", "/v1/decisions?q=sale+42&verdict=rejected&limit=50"),
                ("API, summary 30 days", "/v1/reports/summary?since=30d"),
                ("console, rejections", "/ops/"),
                ("console, code + sender", "/ops/?code=SUPPRESSED&sender=acme"),
                ("console, search part", "/ops/?q=person4242"),
            ]:
                median, worst = timed(opener, base + path, bearer, args.repeat)
                rows.append((label, median, worst))
            export = csv_export(opener, base, bearer, gateway.pid)
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(60)
    print(f"{'first page':<28} {'median ms':>10} {'worst ms':>9}")
    for label, median, worst in rows:
        print(f"{label:<28} {median:>10.1f} {worst:>9.1f}")
    print(f"({args.decisions:,} decisions over 30 days, filled in {filled:.0f} s; target: under 200 ms)")
    lines, seconds, before, after = export
    print(
        f"CSV export of every decision: {lines - 1:,} rows in {seconds:.1f} s ({(lines - 1) / seconds:,.0f} rows/s); "
        f"gateway heap {before:.0f} MB before, at most {after:.0f} MB during"
    )


if __name__ == "__main__":
    main()
