"""Chaos: the gateway killed with SIGKILL again and again while several SMTP clients send through it, the
upstream killed now and then, the store's write lock held by someone else, and the disk filled. Then
the books: what was acknowledged, lost, relayed without a decision, delivered twice, answered 4xx.

    .venv/bin/python bench/chaos.py [--cycles 20] [--clients 4] [--workers 2] [--seconds 2.0]

Bounded: `--cycles` kill cycles of about `--seconds` of load each, then the clients' retries are drained
(at most 60 s) and the gateway stopped cleanly. As root, the gateway's database and state_dir are on a
48 MB tmpfs that the disk-full cycles fill; otherwise those cycles are skipped (said in the table).

Each client is a small MTA: one unique message per recipient (its own Message-ID), sent again after a
4xx, a dropped connection or no answer, until it has a 2xx or 5xx (at most 30 attempts). A message whose
attempt was cut off after its final dot (no answer) or answered 4xx at the end of DATA was "in flight":
the only kind the gateway may deliver twice (SMTP's own gap, RFC 1047).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PASSWORD = "chaos-smtp-secret-1"
SENDER = """
[gateway]
database = "sqlite:///{state}/gateway.db"
state_dir = "{state}/state"
public_url = "http://127.0.0.1:{http}"
disk_reserve_mb = 2

[smtp]
listen = "127.0.0.1:{smtp}"
upstream = "smtp://127.0.0.1:{upstream}"
upstream_timeout = 5
workers = {workers}
drain_seconds = 5
{queue}

[http]
listen = "127.0.0.1:{http}"

[[sender]]
name = "orders"
brand = "Demo Outfitters"
from_domains = ["news.demo.example"]
category = "transactional"
smtp_username = "orders"
smtp_password_env = "CHAOS_SMTP_PASSWORD"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise SystemExit(f"nothing listening on {port} after {timeout} s")


def message(client: int, n: int) -> tuple[str, str, bytes]:
    mid = f"chaos-{client}-{n}@news.demo.example"
    rcpt = f"r{client}-{n}@example.com"
    body = (
        f"From: Demo Outfitters <orders@news.demo.example>\r\nTo: {rcpt}\r\nSubject: Your order {client}-{n}\r\n"
        f"Message-ID: <{mid}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Thanks for your order {client}-{n}. It ships tomorrow.\r\n"
    ).encode()
    return mid, rcpt, body


@dataclass
class Books:
    acknowledged: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    in_flight: set[str] = field(default_factory=set)
    unsent: set[str] = field(default_factory=set)
    answers: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client(threading.Thread):
    def __init__(self, number: int, port: int, books: Books, stop: threading.Event, drain: threading.Event):
        super().__init__(daemon=True)
        self.number, self.port, self.books, self.stop, self.drain = number, port, books, stop, drain
        self.queue: list[tuple[str, str, bytes, int]] = []
        self.sent = 0

    def run(self) -> None:
        while not self.drain.is_set():
            if not self.stop.is_set() and len(self.queue) < 3:
                self.sent += 1
                self.queue.append((*message(self.number, self.sent), 0))
            if not self.queue:
                if self.stop.is_set():
                    return
                continue
            mid, rcpt, body, tries = self.queue.pop(0)
            outcome = self.attempt(mid, rcpt, body)
            if outcome == "retry":
                if tries + 1 >= 30:
                    with self.books.lock:
                        self.books.unsent.add(mid)
                else:
                    self.queue.append((mid, rcpt, body, tries + 1))
                    time.sleep(0.05 * min(tries + 1, 10))
        with self.books.lock:
            self.books.unsent.update(mid for mid, *_ in self.queue)

    def attempt(self, mid: str, rcpt: str, body: bytes) -> str:
        books = self.books
        try:
            smtp = smtplib.SMTP("127.0.0.1", self.port, timeout=10)
        except (OSError, smtplib.SMTPException):
            with books.lock:
                books.answers["no connection"] += 1
            return "retry"
        try:
            smtp.login("orders", PASSWORD)
            code, _ = smtp.mail("orders@news.demo.example")
            if code == 250:
                code, _ = smtp.rcpt(rcpt)
            if code != 250:
                with books.lock:
                    books.answers[f"{code // 100}xx before DATA"] += 1
                    if code >= 500:
                        books.refused.add(mid)
                return "retry" if code < 500 else "done"
            try:
                code, _ = smtp.data(body)
            except smtplib.SMTPDataError as exc:
                code = exc.smtp_code
            except (OSError, smtplib.SMTPServerDisconnected):
                with books.lock:
                    books.in_flight.add(mid)  # cut off, maybe after the final dot: in flight
                    books.answers["cut off in DATA"] += 1
                return "retry"
            with books.lock:
                books.answers[str(code)] += 1
                if 200 <= code < 300:
                    books.acknowledged.add(mid)
                    return "done"
                if code >= 500:
                    books.refused.add(mid)
                    return "done"
                books.in_flight.add(mid)  # a 4xx at the end of DATA: the upstream may have it
            return "retry"
        except (OSError, smtplib.SMTPException):
            with books.lock:
                books.answers["cut off before DATA"] += 1
            return "retry"
        finally:
            with contextlib.suppress(Exception):
                smtp.close()


