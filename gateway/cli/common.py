"""What every command shares: loading config and store, parsing times, printing tables."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from .. import config as config_module
from ..config import Config
from ..lists import ListsError, checks
from ..lists.csvfile import open_text
from ..model import GLOBAL_SCOPE
from ..store import Store, open_store
from ..store.base import ImportResult
from ..times import YEARS, instant


class UsageError(Exception):
    """Bad arguments or bad input from the user: exit 2 with this message."""


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", help="config file (default: $GATEWAY_CONFIG, else config/gateway.toml)"
    )


def load(args: argparse.Namespace) -> tuple[Config, Store]:
    config = config_module.load(args.config)
    return config, open_store(config.database)


def parse_time(text: str | None, what: str = "--at") -> datetime:
    """ISO 8601; a time without an offset is UTC. None means now."""
    if text is None:
        return datetime.now(UTC)
    try:
        return instant(text)
    except ValueError:
        raise UsageError(
            f"{what} {text!r} is not an ISO 8601 time in {YEARS} (e.g. 2026-05-01T14:30:00-04:00)"
        ) from None


def scope_of(
    config: Config, sender: str | None, is_global: bool, *, default_global: bool = True
) -> str | None:
    """The scope named by --sender NAME / --global; unknown senders are an error."""
    if sender is not None:
        try:
            return checks.scope(sender, config.senders)
        except ListsError as exc:
            raise UsageError(exc.message) from None
    if is_global or default_global:
        return GLOBAL_SCOPE
    return None


def add_scope_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--sender", metavar="NAME", help="scope: one sender")
    group.add_argument("--global", dest="is_global", action="store_true", help="scope: every sender")


# what a terminal would act on rather than show (ESC sequences clear the screen or hide rows; CR rewrites
# the line), and what reverses the text after it (an address that reads as another): shown as escapes
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown(text: str) -> str:
    """Text from senders as a terminal shows it faithfully: control and direction characters escaped."""
    return _UNSHOWABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    rows = [[shown(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*headers).rstrip())
    for row in rows:
        print(line.format(*row).rstrip())


def report_import(summary: str, result: ImportResult) -> int:
    """An import's one-line summary, its first rejected rows on stderr; exit 1 when any was rejected."""
    print(summary)
    for error in result.errors:
        print(f"  {shown(error)}", file=sys.stderr)
    if result.rejected > len(result.errors):
        print(f"  ... and {result.rejected - len(result.errors)} more rejected rows", file=sys.stderr)
    return 1 if result.rejected else 0


def open_input(path: str) -> TextIO:
    """A file named on the command line, as text ('-': standard input); UsageError when it cannot be read."""
    try:
        return open_text(path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
