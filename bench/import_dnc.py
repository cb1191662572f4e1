"""Importing a Do-Not-Call registry copy: seconds for N numbers through `gateway dnc import` (the whole
command: reading the file, checking each line, one transaction into the store).

    .venv/bin/python bench/import_dnc.py [--numbers 1000000] [--database URL]

The file is made in the registry's shape (one ten-digit number per line, all in valid NANP area codes).
Target: 1,000,000 numbers in under 60 s. Prints one table row.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.cli import main as cli_main


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--database", help="a store URL (default: a new SQLite file)")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        registry = tmp / "national.txt"
        with registry.open("w") as f:
            for _ in range(args.numbers):
                f.write(f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}\n")
        database = args.database or f"sqlite:///{tmp}/bench.db"
        config = tmp / "bench.toml"
        config.write_text(f'[gateway]\ndatabase = "{database}"\n')
        today = datetime.now(UTC).date().isoformat()
        started = time.perf_counter()
        code = cli_main(
            ["dnc", "import", str(registry), "--list", "national", "--as-of", today, "--config", str(config)]
        )
        seconds = time.perf_counter() - started
    print(f"{'numbers':>10} {'store':>10} {'seconds':>8} {'numbers/s':>10} {'target':>8}")
    print(
        f"{args.numbers:>10,} {database.split(':')[0]:>10} {seconds:>8.1f} {args.numbers / seconds:>10,.0f} {'< 60 s':>8}"
    )
    print(f"(exit {code}: 1 when some lines were rejected, e.g. an area code or exchange out of range)")


if __name__ == "__main__":
    main()
