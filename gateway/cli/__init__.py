"""`gateway` — the command line. Each command lives in its own module; this one parses and dispatches.

Exit codes: 0 success (for `check`: pass), 1 the thing asked about failed (`check`: reject; `import`: some
rows were not valid), 2 bad usage, bad config or bad input. Errors are one line on stderr, never a
traceback (set GATEWAY_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..config import ConfigError
from ..lists import ListsError
from ..store import StoreError
from . import check, dnc, forget, lists, report, rnd, rules, secret, serve
from .common import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would exit 2 with usage; keep it to one clear line
        raise UsageError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gateway", description="Marketing communications compliance gateway.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    serve.add_parser(commands)
    check.add_parser(commands)
    lists.add_suppress_parser(commands)
    lists.add_consent_parser(commands)
    forget.add_parser(commands)
    report.add_parser(commands)
    secret.add_parser(commands)
    rules.add_parser(commands)
    dnc.add_parser(commands)
    rnd.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        for arg in sys.argv[1:] if argv is None else argv:
            if any("\ud800" <= c <= "\udfff" for c in arg):  # bytes that were not UTF-8 (surrogateescape)
                shown = arg.encode("utf-8", "replace").decode()
                raise UsageError(f"argument {shown!r} is not UTF-8 text")
        args = build_parser().parse_args(argv)
        if hasattr(args, "run_sync"):
            return args.run_sync(args)
        return asyncio.run(args.run(args))
    except UsageError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    except ListsError as exc:  # the lists service refused the change
        print(f"gateway: {exc.message}", file=sys.stderr)
        return 1 if exc.kind == "permanent" else 2
    except ConfigError as exc:
        print(f"gateway: bad config: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"gateway: store unavailable: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gateway: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # output piped into `head` and the like
        return 0
    except Exception as exc:  # a bug: still one line for the user, the traceback on request
        if os.environ.get("GATEWAY_DEBUG"):
            raise
        print(
            f"gateway: internal error: {type(exc).__name__}: {exc} (GATEWAY_DEBUG=1 shows more)",
            file=sys.stderr,
        )
        return 2


def run() -> None:
    sys.exit(main())
