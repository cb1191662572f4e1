"""Prometheus metrics for both doors: decisions per channel and verdict, violations per code, latencies.

With several worker processes every process writes its samples to files under `<state_dir>/metrics`
(prometheus_client's multiprocess mode) and `/metrics`, whichever worker answers, reports the sum.
`prepare` must run before `prometheus_client` is first imported in the process (the parent, before forking).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .model import Decision

_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def prepare(state_dir: str, workers: int) -> None:
    """Before forking workers: a fresh directory for the processes' samples."""
    if workers <= 1:
        return
    directory = Path(state_dir) / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[_ENV] = str(directory.resolve())


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

        self._multiprocess = bool(os.environ.get(_ENV))
        disable_created_metrics()  # the *_created series only double what a scraper sees
        self._registry = CollectorRegistry(auto_describe=True)
        registry = None if self._multiprocess else self._registry
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

    def decided(self, decision: Decision) -> None:
        channel = decision.channel.value
        self.decisions.labels(channel, decision.verdict.value).inc()
        for code in dict.fromkeys(v.code for v in decision.violations):
            self.violations.labels(channel, code).inc()

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        if self._multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self._registry), CONTENT_TYPE_LATEST
