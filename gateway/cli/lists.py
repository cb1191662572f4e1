"""`gateway suppress ...` and `gateway consent ...` — the suppression list and the consent ledger. Every
change goes through the lists service (gateway/lists/), audited under the login that made it."""

from __future__ import annotations

import argparse
import contextlib
import csv
import getpass
import json
import os
import sys
import time
from typing import TextIO

from ..lists import Lists, ListsError, checks
from ..lists.csvfile import COLUMNS, suppression_row
from ..model import GLOBAL_SCOPE, Channel, ConsentBasis, ConsentLevel, Reason
from ..store.base import to_text
from .common import (
    UsageError,
    add_config_option,
    add_scope_options,
    load,
    open_input,
    parse_time,
    print_table,
    report_import,
    scope_of,
)

_CHANNELS = [c.value for c in Channel]
_REASONS = [r.value for r in Reason]


def actor() -> str:
    """Changes made from the command line are audited under the login that made them."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = f"uid {os.getuid()}"
    return f"cli {who}"


def _address(channel: Channel | None, text: str) -> str:
    try:
        return checks.address(text, channel)[1]
    except ListsError as exc:
        raise UsageError(exc.message) from None


def _address_action(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    """An action on one address: ADDRESS --channel ... [--sender NAME | --global] [--config PATH]."""
    parser = sub.add_parser(name, help=help)
    parser.add_argument("address")
    parser.add_argument("--channel", required=True, choices=_CHANNELS)
    add_scope_options(parser)
    return parser


# -- suppress ------------------------------------------------------------------------------------------


def add_suppress_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("suppress", help="the suppression list: add, remove, list, import, export")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = _address_action(sub, "add", "suppress an address (default scope: global)")
    add.add_argument("--reason", choices=_REASONS, default=Reason.MANUAL.value)  # erased: refused, saying why
    add.add_argument("--source", default="cli")
    add.add_argument("--expires", metavar="ISO8601", help="lift the suppression by itself at this time")
    add.add_argument(
        "--received-at",
        metavar="ISO8601",
        help="when the person's request arrived (a letter, a call): kept on the opt-out deadline clock",
    )
    add.set_defaults(run=suppress_add)

    rm = _address_action(sub, "remove", "lift a suppression (default scope: global)")
    rm.add_argument("--reason", choices=_REASONS, help="only entries with this reason")
    rm.add_argument("--note", help="why (kept in the audit trail)")
    rm.set_defaults(run=suppress_remove)

    ls = sub.add_parser("list", help="show suppression entries")
    ls.add_argument("--channel", choices=_CHANNELS)
    add_scope_options(ls)
    ls.add_argument("--address", help="only this address")
    ls.add_argument("--format", choices=["table", "csv", "json"], default="table")
    ls.add_argument(
        "--limit", type=int, default=1000, help="at most this many rows (table and json; default 1000)"
    )
    ls.set_defaults(run=suppress_list)

    ex = sub.add_parser("export", help="write every entry as CSV (the format import reads)")
    ex.add_argument("--channel", choices=_CHANNELS)
    add_scope_options(ex)
    ex.add_argument("--output", "-o", metavar="FILE", help="file to write (default: standard output)")
    ex.set_defaults(run=suppress_export)

    im = sub.add_parser("import", help="add entries from a CSV file (streamed; any size)")
    im.add_argument(
        "file", metavar="FILE.csv", help="CSV with a header row, or one address per line; '-' is stdin"
    )
    im.add_argument("--channel", choices=_CHANNELS, help="channel for rows without one")
    add_scope_options(im)
    im.add_argument(
        "--reason",
        choices=_REASONS,
        default=Reason.UNSUBSCRIBE.value,
        help="reason for rows without one (default: unsubscribe)",
    )
    im.add_argument("--source", default="import", help="source for rows without one")
    im.set_defaults(run=suppress_import)
    for parser in (add, rm, ls, ex, im):
        add_config_option(parser)


async def suppress_add(args: argparse.Namespace) -> int:
    config, store = load(args)
    try:
        entry, added = await Lists(store, config.senders).suppress(
            actor(),
            args.address,
            channel=args.channel,
            scope=scope_of(config, args.sender, args.is_global),
            reason=args.reason,
            source=args.source,
            expires_at=args.expires,
            received_at=args.received_at,
        )
    finally:
        await store.close()
    print(
        f"{'suppressed' if added else 'already suppressed'}: {entry.address} ({entry.channel.value}, "
        f"scope {entry.scope}, reason {entry.reason.value})"
    )
    return 0


async def suppress_remove(args: argparse.Namespace) -> int:
    config, store = load(args)
    try:
        channel = Channel(args.channel)
        scope = scope_of(config, args.sender, args.is_global)
        address = _address(channel, args.address)
        try:
            removed = await Lists(store, config.senders).lift(
                actor(), address, channel=channel, scope=scope, reason=args.reason, note=args.note
            )
        except ListsError as exc:
            if exc.kind != "permanent":
                raise
            print(f"not removed: {exc.message} ({address}, {channel.value}, scope {scope})", file=sys.stderr)
            return 1
        elsewhere = (
            [] if removed else sorted({s.scope async for s in store.suppressions(channel, address=address)})
        )
    finally:
        await store.close()
    if removed:
        print(f"removed {removed} suppression{'s' if removed != 1 else ''} of {address} in scope {scope}")
        return 0
    hint = f" (it is suppressed in: {', '.join(elsewhere)})" if elsewhere else ""
    print(f"no suppression of {address} in scope {scope}{hint}", file=sys.stderr)
    return 1


async def suppress_list(args: argparse.Namespace) -> int:
    config, store = load(args)
    try:
        channel = Channel(args.channel) if args.channel else None
        scope = scope_of(config, args.sender, args.is_global, default_global=False)
        if args.limit < 1:
            raise UsageError("--limit must be 1 or more")
        address = _address(channel, args.address) if args.address else None  # (its channel, when not given)
        rows = []
        async for s in store.suppressions(channel, scope, address):
            rows.append(suppression_row(s))
            if args.format != "csv" and len(rows) >= args.limit:
                break
    finally:
        await store.close()
    if args.format == "json":
        print(json.dumps([dict(zip(COLUMNS, r)) for r in rows], indent=2))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    else:
        shown = [(r[0], r[1] or f"(hashed) {r[2][:16]}…", r[3], r[4], r[5], r[6][:19]) for r in rows]
        print_table(("CHANNEL", "ADDRESS", "SCOPE", "REASON", "SOURCE", "SINCE (UTC)"), shown)
    return 0


def _output(path: str | None) -> contextlib.AbstractContextManager[TextIO]:
    """The file to write (standard output when none is named)."""
    return open(path, "w", encoding="utf-8", newline="") if path else contextlib.nullcontext(sys.stdout)


async def suppress_export(args: argparse.Namespace) -> int:
    config, store = load(args)
    count = 0
    try:
        channel = Channel(args.channel) if args.channel else None
        scope = scope_of(config, args.sender, args.is_global, default_global=False)
        with _output(args.output) as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(COLUMNS)
            async for s in store.suppressions(channel, scope):
                writer.writerow(suppression_row(s))
                count += 1
    finally:
        await store.close()
    print(f"exported {count} entries", file=sys.stderr)
    return 0


async def suppress_import(args: argparse.Namespace) -> int:
    config, store = load(args)
    started = time.perf_counter()
    try:
        with open_input(args.file) as stream:
            try:
                result = await Lists(store, config.senders).import_csv(
                    actor(),
                    stream,
                    channel=args.channel,
                    scope=scope_of(config, args.sender, args.is_global),
                    reason=args.reason,
                    source=args.source,
                )
            except csv.Error as exc:
                raise UsageError(f"{args.file}: not a CSV file: {exc}") from None
    finally:
        await store.close()
    seconds = time.perf_counter() - started
    return report_import(
        f"imported {result.added} new, {result.skipped} already present, {result.rejected} rejected "
        f"in {seconds:.1f} s",
        result,
    )


# -- consent -------------------------------------------------------------------------------------------


def add_consent_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("consent", help="the consent ledger: add, revoke, show")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = _address_action(sub, "add", "record consent")
    add.add_argument("--level", required=True, choices=[lv.label for lv in ConsentLevel])
    add.add_argument("--source", default="cli", help="where it was given (signup form, checkout, keyword...)")
    add.add_argument("--evidence", default="", help="what proves it (form text, IP and time, message id...)")
    add.add_argument("--obtained-at", metavar="ISO8601", help="when it was given (default: now)")
    add.add_argument("--expires-at", metavar="ISO8601", help="when it lapses")
    add.add_argument(
        "--basis",
        choices=[b.value or "given" for b in ConsentBasis],
        default="given",
        help="what it rests on: given (default), purchase, inquiry (an established business relationship), "
        "soft_opt_in (details taken during a sale), published (docs/law.md)",
    )
    add.set_defaults(run=consent_add)

    rv = _address_action(sub, "revoke", "revoke consent (default: in every scope)")
    rv.add_argument("--at", metavar="ISO8601", help="when the revocation was received (default: now)")
    rv.add_argument("--note", help="why (kept in the audit trail)")
    rv.set_defaults(run=consent_revoke)

    sh = sub.add_parser("show", help="the ledger for one address and the level in force")
    sh.add_argument("address")
    sh.add_argument("--channel", required=True, choices=_CHANNELS)
    sh.add_argument("--sender", metavar="NAME", help="only records that apply to this sender")
    sh.add_argument("--format", choices=["table", "json"], default="table")
    sh.set_defaults(run=consent_show)
    for parser in (add, rv, sh):
        add_config_option(parser)


async def consent_add(args: argparse.Namespace) -> int:
    config, store = load(args)
    try:
        if args.sender is None and not args.is_global:
            raise UsageError("give --sender NAME (or --global for every sender)")
        record = await Lists(store, config.senders).record_consent(
            actor(),
            args.address,
            channel=args.channel,
            scope=scope_of(config, args.sender, args.is_global),
            level=args.level,
            source=args.source,
            evidence=args.evidence,
            obtained_at=args.obtained_at,
            expires_at=args.expires_at,
            basis=args.basis,
        )
    finally:
        await store.close()
    print(
        f"recorded consent #{record.id}: {record.address} ({record.channel.value}, scope {record.scope}) "
        f"{record.level.label}" + (f", basis {record.basis.value}" if record.basis.value else "")
    )
    return 0


async def consent_revoke(args: argparse.Namespace) -> int:
    config, store = load(args)
    try:
        scope = scope_of(config, args.sender, args.is_global, default_global=False)
        address = _address(Channel(args.channel), args.address)
        count = await Lists(store, config.senders).revoke_consent(
            actor(), address, channel=args.channel, scope=scope, at=args.at, note=args.note
        )
    finally:
        await store.close()
    where = f"scope {scope}" if scope else "every scope"
    print(f"revoked {count} consent record{'s' if count != 1 else ''} of {address} in {where}")
    return 0


async def consent_show(args: argparse.Namespace) -> int:
    config, store = load(args)
    try:
        channel = Channel(args.channel)
        scope = scope_of(config, args.sender, False, default_global=False)
        address = _address(channel, args.address)
        records = await store.consents(channel, address, scope)
    finally:
        await store.close()
    at = parse_time(None)
    scopes = (
        [scope] if scope else sorted({r.scope for r in records if r.scope != GLOBAL_SCOPE} | {GLOBAL_SCOPE})
    )
    in_force = {
        s: max(
            (r.level_at(at) for r in records if r.scope in (s, GLOBAL_SCOPE)), default=ConsentLevel.NONE
        ).label
        for s in scopes
    }
    if args.format == "json":
        print(
            json.dumps(
                {
                    "address": address,
                    "channel": channel.value,
                    "in_force": in_force,
                    "records": [
                        {
                            "id": r.id,
                            "scope": r.scope,
                            "level": r.level.label,
                            "source": r.source,
                            "evidence": r.evidence,
                            "obtained_at": to_text(r.obtained_at),
                            "expires_at": to_text(r.expires_at),
                            "revoked_at": to_text(r.revoked_at),
                            "basis": r.basis.value or "given",
                            "counts_now": r.level_at(at).label,
                        }
                        for r in records
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    rows = [
        (
            str(r.id),
            r.scope,
            r.level.label,
            r.basis.value or "given",
            r.source,
            (to_text(r.obtained_at) or "")[:19],
            (to_text(r.expires_at) or "-")[:19],
            (to_text(r.revoked_at) or "-")[:19],
            r.evidence[:40],
        )
        for r in records
    ]
    print_table(
        ("ID", "SCOPE", "LEVEL", "BASIS", "SOURCE", "OBTAINED", "EXPIRES", "REVOKED", "EVIDENCE"), rows
    )
    for s, level in in_force.items():
        print(f"in force for {s}: {level}")
    return 0
