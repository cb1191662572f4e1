"""SMTP and SMS throughput with the store on PostgreSQL beside SQLite, and two instances sharing one PostgreSQL.

    .venv/bin/python bench/scaleout.py [--workers 1] [--messages 3000] [--seconds 8] [--rounds 3]

Three set-ups, each measured the same way:
  SQLite, one instance      the embedded default
  PostgreSQL, one instance  the same gateway with `database = "postgresql://…"`
  PostgreSQL, two instances two `gateway serve` processes (own ports, own state) on one database, the load
                            split evenly between them, as a load balancer would
SMTP: Postfix's smtp-source sends 5 KB compliant newsletters (one recipient each) over 20 connections in
all, into Postfix's smtp-sink, with every rule and a durable decision per recipient before each 250.
SMS: wrk drives `POST /v1/sms` (outbox provider) with 50 connections in all: marketing texts to 1,000
consented numbers, each claiming its place under the caps, its decision and outbox row durable before
the 201. PostgreSQL is a throwaway server from Debian's packages (scripts/postgres) with its default,
durable settings (fsync on, synchronous_commit on).
CPU columns, 100% = one core: the gateway processes, the PostgreSQL server processes, and the whole
machine (which includes the load generators); on a 2-core machine 200% is everything there is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from policy import newsletter
from processes import cpu_by_pid, family, free_port, wait_for_port
from sms import BODY, KEY, V1_SCRIPT, lua, seed, wrk, wrk_command, wrk_result
from smtp import CONFIG as SMTP_CONFIG
from smtp import SINK, SOURCE, blast, finished, source

# bench/smtp.py's gateway, its sender given an API key and a number, and texts stored in the outbox at any hour
CONFIG = (
    SMTP_CONFIG
    + """api_key_env = "BENCH_API_KEY"
sms_from = ["+15005550006"]

[sms]
provider = "outbox"

