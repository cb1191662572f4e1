"""Suppression CSV import: rows per second and peak memory of `gateway suppress import`, by file size.

    .venv/bin/python bench/import_csv.py [--rows 1000000]

Each size runs in a fresh process against a fresh database, so the peak RSS column shows whether
memory stays flat as the file grows (it should: the import streams in batches).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CONFIG = """
[gateway]
database = "sqlite:///{db}"

[[sender]]
name = "acme"
brand = "Acme"
from_domains = ["acme.example"]
"""


def write_csv(path: Path, rows: int, channel: str) -> None:
    with open(path, "w") as f:
        f.write("address,scope,reason,source\n")
        for i in range(rows):
            address = (
                f"customer.{i}@example{i % 1000}.com" if channel == "email" else f"+1305{2_000_000 + i:07d}"
            )
            f.write(f"{address},{'acme' if i % 2 else 'global'},unsubscribe,esp-export\n")


def run_import(rows: int, channel: str, tmp: Path) -> tuple[float, float, str]:
    data = tmp / f"{channel}-{rows}.csv"
    write_csv(data, rows, channel)
    config = tmp / f"{channel}-{rows}.toml"
    config.write_text(CONFIG.format(db=tmp / f"{channel}-{rows}.db"))
    code = (
        "import resource, sys; from gateway.cli import main; rc = main(sys.argv[1:]); "
        "print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)"
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "suppress",
            "import",
            str(data),
            "--channel",
            channel,
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"import failed: {proc.stderr}")
    rss_kb = int(proc.stderr.split("maxrss")[1].split()[0])
    return seconds, rss_kb / 1024, proc.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sms-rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        results = []
        for channel, rows in (("email", args.rows // 10), ("email", args.rows), ("sms", args.sms_rows)):
            seconds, rss, summary = run_import(rows, channel, tmp)
            results.append((channel, rows, seconds, rows / seconds, rss))
            print(f"  {channel} {rows:,}: {summary}", file=sys.stderr)
    print(f"{'channel':<8} {'rows':>10} {'seconds':>9} {'rows/s':>10} {'peak RSS MiB':>13}")
    for channel, rows, seconds, rate, rss in results:
        print(f"{channel:<8} {rows:>10,} {seconds:>9.1f} {rate:>10,.0f} {rss:>13.1f}")
    print(
        f"(machine: {os.cpu_count()} cores; whole process: start-up, CSV parsing, validation, hashing, SQLite)"
    )


if __name__ == "__main__":
    main()
