"""`gateway check` — a dry run of the rules on one email file or one text, with facts from the store."""

from __future__ import annotations

import argparse
import json
import sys

from ..content.mime import Unparseable
from ..mail.engine import EmailEngine
from ..model import Category
from ..pipeline import Pipeline
from .common import UsageError, add_config_option, load, parse_time

MAX_FILE_BYTES = 64 * 1024 * 1024


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "check",
        help="judge an email file or a text without sending it",
        description='Dry run: prints {"verdict": "pass"|"reject", "violations": [...]}; '
        "exit 0 pass, 1 reject, 2 bad usage or input.",
    )
    add_config_option(p)
    p.add_argument("--sender", required=True, metavar="NAME", help="configured sender (stream) sending it")
    p.add_argument("--sms", action="store_true", help="check a text message instead of an email file")
    p.add_argument(
        "--to",
        action="append",
        metavar="ADDRESS",
        help="recipient (SMS: required; email: instead of the To/Cc headers; repeatable)",
    )
    p.add_argument("--body", help="SMS text")
    p.add_argument(
        "--category", choices=[c.value for c in Category], help="SMS category (default: the sender's)"
    )
    p.add_argument(
        "--at", metavar="ISO8601", help="judge as of this time (default: now; no offset means UTC)"
    )
    p.add_argument("file", nargs="?", metavar="FILE.eml", help="RFC 822 message file ('-' for stdin)")
    p.set_defaults(run=run)


def _read_message(path: str) -> bytes:
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a message file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not a message to check")
    if not data.strip():
        raise UsageError(f"{path}: empty file")
    return data


async def run(args: argparse.Namespace) -> int:
    at = parse_time(args.at)
    if args.sms:
        if args.file:
            raise UsageError("--sms takes --to and --body, not a file")
        if not args.to or len(args.to) != 1 or args.body is None:
            raise UsageError("--sms needs exactly one --to NUMBER and --body TEXT")
    else:
        if not args.file:
            raise UsageError("give the message file to check (or --sms with --to and --body)")
        if args.body is not None or args.category:
            raise UsageError("--body and --category are for --sms checks")
    config, store = load(args)
    try:
        if args.sender not in config.senders:
            raise UsageError(f"unknown sender {args.sender!r} (known: {', '.join(config.senders) or 'none'})")
        pipeline = Pipeline(config, store)
        if args.sms:
            category = Category(args.category) if args.category else None
            result = await pipeline.check_sms(args.sender, args.to[0], str(args.body), category, at)
            evaluation = result.evaluation
        else:
            raw = _read_message(args.file)
            try:
                email_result = await EmailEngine(config, store).check(args.sender, raw, at, args.to)
            except Unparseable as exc:
                raise UsageError(f"{args.file}: the message cannot be parsed: {exc}") from None
            if not email_result.message.recipients:
                raise UsageError(f"{args.file}: no recipients in To or Cc (give --to ADDRESS)")
            evaluation = email_result.evaluation
    finally:
        await store.close()
    out: dict[str, object] = {
        "verdict": "pass" if evaluation.passed else "reject",
        "violations": [v.as_dict() for v in evaluation.violations],
        "category": evaluation.category.value,
        "mode": config.mode_for(args.sender).value,
    }
    if not args.sms and not evaluation.passed:  # what to change: the links, hidden parts, the address
        from ..mail.evidence import evidence

        found = evidence(
            email_result.message.content,
            raw,
            evaluation.violations,
            config.sender(args.sender).settings,
            config.policy,
        )
        if found:
            out["evidence"] = found
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0 if evaluation.passed else 1
