"""Guessing credentials against a running gateway (issue 20): an authenticated client's HTTP latency with no
guessers, then while 8 clients guess API keys and 8 guess SMTP passwords as fast as they are answered
(each from its own loopback address), and how many guesses per second the gateway checked.

    .venv/bin/python bench/guessing.py [--seconds 10] [--guessers 8]

Target (issue 20): p99 of the other client's requests under 50 ms while 8 guessers run. The guessers meet
the shipped defaults ([auth]: delays from 250 ms doubling to 4 s, a block after 10 failures per address).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KEY, OPS, PASSWORD = "bench-acme-key-0123456789", "bench-ops-key-0123456789", "bench-smtp-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, key: str, source: str = "127.0.0.1") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def measure(port: int, seconds: float) -> list[float]:
    latencies = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.perf_counter()
        assert get(port, "/v1/decisions?limit=1", OPS) == 200
        latencies.append(time.perf_counter() - started)
        time.sleep(0.01)
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--guessers", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-guessing-"))
    smtp, port = free_port(), free_port()
    (tmp / "gateway.toml").write_text(
        f'[gateway]\ndatabase = "sqlite:///{tmp}/g.db"\nstate_dir = "{tmp}/state"\n'
        f'[smtp]\nlisten = "127.0.0.1:{smtp}"\nupstream = "maildir:{tmp}/outbox"\n'
        f'[http]\nlisten = "127.0.0.1:{port}"\n'
        '[[sender]]\nname = "acme"\nbrand = "Acme"\nphysical_address = "1 Main St, Springfield, IL 62701"\n'
        'from_domains = ["acme.example"]\nsmtp_username = "acme"\nsmtp_password_env = "B_SMTP"\n'
        'api_key_env = "B_KEY"\n'
    )
    env = {**os.environ, "B_SMTP": PASSWORD, "B_KEY": KEY, "GATEWAY_OPS_KEY": OPS}
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(tmp / "gateway.toml")],
        cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        get(port, "/v1/decisions?limit=1", OPS)
        quiet = measure(port, args.seconds)
        stop = threading.Event()
        counts = {"http": 0, "smtp": 0}

        def http_guesser(n: int) -> None:
            i = 0
            while not stop.is_set():
                get(port, "/v1/decisions?limit=1", f"guess-{n}-{i}", f"127.0.2.{n}")
                counts["http"] += 1
                i += 1

        def smtp_guesser(n: int) -> None:
            i = 0
            while not stop.is_set():
                with smtplib.SMTP("127.0.0.1", smtp, timeout=60, source_address=(f"127.0.3.{n}", 0)) as c:
                    c.ehlo()
                    for _ in range(20):
                        if stop.is_set():
                            break
                        auth = base64.b64encode(f"\0acme\0guess-{n}-{i}".encode()).decode()
                        c.docmd("AUTH", "PLAIN " + auth)
                        counts["smtp"] += 1
                        i += 1

        threads = [threading.Thread(target=http_guesser, args=(n,)) for n in range(1, args.guessers + 1)]
        threads += [threading.Thread(target=smtp_guesser, args=(n,)) for n in range(1, args.guessers + 1)]
        for t in threads:
            t.start()
        started = time.monotonic()
        loud = measure(port, args.seconds)
        elapsed = time.monotonic() - started
        stop.set()
        for t in threads:
            t.join()
    finally:
        gateway.terminate()
        gateway.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)

    def row(name: str, values: list[float]) -> str:
        p50, p99 = statistics.median(values), values[int(len(values) * 0.99)]
        return f"| {name} | {len(values)} | {p50 * 1000:.1f} ms | {p99 * 1000:.1f} ms |"

    print("| an ops client's GET /v1/decisions | requests | p50 | p99 |")
    print("|---|---|---|---|")
    print(row("no guessers", quiet))
    print(row(f"{args.guessers} HTTP + {args.guessers} SMTP guessers", loud))
    print()
    print(f"answers to guesses: HTTP {counts['http'] / elapsed:.0f}/s, SMTP AUTH {counts['smtp'] / elapsed:.0f}/s "
          f"(most of them 429 / 454 once each address is blocked)")  # fmt: skip
    p99 = loud[int(len(loud) * 0.99)]
    print(f"target: p99 under 50 ms while guessers run: {'met' if p99 < 0.05 else 'NOT met'}")


if __name__ == "__main__":
    main()
