"""`gateway report` — the decision log: a table for people, CSV or JSON for programs.

    gateway report [--since 7d] [--until ISO] [--verdict rejected] [--channel sms] [--code SUPPRESSED]
                   [--sender NAME] [--search TEXT] [--format table|csv|json] [--limit N] [--summary]

Without --summary: the decisions, newest first (table: at most --limit rows; csv and json: all of them,
streamed). With --summary: counts per day, sender, verdict and violation code.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, datetime

from ..model import Channel, Verdict
from ..reports import CSV_COLUMNS, csv_row, decision_json, parse_when
from ..store.base import DecisionQuery
from .common import UsageError, add_config_option, load, print_table


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("report", help="decisions (or --summary counts) as a table, CSV or JSON")
    p.add_argument("--since", default="7d", help="ISO 8601 or a span back from now: 24h, 7d, 2w (default 7d)")
    p.add_argument("--until", help="ISO 8601 or a span back from now")
    p.add_argument("--verdict", choices=[v.value for v in Verdict])
    p.add_argument("--channel", choices=[c.value for c in Channel])
    p.add_argument("--code", help="a violation code, e.g. SUPPRESSED")
    p.add_argument("--sender", help="one sender")
    p.add_argument("--search", help="part of the recipient or subject")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--limit", type=int, default=100, help="rows in the table (default 100)")
    p.add_argument("--summary", action="store_true", help="counts per day, sender, verdict and code")
    add_config_option(p)
    p.set_defaults(run=run)


def _query(args: argparse.Namespace) -> DecisionQuery:
    now = datetime.now(UTC)
    try:
        since = parse_when(args.since, now) if args.since else None
        until = parse_when(args.until, now) if args.until else None
    except ValueError:
        raise UsageError("--since and --until take ISO 8601 or a span back from now: 24h, 7d, 2w") from None
    return DecisionQuery(
        verdict=args.verdict,
        channel=args.channel,
        code=args.code.upper() if args.code else None,
        sender=args.sender,
        since=since,
        until=until,
        text=args.search,
    )


async def run(args: argparse.Namespace) -> int:
    query = _query(args)
    config, store = load(args)
    if args.sender and args.sender not in config.senders:
        raise UsageError(f"unknown sender {args.sender!r} (known: {', '.join(config.senders) or 'none'})")
    try:
        if args.summary:
            counted = [
                r
                for r in await store.summary(query.since, query.sender)
                if (not args.verdict or r.verdict == args.verdict) and (not args.code or r.code == query.code)
            ]
            _print_summary(counted, args.format)
            return 0
        if args.format == "table":
            found = await store.decisions(max(1, args.limit), query)
            print_table(
                ["at", "channel", "sender", "recipient", "verdict", "codes", "excerpt"],
                [
                    [
                        d.at.strftime("%Y-%m-%d %H:%M:%S"),
                        d.channel.value,
                        d.sender,
                        d.recipient,
                        d.verdict.value,
                        " ".join(dict.fromkeys(v.code for v in d.violations)),
                        d.excerpt[:50],
                    ]
                    for d in found
                ],
            )
        elif args.format == "csv":
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            async for decision in store.iter_decisions(query):
                writer.writerow(csv_row(decision))
        else:
            sys.stdout.write("[")
            first = True
            async for decision in store.iter_decisions(query):
                sys.stdout.write(("\n" if first else ",\n") + json.dumps(decision_json(decision)))
                first = False
            sys.stdout.write("\n]\n")
    finally:
        await store.close()
    return 0


def _print_summary(rows, fmt: str) -> None:
    fields = ["day", "sender", "channel", "verdict", "code", "count"]
    records = [{f: getattr(r, f) for f in fields} for r in rows]
    if fmt == "json":
        print(json.dumps(records, indent=2))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    else:
        print_table(fields, [[str(r[f]) for f in fields] for r in records])