class Chaos:
    def __init__(self, args: argparse.Namespace, root: Path, disk: Path | None) -> None:
        self.args, self.root = args, root
        self.state = disk or root / "state-disk"
        self.state.mkdir(exist_ok=True)
        self.disk = disk
        self.smtp, self.http, self.upstream = free_port(), free_port(), free_port()
        self.config = root / "gateway.toml"
        self.config.write_text(
            SENDER.format(
                state=self.state,
                http=self.http,
                smtp=self.smtp,
                upstream=self.upstream,
                workers=args.workers,
                queue="queue = true\nqueue_retry_seconds = 1" if args.queue else "",
            )
        )
        self.sink_dir = root / "sink"
        self.gateway: subprocess.Popen | None = None
        self.sink: subprocess.Popen | None = None
        self.log = open(root / "gateway.log", "ab")
        self.events: Counter = Counter()

    def start_gateway(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CHAOS_SMTP_PASSWORD": PASSWORD,
            "GATEWAY_TOKEN_SECRET": "chaos-token-secret-0123456789",
        }
        self.gateway = subprocess.Popen(
            [PYTHON, "-m", "gateway", "serve", "--config", str(self.config)],
            cwd=self.root,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        wait_for_port(self.smtp, self.gateway)

    def kill_gateway(self) -> None:
        assert self.gateway is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.gateway.pid, signal.SIGKILL)  # the parent and every worker, at once
        self.gateway.wait()
        self.events["gateway kill -9"] += 1

    def start_sink(self) -> None:
        self.sink = subprocess.Popen(
            [
                PYTHON,
                str(REPO / "tests" / "smtp_sink.py"),
                "--port",
                str(self.upstream),
                "--dir",
                str(self.sink_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.upstream, self.sink)

    def kill_sink(self) -> None:
        assert self.sink is not None
        self.sink.kill()
        self.sink.wait()
        self.events["upstream kill -9"] += 1

    def hold_store_lock(self, seconds: float) -> None:
        conn = sqlite3.connect(self.state / "gateway.db", timeout=5, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            time.sleep(seconds)
            conn.execute("ROLLBACK")
            self.events[f"store write lock held {seconds:g} s"] += 1
        except sqlite3.Error:
            pass
        finally:
            conn.close()

    def fill_disk(self, seconds: float) -> None:
        assert self.disk is not None
        filler = self.disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            chunk = b"\0" * (1 << 20)
            with contextlib.suppress(OSError):  # until ENOSPC
                while True:
                    os.write(fd, chunk)
        finally:
            os.close(fd)
        time.sleep(seconds)
        filler.unlink()
        self.events[f"disk full {seconds:g} s"] += 1

    def close(self) -> None:
        """Whatever is still running, stopped (after a failure too)."""
        for proc in (self.gateway, self.sink):
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL) if proc is self.gateway else proc.kill()
                proc.wait()

    def run(self) -> dict:
        args = self.args
        self.start_sink()
        self.start_gateway()
        books, stop, drain = Books(), threading.Event(), threading.Event()
        clients = [Client(i, self.smtp, books, stop, drain) for i in range(args.clients)]
        for c in clients:
            c.start()
        rng = random.Random(19)
        started = time.monotonic()
        for cycle in range(1, args.cycles + 1):
            time.sleep(args.seconds * rng.uniform(0.5, 1.5))
            if cycle % 5 == 0:
                self.kill_sink()
                time.sleep(0.5)
                self.start_sink()
            if cycle % 7 == 0:
                self.hold_store_lock(3.0)
            if cycle % 6 == 3:
                if self.disk is not None:
                    self.fill_disk(2.0)
                else:
                    self.events["disk full (skipped: not root)"] += 1
            self.kill_gateway()
            time.sleep(rng.uniform(0, 0.3))
            self.start_gateway()
        stop.set()
        deadline = time.monotonic() + 60
        while any(c.is_alive() for c in clients) and time.monotonic() < deadline:
            time.sleep(0.2)
        drain.set()
        for c in clients:
            c.join(10)
        if self.args.queue:  # what the queue holds goes before the books are read
            self.wait_for_queue(60)
        elapsed = time.monotonic() - started
        assert self.gateway is not None
        self.gateway.send_signal(signal.SIGTERM)
        self.gateway.wait(60)
        self.sink.send_signal(signal.SIGTERM) if self.sink else None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.sink.wait(10) if self.sink else None
        return self.books(books, elapsed)

    def wait_for_queue(self, seconds: float) -> None:
        """Until the queue has relayed all it took: no decision `relaying` or `deferred`, and no entry
        left in a segment (one taken over after the last kill may have no decision yet); at most so long."""
        sys.path.insert(0, str(REPO))
        from gateway.mail.spool_records import read_segment

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            waiting = 0
            for path in (self.state / "state" / "queue").glob("*.seg"):
                with contextlib.suppress(OSError):
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        waiting += len(read_segment(fd, path))
                    finally:
                        os.close(fd)
            try:
                with sqlite3.connect(self.state / "gateway.db", timeout=5) as db:
                    waiting += db.execute(
                        "SELECT count(*) FROM decisions WHERE verdict IN ('relaying', 'deferred')"
                    ).fetchone()[0]
            except sqlite3.Error:
                waiting += 1
            if waiting == 0:
                return
            time.sleep(0.5)
        self.events["queue not empty at the end"] += 1

    def books(self, books: Books, elapsed: float) -> dict:
        delivered: Counter = Counter()
        for meta in self.sink_dir.glob("*.eml"):
            m = re.search(rb"^Message-ID: <([^>]+)>", meta.read_bytes(), re.MULTILINE)
            if m:
                delivered[m.group(1).decode()] += 1
        decided = asyncio.run(self.decisions())
        twice = {mid for mid, n in delivered.items() if n > 1}
        undecided = {mid for mid in delivered if mid not in decided}
        unknown = sum(1 for verdicts in decided.values() if "unknown" in verdicts)
        return {
            "kill -9 cycles": self.events["gateway kill -9"],
            "faults": dict(self.events),
            "seconds": round(elapsed, 1),
            "messages acknowledged (250)": len(books.acknowledged),
            "acknowledged, lost": len(books.acknowledged - set(delivered)),
            "delivered upstream": len(delivered),
            "relayed without a decision": len(undecided),
            "delivered twice": len(twice),
            "  of them in flight at a fault": len(twice & books.in_flight),
            "  of them not in flight (must be 0)"
            if not self.args.queue
            else "  of them acknowledged, then sent again after a kill": len(twice - books.in_flight),
            "in flight at a fault": len(books.in_flight),
            "decisions 'unknown'": unknown,
            "4xx answered": sum(n for k, n in books.answers.items() if k.startswith("4")),
            "cut off (connection lost)": books.answers["cut off in DATA"]
            + books.answers["cut off before DATA"]
            + books.answers["no connection"],
            "refused 5xx": len(books.refused),
            "given up after 30 tries": len(books.unsent),
        }

    async def decisions(self) -> dict[str, set[str]]:
        sys.path.insert(0, str(REPO))
        from gateway.store.sqlite import SqliteStore

        store = SqliteStore(str(self.state / "gateway.db"))
        found: dict[str, set[str]] = {}
        try:
            async for d in store.iter_decisions():
                if d.message_id:
                    found.setdefault(d.message_id, set()).add(d.verdict.value)
        finally:
            await store.close()
        return found


@contextlib.contextmanager
def small_disk(root: Path):
    if os.geteuid() != 0:
        yield None
        return
    disk = root / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)]).returncode != 0:
        yield None
        return
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=20)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seconds", type=float, default=2.0, help="load between kills (0.5x to 1.5x, at random)")
    p.add_argument("--queue", action="store_true", help="smtp.queue = true: 250 once queued on the disk")
    args = p.parse_args()
    if not 1 <= args.cycles <= 500 or not 1 <= args.clients <= 64:
        p.error("--cycles 1-500, --clients 1-64")
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp, small_disk(Path(tmp)) as disk:
        chaos = Chaos(args, Path(tmp), disk)
        try:
            result = chaos.run()
        except SystemExit:
            sys.stderr.write((Path(tmp) / "gateway.log").read_text(errors="replace")[-3000:])
            raise
        finally:
            chaos.close()
    faults = result.pop("faults")
    width = max(map(len, result))
    queued = ", smtp.queue on" if args.queue else ""
    print(f"chaos: {args.clients} clients, {args.workers} workers, {args.cycles} cycles{queued}")
    print("faults: " + ", ".join(f"{k} x{v}" for k, v in faults.items()))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    bad = (
        result["acknowledged, lost"]
        or result["relayed without a decision"]
        or result.get("  of them not in flight (must be 0)", 0)
    )  # (queued, a kill between the upstream's 250 and the outcome's commit sends it again: at least once)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
