"""SMTP throughput through the gateway, beside the same load sent straight to the sink.

    .venv/bin/python bench/smtp.py [--workers 2] [--messages 2000] [--rounds 3]

Postfix's smtp-source sends compliant marketing newsletters (5 KB and 50 KB HTML, one recipient each, a
new connection per message as smtp-source does by default) at 1 and 20 concurrent connections; Postfix's
smtp-sink is the upstream. Every rule runs on every message; the gateway adds its headers (Received,
List-Unsubscribe with a signed token) and writes a durable decision per recipient before each 250.
Prints msg/s, the ratio gateway/direct, and the gateway's CPU use (100% = one core).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from policy import newsletter
from processes import cpu_seconds, family, free_port, wait_for_port

SOURCE, SINK = "/usr/sbin/smtp-source", "/usr/sbin/smtp-sink"

CONFIG = """
[gateway]
database = "{database}"
state_dir = "{tmp}/state"
public_url = "https://gw.example"

[smtp]
listen = "127.0.0.1:{port}"
upstream = "smtp://127.0.0.1:{sink}"
trusted_networks = ["127.0.0.0/8"]
trusted_sender = "acme"
workers = {workers}
upstream_pool_size = 40

[http]
listen = "127.0.0.1:{http}"

[[sender]]
name = "acme"
brand = "Acme Outfitters"
physical_address = "123 Main St, Suite 4, Springfield, IL 62701"
from_domains = ["news.acme.example"]
"""


def source(port: int, message: Path, sessions: int, count: int, recipients: int = 1) -> subprocess.Popen:
    """smtp-source sending `count` copies of `message` over `sessions` concurrent connections, each to
    `recipients` recipients (1reader@…, 2reader@…: one transaction each)."""
    return subprocess.Popen(
        [
            SOURCE,
            "-r",
            str(recipients),
            "-s",
            str(sessions),
            "-m",
            str(count),
            "-F",
            str(message),
            "-f",
            "news@news.acme.example",
            "-t",
            "reader@example.com",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen) -> None:
    _, err = proc.communicate()
    if proc.returncode != 0 or "error" in err.lower():
        raise SystemExit(f"smtp-source failed: {err.strip()[:500]}")


def blast(port: int, message: Path, sessions: int, count: int, recipients: int = 1) -> float:
    start = time.perf_counter()
    finished(source(port, message, sessions, count, recipients))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--messages", type=int, default=2000, help="per row at 20 connections (a fifth at 1)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="measurements of each side per row (medians shown)"
    )
    args = parser.parse_args()
    for tool in (SOURCE, SINK):
        if not os.access(tool, os.X_OK):
            raise SystemExit(f"{tool} is missing: run scripts/test once (it installs Postfix's tools)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sink_port, port = free_port(), free_port()
        sink = subprocess.Popen(
            [SINK, "-u", os.environ.get("USER", "root"), f"127.0.0.1:{sink_port}", "1024"]
        )
        wait_for_port(sink_port)
        config = tmp / "bench.toml"
        config.write_text(
            CONFIG.format(
                database=f"sqlite:///{tmp}/bench.db",
                tmp=tmp,
                port=port,
                sink=sink_port,
                workers=args.workers,
                http=free_port(),
            )
        )
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "gateway.log", "w"),
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        wait_for_port(port)
        time.sleep(0.5)  # every worker up
        pids = family(gateway.pid)
        try:
            for size in (5_000, 50_000):
                message = tmp / f"m{size}.eml"
                message.write_bytes(newsletter(size).replace(b"\r\n", b"\n"))  # smtp-source adds the CRs
                blast(port, message, 4, 40)  # warm up: connections, caches
                for sessions in (1, 20):
                    count = args.messages if sessions > 1 else args.messages // 5
                    directs, vias = [], []
                    for _ in range(args.rounds):  # alternated: the VM's drift hits both sides alike
                        directs.append(count / blast(sink_port, message, sessions, count))
                        before = cpu_seconds(pids)
                        elapsed = blast(port, message, sessions, count)
                        vias.append((count / elapsed, (cpu_seconds(pids) - before) / elapsed))
                    via, cpu = sorted(vias)[len(vias) // 2]
                    rows.append(
                        (
                            size,
                            sessions,
                            count,
                            statistics.median(directs),
                            via,
                            cpu,
                            [v / d for (v, _), d in zip(vias, directs)],
                        )
                    )
            # fan-out: 20-recipient marketing messages, one copy per recipient upstream; rates in copies
            # (recipient deliveries) per second, the sink taking each message as one 20-recipient transaction
            message = tmp / "m5000.eml"
            count = max(1, args.messages // 20)
            directs, vias = [], []
            for _ in range(args.rounds):
                directs.append(count * 20 / blast(sink_port, message, 20, count, 20))
                before = cpu_seconds(pids)
                elapsed = blast(port, message, 20, count, 20)
                vias.append((count * 20 / elapsed, (cpu_seconds(pids) - before) / elapsed))
            via, cpu = sorted(vias)[len(vias) // 2]
            fanout = (
                count,
                statistics.median(directs),
                via,
                cpu,
                [v / d for (v, _), d in zip(vias, directs)],
            )
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(60)
            sink.terminate()
            sink.wait(10)
    print(
        f"{'size':>6} {'conns':>5} {'msgs':>6} {'direct msg/s':>13} {'gateway msg/s':>14} {'ratio':>6} "
        f"{'each round':>20} {'gateway CPU':>12}"
    )
    for size, sessions, count, direct, via, cpu, ratios in rows:
        each = " ".join(f"{r:.3f}" for r in ratios)
        print(
            f"{size // 1000:>4}KB {sessions:>5} {count:>6} {direct:>13,.0f} {via:>14,.0f} {via / direct:>6.3f} "
            f"{each:>20} {cpu * 100:>11.0f}%"
        )
    count, direct, via, cpu, ratios = fanout
    each = " ".join(f"{r:.3f}" for r in ratios)
    print(
        f"{'5KB x20 rcpt':>12} {20:>5} {count:>6} {direct:>13,.0f} {via:>14,.0f} {via / direct:>6.3f} "
        f"{each:>20} {cpu * 100:>11.0f}%   (copies/s: one upstream copy per recipient)"
    )
    print(
        f"(medians of {args.rounds} rounds, direct and gateway alternated; ratio: median gateway / median direct; "
        f"gateway: {args.workers} worker process(es), all rules, durable decisions; machine: {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
