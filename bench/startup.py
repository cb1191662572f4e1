"""Start-up time of the short commands, whole process, wall time: `gateway check` of a 5 KB email (target:
under 0.4 s), `gateway check --sms`, `gateway --help`, beside the floor every command pays (the same Python
starting and exiting: `python -c pass`, and `python -c "import asyncio"`).

    .venv/bin/python bench/startup.py [--runs 15]

Prints one row per command: median, best and worst of the runs, and the median over the floor's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from policy import newsletter  # the same 5 KB newsletter bench/policy.py and bench/smtp.py use

TARGET = 0.4


def timed(argv: list[str], runs: int, cwd: Path) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    gateway = shutil.which("gateway", path=str(Path(sys.executable).parent)) or "gateway"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "config", work / "config")
        message = newsletter(5_000).replace(b"news.acme.example", b"news.demo.example")  # the demo sender's
        (work / "newsletter.eml").write_bytes(message)
        os.environ.pop("GATEWAY_CONFIG", None)
        timed([gateway, "check", "--sender", "demo", "newsletter.eml"], 2, work)  # warm the caches
        rows = [
            ("python -c pass (the floor)", [sys.executable, "-c", "pass"]),
            ("python -c 'import asyncio'", [sys.executable, "-c", "import asyncio"]),
            ("gateway --help", [gateway, "--help"]),
            (
                f"gateway check, 5 KB email ({len(message)} bytes)",
                [gateway, "check", "--sender", "demo", "newsletter.eml"],
            ),
            (
                "gateway check --sms",
                [
                    gateway,
                    "check",
                    "--sms",
                    "--sender",
                    "demo",
                    "--to",
                    "+12125550123",
                    "--body",
                    "Demo Outfitters: order shipped.",
                ],
            ),
        ]
        results = [(name, timed(argv, args.runs, work)) for name, argv in rows]
    floor = statistics.median(results[0][1])
    print(f"{'command':<44} {'median s':>9} {'best s':>8} {'worst s':>8} {'over floor s':>13}")
    for name, times in results:
        median = statistics.median(times)
        print(f"{name:<44} {median:9.3f} {min(times):8.3f} {max(times):8.3f} {median - floor:13.3f}")
    check = statistics.median(results[3][1])
    print(
        f"\ntarget: gateway check of a 5 KB email under {TARGET} s: "
        f"{'met' if check < TARGET else 'NOT met'} ({check:.3f} s median of {args.runs})"
    )


if __name__ == "__main__":
    main()
