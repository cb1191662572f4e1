"""Prometheus metrics for both doors: decisions per channel and verdict, violations per code, latencies.

Each process counts in memory. With several worker processes each also writes what it has counted to
`<state_dir>/metrics/<pid>.prom` every few seconds (a file written whole and renamed in), and `/metrics`,
whichever worker answers, reports its own counts plus the others' latest files, summed. Nothing is
memory-mapped: a full disk makes a snapshot fail (logged, tried again), never a worker crash (the mmap
files of prometheus_client's multiprocess mode die of SIGBUS there). A worker that died and was replaced
still counts, through the file it left.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections import defaultdict
from pathlib import Path

from .model import Decision, Verdict
from .store.optout_requests import HONOUR_BUCKETS, OptOutStats

log = logging.getLogger("gateway.metrics")

_ENV = "GATEWAY_METRICS_DIR"  # set for the workers by `prepare`
SNAPSHOT_SECONDS = 5.0
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def prepare(state_dir: str, workers: int) -> None:
    """Before forking workers: a fresh directory for the processes' snapshots."""
    if workers <= 1:
        return
    directory = Path(state_dir) / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[_ENV] = str(directory.resolve())


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

        shared = os.environ.get(_ENV)
        self.directory = Path(shared) if shared else None
        disable_created_metrics()  # the *_created series only double what a scraper sees
        self._registry = registry = CollectorRegistry(auto_describe=True)
        self._failing = False
        self.decisions = Counter(
            "gateway_decisions", "Messages judged, per recipient", ["channel", "verdict"], registry=registry
        )
        self.violations = Counter(
            "gateway_violations", "Violations found, per code", ["channel", "code"], registry=registry
        )
        self.http_seconds = Histogram(
            "gateway_http_request_seconds",
            "HTTP requests, arrival to answer",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.smtp_seconds = Histogram(
            "gateway_smtp_message_seconds",
            "SMTP messages, end of DATA to the reply",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.provider_seconds = Histogram(
            "gateway_sms_provider_seconds",
            "Calls to the SMS provider",
            ["provider", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

        self.auth_failures = Counter(
            "gateway_auth_failures",
            "Failed credential checks (SMTP AUTH, API keys, console sign-in), and those that set off a block",
            ["door", "blocked"],
            registry=registry,
        )

    def watch_queue(self, waiting) -> None:
        """smtp.queue: `waiting()` is how many messages this process's queue holds (summed over workers)."""
        from prometheus_client import Gauge

        gauge = Gauge(
            "gateway_queue_messages",
            "Messages queued (smtp.queue): accepted, not yet taken upstream or returned",
            registry=self._registry,
        )
        gauge.set_function(waiting)

    def auth_failed(self, door: str, blocked: bool) -> None:
        self.auth_failures.labels(door, "yes" if blocked else "no").inc()

    def decided(self, decision: Decision) -> None:
        if decision.verdict is Verdict.RELAYING:  # an intent: its outcome is counted when it comes
            return
        channel = decision.channel.value
        self.decisions.labels(channel, decision.verdict.value).inc()
        for code in dict.fromkeys(v.code for v in decision.violations):
            self.violations.labels(channel, code).inc()

    # -- several workers -----------------------------------------------------------------------------------

    def _own_file(self) -> Path:
        assert self.directory is not None
        return self.directory / f"{os.getpid()}.prom"

    def snapshot(self) -> None:
        """This process's counts to its file, whole or not at all (a failure is logged once, not raised)."""
        from prometheus_client import generate_latest

        if self.directory is None:
            return
        path = self._own_file()
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_bytes(generate_latest(self._registry))
            os.replace(tmp, path)
        except OSError as exc:
            if not self._failing:
                log.warning("metrics snapshot not written (the other workers' /metrics lag): %s", exc)
            self._failing = True
            return
        if self._failing:
            log.info("metrics snapshots written again")
        self._failing = False

    async def snapshots(self) -> None:
        """Snapshot every SNAPSHOT_SECONDS, for as long as the worker runs (a task of the server's)."""
        while True:
            await asyncio.to_thread(self.snapshot)
            await asyncio.sleep(SNAPSHOT_SECONDS)

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        own = generate_latest(self._registry)
        if self.directory is None:
            return own, CONTENT_TYPE_LATEST
        texts = [own.decode()]
        mine = self._own_file().name
        for path in sorted(self.directory.glob("*.prom")):
            if path.name != mine:
                try:
                    texts.append(path.read_text())
                except (OSError, UnicodeDecodeError):
                    continue  # being replaced this instant, or unreadable: the next scrape has it
        return summed(texts).encode(), CONTENT_TYPE_LATEST


def summed(texts: list[str]) -> str:
    """Prometheus text expositions of the same counters and histograms, added up sample by sample."""
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, tuple[str, str]] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = defaultdict(dict)
    for text in texts:
        try:
            parsed = list(text_string_to_metric_families(text))
        except ValueError:
            continue  # a torn or foreign file: skipped
        for family in parsed:
            families.setdefault(family.name, (family.type, family.documentation))
            samples = values[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                samples[key] = samples.get(key, 0.0) + sample.value
    lines = []
    for name, (kind, documentation) in families.items():
        shown_name = name + "_total" if kind == "counter" else name  # as prometheus_client writes it
        lines.append(f"# HELP {shown_name} {_escape_help(documentation)}")
        lines.append(f"# TYPE {shown_name} {kind}")
        for (sample_name, labels), value in values[name].items():
            shown = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
            lines.append(f"{sample_name}{{{shown}}} {value!r}" if shown else f"{sample_name} {value!r}")
    return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def deadline_lines(stats: OptOutStats) -> str:
    """The opt-out deadline clock as Prometheus text (store.optout_requests.OptOutStats), read from the store
    when scraped, so every instance reports the same: requests open and overdue, and the time from receipt
    to honour of every request closed as honoured."""
    lines = [
        "# HELP gateway_optout_requests_open Opt-out requests waiting for a person",
        "# TYPE gateway_optout_requests_open gauge",
        f"gateway_optout_requests_open {stats.open}",
        "# HELP gateway_optout_requests_overdue Opt-out requests waiting past their deadline",
        "# TYPE gateway_optout_requests_overdue gauge",
        f"gateway_optout_requests_overdue {stats.overdue}",
        "# HELP gateway_optout_time_to_honour_seconds Receipt to honour of opt-out requests that waited for a person",
        "# TYPE gateway_optout_time_to_honour_seconds histogram",
    ]
    lines += [
        f'gateway_optout_time_to_honour_seconds_bucket{{le="{float(bound)}"}} {count}'
        for bound, count in zip(HONOUR_BUCKETS, stats.within, strict=True)
    ]
    lines += [
        f'gateway_optout_time_to_honour_seconds_bucket{{le="+Inf"}} {stats.honoured}',
        f"gateway_optout_time_to_honour_seconds_sum {stats.honour_seconds}",
        f"gateway_optout_time_to_honour_seconds_count {stats.honoured}",
    ]
    return "\n".join(lines) + "\n"
