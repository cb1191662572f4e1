"""`gateway dnc` — Do-Not-Call registries: a copy of the national registry (or a state's list) imported,
replacing the one held, and what is held.

    gateway dnc import FILE --list national|XX --as-of DATE [--config PATH]
    gateway dnc show [--config PATH]

FILE is the registry's download, streamed (any size): one number per line, ten digits, written as the
registries do (`2125550123`, `212,5550123`, `212-555-0123`, `(212) 555-0123`, `+1 212 555 0123`); blank
lines and lines starting with `#` are skipped; anything else is a rejected row, reported by line. --as-of
is the date of the registry's copy (not of the import): a marketing text scrubbed against a copy older than
31 days is refused (16 CFR 310.4(b)(3)(iv); docs/law.md).
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import TextIO

from ..store.queries import Accepted
from .common import UsageError, add_config_option, load, open_input, print_table, report_import

_LIST = re.compile(r"national|[A-Z]{2}")
_SEPARATORS = re.compile(r"[\s,.\-()+]")
_NANP = re.compile(r"[2-9]\d{2}[2-9]\d{6}")


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("dnc", help="Do-Not-Call registries: import a copy, show what is held")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    im = sub.add_parser("import", help="import a registry copy (replaces the one held of that list)")
    im.add_argument("file", metavar="FILE", help="the registry's file: one ten-digit number per line")
    im.add_argument("--list", required=True, help='"national", or a state\'s code (e.g. TX)')
    im.add_argument("--as-of", required=True, help="the date of the registry's copy (YYYY-MM-DD)")
    add_config_option(im)
    im.set_defaults(run=run_import)
    show = sub.add_parser("show", help="the copies held: list, as-of date, numbers, when imported")
    add_config_option(show)
    show.set_defaults(run=run_show)


def numbers(lines: TextIO) -> Iterator[str]:
    """Each line as a ten-digit number (`Accepted`), or the error of a line that is not one."""
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        digits = _SEPARATORS.sub("", text)
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if _NANP.fullmatch(digits):
            yield Accepted(digits)
        else:
            yield f"line {n}: {text[:40]!r} is not a ten-digit North American number"


async def run_import(args: argparse.Namespace) -> int:
    name = args.list.strip()
    if name.lower() == "national":
        name = "national"
    if not _LIST.fullmatch(name):
        raise UsageError(f"--list {args.list!r}: give national or a state's two-letter code (e.g. TX)")
    try:
        as_of = date.fromisoformat(args.as_of.strip())
    except ValueError:
        raise UsageError(f"--as-of {args.as_of!r} is not a date (YYYY-MM-DD)") from None
    now = datetime.now(UTC)
    if as_of > now.date():
        raise UsageError(f"--as-of {as_of} is in the future")
    _, store = load(args)
    started = time.perf_counter()
    try:
        with open_input(args.file) as stream:
            result = await store.import_dnc(name, numbers(stream), as_of, now)
    finally:
        await store.close()
    return report_import(
        f"{name} Do-Not-Call copy as of {as_of}: {result.added} numbers, {result.skipped} repeated, "
        f"{result.rejected} rejected in {time.perf_counter() - started:.1f} s",
        result,
    )


async def run_show(args: argparse.Namespace) -> int:
    _, store = load(args)
    try:
        facts = await store.dnc_facts("+10000000000")
    finally:
        await store.close()
    today = datetime.now(UTC).date()
    print_table(
        ["list", "as of", "age"],
        [[name, str(as_of), f"{(today - as_of).days} days"] for name, as_of in sorted(facts.copies)],
    )
    return 0
