"""SMTP throughput through the gateway, beside the same load sent straight to the sink and through Postfix.

    .venv/bin/python bench/smtp.py [--workers 2] [--messages 2000] [--rounds 3]

Postfix's smtp-source sends compliant marketing newsletters (5 KB and 50 KB HTML, one recipient each, a
new connection per message as smtp-source does by default) at 1 and 20 concurrent connections; Postfix's
smtp-sink is the upstream. Every rule runs on every message; the gateway adds its headers (Received,
List-Unsubscribe with a signed token) and writes a durable decision per recipient before each 250.

Each load goes three ways, alternated round by round: straight to the sink ("direct"), through the gateway,
and through a private Postfix 3.7 instance relaying everything to the same sink (tests/postfix_relay.py:
its default queue and timings, `relayhost` = the sink, its log written to a file by postlogd). The rate is
what reached the sink per second, from smtp-source's first connection:
- the gateway answers 250 only once the sink has taken the message, so its time is smtp-source's;
- Postfix answers 250 once the message is in its queue, so its time runs until its queue is empty, read
  from the queue directories every 5 ms (no Postfix process asked). A message leaves the queue only after
  the sink's 250 for every recipient, so this is the time the sink had them all (a few ms later at most);
  afterwards its log must show every recipient `status=sent`, none deferred or bounced.
CPU per message: user and system seconds of the gateway's processes (the master and its workers), and of
the Postfix instance's (master, smtpd, cleanup, qmgr, trivial-rewrite, smtp, postlogd...: the running ones
and, through the master's figures for its children, those that exited), divided by the copies delivered.

The fifth row sends 20-recipient marketing messages: the gateway relays one copy per recipient (each with
its own unsubscribe token), Postfix one 20-recipient transaction per message; rates are in copies (recipient
deliveries) per second.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.append(str(REPO / "tests"))  # postfix_relay.py

from policy import newsletter
from postfix_relay import PostfixRelay
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
queue = {queue}

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


class Ways:
    """The three ways a load goes: straight to the sink, through the gateway, through Postfix."""

    def __init__(
        self, sink: int, gateway: int, pids: list[int], postfix: PostfixRelay, queued: Path | None = None
    ) -> None:
        self.sink, self.gateway, self.pids, self.postfix = sink, gateway, pids, postfix
        self.through_postfix = 0  # recipient deliveries asked of Postfix so far
        self.queued = queued  # the gateway's database when it queues: its time runs until all are relayed

    def direct(self, *load) -> float:
        return blast(self.sink, *load)

    def via_gateway(self, *load) -> tuple[float, float]:
        """(seconds, CPU seconds of the gateway's processes)"""
        before = cpu_seconds(self.pids)
        if self.queued is None:
            elapsed = blast(self.gateway, *load)
            return elapsed, cpu_seconds(self.pids) - before
        _message, _sessions, count, *more = load
        expected = relayed(self.queued) + count * (more[0] if more else 1)
        start = time.perf_counter()
        finished(source(self.gateway, *load))
        deadline = time.monotonic() + 600
        while relayed(self.queued) < expected:  # the queue empties: every copy taken by the sink
            if time.monotonic() > deadline:
                raise SystemExit("the gateway's queue did not empty in 600 s")
            time.sleep(0.005)
        return time.perf_counter() - start, cpu_seconds(self.pids) - before

    def via_postfix(
        self, message: Path, sessions: int, count: int, recipients: int = 1
    ) -> tuple[float, float]:
        """(seconds until Postfix's queue is empty again, CPU seconds of the instance)"""
        before = self.postfix.cpu_seconds()
        start = time.perf_counter()
        finished(source(self.postfix.port, message, sessions, count, recipients))
        self.postfix.wait_until_empty(timeout=600, poll=0.005)
        elapsed = time.perf_counter() - start
        self.through_postfix += count * recipients
        return elapsed, self.postfix.cpu_seconds() - before

    def postfix_delivered_all(self) -> None:
        """Every recipient given to Postfix logged `status=sent` (its log lags its work a little)."""
        deadline = time.monotonic() + 30
        while True:
            log = self.postfix.log()
            sent, other = log.count(" status=sent "), log.count(" status=") - log.count(" status=sent ")
            if other:
                raise SystemExit(f"Postfix did not deliver everything: {other} deferred or bounced")
            if sent >= self.through_postfix:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"Postfix logged {sent} deliveries of {self.through_postfix}")
            time.sleep(0.2)


