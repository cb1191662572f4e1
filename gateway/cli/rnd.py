"""`gateway rnd import FILE` — the Reassigned Numbers Database's answers (47 CFR 64.1200(m)).

The file is what the FCC's database answers a query with, one number per line: the number, the date asked
about (the date the consent on record was obtained), and the answer, `yes` (permanently disconnected since
that date), `no` or `no data`, comma-separated (`2125550123,2026-03-01,yes`); a header line is skipped.
Each answer replaces the one held for that number and date; the import is kept as a receipt (file, digest,
counts): the safe harbor needs proof the latest data was queried. A text relying on consent obtained on or
before a date the database said `yes` for is refused with NUMBER_REASSIGNED.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from .common import UsageError, add_config_option, load, open_input, report_import

_SEPARATORS = re.compile(r"[\s.\-()+]")
_NANP = re.compile(r"[2-9]\d{2}[2-9]\d{6}")
_ANSWERS = {"yes": "yes", "y": "yes", "no": "no", "n": "no", "no data": "no_data", "no_data": "no_data"}


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("rnd", help="the Reassigned Numbers Database's answers: import them")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    im = sub.add_parser("import", help="import a file of answers: number, date asked about, yes/no/no data")
    im.add_argument("file", metavar="FILE")
    add_config_option(im)
    im.set_defaults(run=run_import)


def answers(rows: Iterator[list[str]]) -> Iterator:
    for n, row in enumerate(rows, 1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or (n == 1 and not any(ch.isdigit() for ch in cells[0])):
            continue  # blank, or the header
        if len(cells) < 3:
            yield f"line {n}: expected number, date, answer"
            continue
        digits = _SEPARATORS.sub("", cells[0])
        digits = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
        try:
            queried = date.fromisoformat(cells[1])
        except ValueError:
            yield f"line {n}: {cells[1][:20]!r} is not a date (YYYY-MM-DD)"
            continue
        answer = _ANSWERS.get(cells[2].lower())
        if not _NANP.fullmatch(digits):
            yield f"line {n}: {cells[0][:20]!r} is not a ten-digit North American number"
        elif answer is None:
            yield f"line {n}: {cells[2][:20]!r} is not yes, no or no data"
        else:
            yield (digits, queried.isoformat(), answer)  # (a str would be an error)


async def run_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot read: {exc.strerror or exc}") from None
    _, store = load(args)
    started = time.perf_counter()
    try:
        with open_input(args.file) as stream:
            try:
                result = await store.import_rnd(
                    answers(csv.reader(stream)), path.name, digest, datetime.now(UTC)
                )
            except csv.Error as exc:
                raise UsageError(f"{args.file}: not a CSV file: {exc}") from None
    finally:
        await store.close()
    return report_import(
        f"Reassigned Numbers Database: {result.added} answers kept, {result.rejected} rejected in "
        f"{time.perf_counter() - started:.1f} s (receipt: {path.name}, sha256 {digest[:16]}…)",
        result,
    )