[policy.sms_hours]
start = "00:00"
end = "24:00"
"""
)

SMTP_CONNECTIONS, SMS_CONNECTIONS = 20, 50


@dataclass
class Instance:
    process: subprocess.Popen
    smtp: int
    http: int


@dataclass
class Row:
    setup: str
    door: str
    rate: float
    p99_ms: float | None
    bad: int
    gateway_cpu: float
    postgres_cpu: float | None
    machine_cpu: float


class Cpu:
    """CPU seconds of the gateway's and PostgreSQL's process trees, and the machine's busy time, over a span.
    Processes started during the span (a pool's new connection) count from zero."""

    def __init__(self, gateway_pids: list[int], postmaster: int | None) -> None:
        self.gateway_roots, self.postmaster = gateway_pids, postmaster

    def _trees(self) -> tuple[list[int], list[int]]:
        gateway = [pid for root in self.gateway_roots for pid in family(root)]
        return gateway, family(self.postmaster) if self.postmaster else []

    def __enter__(self) -> Cpu:
        gateway, postgres = self._trees()
        self._gateway, self._postgres = cpu_by_pid(gateway), cpu_by_pid(postgres)
        self._machine, self._start = _machine_busy(), time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        elapsed = time.monotonic() - self._start
        gateway, postgres = self._trees()

        def used(before: dict[int, float], pids: list[int]) -> float:
            return sum(now - before.get(pid, 0.0) for pid, now in cpu_by_pid(pids).items()) / elapsed

        self.gateway = used(self._gateway, gateway)
        self.postgres = used(self._postgres, postgres) if self.postmaster else None
        self.machine = (_machine_busy() - self._machine) / elapsed


def _machine_busy() -> float:
    """Seconds all cores have spent on anything but idle and I/O wait since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def start_postgres(tmp: Path) -> tuple[str, int]:
    """A throwaway server: its URL and its postmaster's pid."""
    out = subprocess.run(
        [str(REPO / "scripts" / "postgres"), "start", str(tmp / "pg")], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"cannot start PostgreSQL: {out.stderr.strip()[-1000:]}")
    pid = int((tmp / "pg" / "data" / "postmaster.pid").read_text().split()[0])
    return out.stdout.strip(), pid


def create_database(server: str, name: str) -> str:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(go())
    return server.rsplit("/", 1)[0] + "/" + name


def start_instances(run: Path, database: str, count: int, sink: int, workers: int) -> list[Instance]:
    seed(database)
    instances = []
    for n in range(count):
        home = run / f"instance{n + 1}"
        (home / "state").mkdir(parents=True)
        smtp, http = free_port(), free_port()
        config = home / "gateway.toml"
        config.write_text(
            CONFIG.format(database=database, tmp=home, port=smtp, sink=sink, http=http, workers=workers)
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=open(home / "gateway.log", "w"),
            env={**os.environ, "PYTHONPATH": str(REPO), "BENCH_API_KEY": KEY},
        )
        instances.append(Instance(process, smtp, http))
    for n, instance in enumerate(instances):
        try:
            wait_for_port(instance.smtp)
            wait_for_port(instance.http)
        except SystemExit:
            stop(instances)
            log = (run / f"instance{n + 1}" / "gateway.log").read_text()
            raise SystemExit(f"instance {n + 1} did not start:\n{log[-2000:]}")
    time.sleep(0.5 * workers)  # every worker up
    return instances


def stop(instances: list[Instance]) -> None:
    for instance in instances:
        instance.process.send_signal(signal.SIGTERM)
    for instance in instances:
        try:
            instance.process.wait(60)
        except subprocess.TimeoutExpired:
            instance.process.kill()


def measure_smtp(instances: list[Instance], message: Path, messages: int, cpu: Cpu) -> tuple[float, Cpu]:
    share = len(instances)
    with cpu:
        start = time.perf_counter()
        senders = [source(i.smtp, message, SMTP_CONNECTIONS // share, messages // share) for i in instances]
        for proc in senders:
            finished(proc)
        elapsed = time.perf_counter() - start
    return (messages // share) * share / elapsed, cpu


def measure_sms(instances: list[Instance], script: Path, seconds: int, cpu: Cpu) -> tuple[dict, Cpu]:
    share = len(instances)
    with cpu:
        drivers = [
            subprocess.Popen(
                wrk_command(f"http://127.0.0.1:{i.http}", script, SMS_CONNECTIONS // share, seconds),
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in instances
        ]
        results = [wrk_result(d.communicate(timeout=seconds + 60)[0]) for d in drivers]
    return {
        "rps": sum(r["rps"] for r in results),
        "p99": max(r["p99"] for r in results),
        "bad": sum(r["bad"] for r in results),
    }, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1, help="worker processes per instance")
    parser.add_argument("--messages", type=int, default=3000, help="SMTP messages per measurement")
    parser.add_argument("--seconds", type=int, default=8, help="SMS seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per row (the median is shown)")
    args = parser.parse_args()
    for tool in (SOURCE, SINK, "/usr/bin/wrk"):
        if not os.access(tool, os.X_OK):
            raise SystemExit(f"{tool} is missing: run scripts/test once (it installs it)")
    setups = [
        ("SQLite, 1 instance", None, 1),
        ("PostgreSQL, 1 instance", "one", 1),
        ("PostgreSQL, 2 instances", "two", 2),
    ]
    samples: dict[tuple[str, str], list[Row]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)  # the postgres user runs the server below it
        server, postmaster = start_postgres(tmp)
        sink_port = free_port()
        sink = subprocess.Popen(
            [SINK, "-u", os.environ.get("USER", "root"), f"127.0.0.1:{sink_port}", "1024"]
        )
        wait_for_port(sink_port)
        message = tmp / "m5000.eml"
        message.write_bytes(newsletter(5_000).replace(b"\r\n", b"\n"))  # smtp-source adds the CRs
        script = tmp / "v1.lua"
        script.write_text(lua(V1_SCRIPT, BODY=BODY, KEY=KEY))
        running: dict[str, list[Instance]] = {}
        try:
            for label, pg_name, count in setups:  # all up at once, idle but for the one being measured
                run = tmp / (pg_name or "sqlite")
                database = create_database(server, pg_name) if pg_name else f"sqlite:///{run}/bench.db"
                running[label] = start_instances(run, database, count, sink_port, args.workers)
                for i in running[label]:  # warm up: upstream and database connections, caches, every number
                    blast(i.smtp, message, 4, 40)
                    wrk(f"http://127.0.0.1:{i.http}", script, 10, 2)
            for _ in range(args.rounds):  # rounds interleave the set-ups: the machine's drift hits each alike
                for label, pg_name, _count in setups:
                    instances, pg = running[label], postmaster if pg_name else None
                    roots = [i.process.pid for i in instances]
                    rate, cpu = measure_smtp(instances, message, args.messages, Cpu(roots, pg))
                    samples.setdefault((label, "SMTP 5 KB"), []).append(
                        Row(label, "SMTP 5 KB", rate, None, 0, cpu.gateway, cpu.postgres, cpu.machine)
                    )
                    result, cpu = measure_sms(instances, script, args.seconds, Cpu(roots, pg))
                    samples.setdefault((label, "SMS /v1/sms"), []).append(
                        Row(
                            label,
                            "SMS /v1/sms",
                            result["rps"],
                            result["p99"],
                            result["bad"],
                            cpu.gateway,
                            cpu.postgres,
                            cpu.machine,
                        )
                    )
        finally:
            for instances in running.values():
                stop(instances)
            sink.terminate()
            sink.wait(10)
            subprocess.run([str(REPO / "scripts" / "postgres"), "stop", str(tmp / "pg")])
    report(samples, args)


def median_row(rows: list[Row]) -> Row:
    """The measurement with the median rate (its CPU and p99 with it), and every non-2xx answer."""
    middle = sorted(rows, key=lambda r: r.rate)[len(rows) // 2]
    return replace(middle, bad=sum(r.bad for r in rows))


def report(samples: dict[tuple[str, str], list[Row]], args: argparse.Namespace) -> None:
    rows = [median_row(rs) for rs in samples.values()]
    base = {r.door: r.rate for r in rows if r.setup.startswith("SQLite")}
    one_pg = {r.door: r.rate for r in rows if r.setup == "PostgreSQL, 1 instance"}
    print(
        f"{'store':<24} {'door':<12} {'per s':>7} {'range':>13} {'vs SQLite':>9} {'vs 1 PG':>8} {'p99 ms':>7} "
        f"{'non-2xx':>7} {'gateway CPU':>11} {'PG CPU':>7} {'machine':>8}"
    )
    for r in rows:
        rates = [s.rate for s in samples[(r.setup, r.door)]]
        spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
        p99 = f"{r.p99_ms:>7.1f}" if r.p99_ms is not None else f"{'':>7}"
        pg = f"{r.postgres_cpu * 100:>6.0f}%" if r.postgres_cpu is not None else f"{'':>7}"
        print(
            f"{r.setup:<24} {r.door:<12} {r.rate:>7,.0f} {spread:>13} {r.rate / base[r.door]:>9.2f} "
            f"{r.rate / one_pg[r.door]:>8.2f} {p99} {r.bad:>7} {r.gateway_cpu * 100:>10.0f}% {pg} "
            f"{r.machine_cpu * 100:>7.0f}%"
        )
    print(
        f"(median of {args.rounds} rounds, set-ups interleaved; each instance: {args.workers} worker process(es); "
        f"SMTP {SMTP_CONNECTIONS} and SMS {SMS_CONNECTIONS} connections in all, split evenly between instances; "
        f"CPU 100% = one core; machine: {os.cpu_count()} cores, load generators and PostgreSQL included)"
    )


if __name__ == "__main__":
    main()