def relayed(database: Path) -> int:
    """Copies the gateway has relayed so far (their decisions, written once the sink took each)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        return db.execute("SELECT count(*) FROM decisions WHERE verdict = 'relayed'").fetchone()[0]


def row(ways: Ways, rounds: int, message: Path, sessions: int, count: int, recipients: int = 1) -> tuple:
    """Medians of `rounds` rounds (direct, gateway and Postfix alternated: the VM's drift hits all alike) of
    copies per second and CPU seconds per copy, with each round's gateway/Postfix ratio."""
    copies = count * recipients
    load = (message, sessions, count, recipients)
    directs, gateways, postfixes, gateway_cpu, postfix_cpu = [], [], [], [], []
    for _ in range(rounds):
        directs.append(copies / ways.direct(*load))
        elapsed, cpu = ways.via_gateway(*load)
        gateways.append(copies / elapsed)
        gateway_cpu.append(cpu / copies)
        elapsed, cpu = ways.via_postfix(*load)
        postfixes.append(copies / elapsed)
        postfix_cpu.append(cpu / copies)
    m = statistics.median
    each = [g / p for g, p in zip(gateways, postfixes)]
    return m(directs), m(gateways), m(postfixes), m(gateway_cpu), m(postfix_cpu), each


@contextmanager
def running(
    workers: int, log: Path | None = None, queue: bool = False
) -> Iterator[tuple[Path, int, int, subprocess.Popen, PostfixRelay]]:
    """Postfix's smtp-sink, the gateway relaying to it (`workers` processes, every rule, durable decisions)
    and a private Postfix relaying to it too, all up: (temp dir, sink port, gateway port, gateway, Postfix)."""
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
                database=f"sqlite:///{tmp}/bench.db", tmp=tmp, port=port, sink=sink_port, workers=workers,
                http=free_port(), queue=str(queue).lower(),
            )
        )  # fmt: skip
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=open(log or tmp / "gateway.log", "w"),
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        postfix = PostfixRelay(free_port(), sink_port)
        try:
            postfix.start()
            wait_for_port(port)
            time.sleep(0.5)  # every worker up
            yield tmp, sink_port, port, gateway, postfix
        finally:
            postfix.stop()
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(60)
            sink.terminate()
            sink.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--messages", type=int, default=2000, help="per row at 20 connections (a fifth at 1)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="measurements of each way per row (medians shown)"
    )
    parser.add_argument(
        "--queue", action="store_true", help="smtp.queue = true: 250 once queued, timed until all relayed"
    )
    args = parser.parse_args()
    for tool in (SOURCE, SINK):
        if not os.access(tool, os.X_OK):
            raise SystemExit(f"{tool} is missing: run scripts/test once (it installs Postfix's tools)")
    if os.geteuid() != 0:
        raise SystemExit("the Postfix row needs root (a private Postfix instance's master starts as root)")
    rows = []
    with running(args.workers, queue=args.queue) as (tmp, sink_port, port, gateway, postfix):
        ways = Ways(sink_port, port, family(gateway.pid), postfix, tmp / "bench.db" if args.queue else None)
        for size in (5_000, 50_000):
            message = tmp / f"m{size}.eml"
            message.write_bytes(newsletter(size).replace(b"\r\n", b"\n"))  # smtp-source adds the CRs
            ways.via_gateway(message, 4, 40)  # warm up: connections, caches
            ways.via_postfix(message, 4, 40)
            for sessions in (1, 20):
                count = args.messages if sessions > 1 else args.messages // 5
                rows.append(
                    (
                        f"{size // 1000}KB",
                        sessions,
                        count,
                        *row(ways, args.rounds, message, sessions, count),
                    )
                )
        # fan-out: 20-recipient marketing messages, one copy per recipient through the gateway, one
        # 20-recipient transaction through Postfix and straight to the sink
        count = max(1, args.messages // 20)
        rows.append(("5KB x20 rcpt", 20, count, *row(ways, args.rounds, tmp / "m5000.eml", 20, count, 20)))
        ways.postfix_delivered_all()
    print(
        f"{'size':>12} {'conns':>5} {'msgs':>6} {'direct/s':>9} {'gateway/s':>10} {'postfix/s':>10} "
        f"{'gw/direct':>9} {'gw/postfix':>10} {'gw/postfix each round':>22} {'gateway CPU':>12} {'postfix CPU':>12}"
    )
    for size, sessions, count, direct, via, postfix_rate, gateway_cpu, postfix_cpu, each in rows:
        rounds = " ".join(f"{r:.3f}" for r in each)
        print(
            f"{size:>12} {sessions:>5} {count:>6} {direct:>9,.0f} {via:>10,.0f} {postfix_rate:>10,.0f} "
            f"{via / direct:>9.3f} {via / postfix_rate:>10.3f} {rounds:>22} "
            f"{gateway_cpu * 1000:>7.2f} ms/m {postfix_cpu * 1000:>7.2f} ms/m"
        )
    print(
        f"(medians of {args.rounds} rounds, direct, gateway and Postfix alternated; rates: messages delivered at "
        "the sink per second, copies per second in the x20 row; CPU: ms per message (copy) delivered; gateway: "
        f"{args.workers} worker process(es), all rules, durable decisions; Postfix {postfix_version()}, its "
        f"defaults, relayhost = the sink; machine: {os.cpu_count()} cores)"
    )


def postfix_version() -> str:
    out = subprocess.run(["/usr/sbin/postconf", "-dh", "mail_version"], capture_output=True, text=True).stdout
    return out.strip() or "?"


if __name__ == "__main__":
    main()
