"""Worker processes: one gateway per state directory, a worker's death does not stop the others (a new one
takes its place), and /metrics sums every worker's counts without memory-mapped files."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import time
import urllib.request

from helpers import REPO
from servers import GatewayProcess, wait_until
from test_smtp import ENV, RECEIPT, Setup


def workers_of(setup: Setup) -> set[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(setup.gateway.proc.pid)], capture_output=True, text=True
    ).stdout
    return {int(p) for p in out.split()}


def http_port(setup: Setup) -> int:
    return int(re.search(r'\[http\]\nlisten = "127.0.0.1:(\d+)"', setup.config.read_text()).group(1))


def metrics(setup: Setup) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port(setup)}/metrics", timeout=10) as r:
        return r.read().decode()


def relayed_count(text: str) -> float:
    m = re.search(r'gateway_decisions_total\{channel="email",verdict="relayed"\} (\S+)', text)
    return float(m.group(1)) if m else 0.0


def connect(setup: Setup):
    """A client connection; one reset before the greeting (a connection the killed worker's socket had
    queued) is tried again, as any MTA would: nothing was sent on it."""
    try:
        return setup.client("acme-tx")
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        return setup.client("acme-tx")


def send(setup: Setup, count: int, tag: str) -> None:
    for i in range(count):
        with connect(setup) as c:
            assert c.sendmail("orders@news.demo.example", [f"{tag}{i}@example.com"], RECEIPT) == {}


def second_serve(setup: Setup) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(setup.config)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=setup.tmp,
        env={**os.environ, "PYTHONPATH": str(REPO), **ENV},
    )


def test_a_second_serve_of_the_same_state_refuses_to_start(tmp_path):
    for workers in (1, 2):
        setup = Setup(tmp_path / f"w{workers}", smtp_extra=f"workers = {workers}")
        try:
            second = second_serve(setup)
            assert second.returncode == 2, second.stderr
            assert "already serving from state_dir" in second.stderr
            assert f"pid {setup.gateway.proc.pid}" in second.stderr and "Traceback" not in second.stderr
            send(setup, 2, "still")  # the first one is untouched
        finally:
            assert setup.close() == 0
        assert "gateway: serving" in (setup.tmp / "gateway.log").read_text()


def test_a_worker_killed_does_not_stop_the_others_and_is_replaced(tmp_path):
    setup = Setup(tmp_path, smtp_extra="workers = 2")
    try:
        wait_until(lambda: len(workers_of(setup)) == 2)
        send(setup, 4, "before")
        victim = min(workers_of(setup))
        os.kill(victim, signal.SIGKILL)
        send(setup, 6, "during")  # the survivor serves (the kernel gives the port to the live socket)
        wait_until(lambda: len(workers_of(setup)) == 2 and victim not in workers_of(setup), timeout=20)
        send(setup, 4, "after")
        assert len(setup.sink.messages()) == 14 and len(setup.decisions(14)) == 14
        assert f"worker {victim} stopped (signal 9); starting another" in setup.gateway.output()
    finally:
        assert setup.close() == 0  # and SIGTERM still stops them all, cleanly


def test_metrics_are_the_sum_of_every_worker_even_one_that_died(tmp_path):
    setup = Setup(tmp_path, smtp_extra="workers = 2")
    try:
        wait_until(lambda: len(workers_of(setup)) == 2)
        send(setup, 10, "m")
        wait_until(lambda: relayed_count(metrics(setup)) == 10, timeout=15)  # snapshots every 5 s
        metrics_dir = tmp_path / "state" / "metrics"
        assert not list(metrics_dir.glob("*.db"))  # no prometheus_client mmap files
        victim = min(workers_of(setup))
        wait_until(lambda: (metrics_dir / f"{victim}.prom").exists(), timeout=10)
        time.sleep(5.5)  # its latest counts written
        os.kill(victim, signal.SIGKILL)
        send(setup, 2, "n")
        wait_until(lambda: relayed_count(metrics(setup)) == 12, timeout=15)
    finally:
        assert setup.close() == 0


def test_workers_stop_when_their_parent_is_killed_and_the_state_is_free_again(tmp_path):
    setup = Setup(tmp_path, smtp_extra="workers = 2")
    try:
        wait_until(lambda: len(workers_of(setup)) == 2)
        orphans = workers_of(setup)
        setup.gateway.proc.kill()
        setup.gateway.proc.wait()

        def gone() -> bool:
            return not any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in orphans)

        wait_until(gone, timeout=25)  # drained and stopped, not serving on with nobody to stop them
        again = Setup.__new__(Setup)
        again.__dict__.update(setup.__dict__)
        again.gateway = GatewayProcess(setup.config, setup.port, tmp_path, ENV)
        send(again, 1, "again")
        again.gateway.stop()
    finally:
        setup.sink.stop()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_a_second_serve_with_another_state_dir_but_the_same_sqlite_file_refuses(tmp_path):
    setup = Setup(tmp_path)
    try:
        other = tmp_path / "other.toml"
        other.write_text(
            setup.config.read_text()
            .replace(f'state_dir = "{tmp_path}/state"', f'state_dir = "{tmp_path}/state2"')
            .replace(f"127.0.0.1:{setup.port}", "127.0.0.1:1")
        )
        second = subprocess.run(
            [sys.executable, "-m", "gateway", "serve", "--config", str(other)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO), **ENV},
        )
        assert second.returncode == 2 and "with the database" in second.stderr, second.stderr
    finally:
        assert setup.close() == 0
