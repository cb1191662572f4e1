"""`gateway rules` — the law the SMS rules apply, as in force at a time (gateway/data/law/ and the config).

    gateway rules [--at TIME] [--state XX] [--all] [--format table|json]

Each rule in force on the date of --at (default now; the UTC date): its name, jurisdiction, since when,
calling hours, cap, citation and what it requires. --state keeps one rule (and the federal one); --all
lists every version, in force or not.
"""

from __future__ import annotations

import argparse
import json

from .. import config as config_module
from ..policy.settings import HoursRule
from .common import UsageError, add_config_option, parse_time, print_table


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("rules", help="the calling-hours and cap laws in force (dated, cited)")
    p.add_argument("--at", help="ISO 8601 time whose date the law is shown for (default: now)")
    p.add_argument(
        "--state", metavar="XX", help="one state's rule (by its name, e.g. FL), and the federal one"
    )
    p.add_argument("--all", action="store_true", help="every version, in force at --at or not")
    p.add_argument("--format", choices=["table", "json"], default="table")
    add_config_option(p)
    p.set_defaults(run_sync=run)


def as_json(rule: HoursRule, in_force: bool) -> dict:
    return {
        "name": rule.name,
        "jurisdiction": rule.jurisdiction,
        "effective_from": rule.effective_from.isoformat() if rule.effective_from else None,
        "effective_until": rule.effective_until.isoformat() if rule.effective_until else None,
        "in_force": in_force,
        "hours": rule.describe(),
        "marketing_cap": (
            {"max": rule.marketing_cap, "hours": rule.cap_hours} if rule.marketing_cap is not None else None
        ),
        "area_codes": sorted(rule.area_codes),
        "citation": rule.citation,
        "description": rule.description,
    }


def run(args: argparse.Namespace) -> int:
    config = config_module.load(args.config)
    day = parse_time(args.at).date()
    rules = list(config.policy.hours)
    if args.state:
        name = args.state.strip()
        known = {r.name for r in rules}
        if name not in known:
            raise UsageError(f"no rule named {name!r} (known: {', '.join(sorted(known))})")
        rules = [r for r in rules if r.name in (name, rules[0].name)]
    shown = [(r, r.in_force(day)) for r in rules if args.all or r.in_force(day)]
    if args.format == "json":
        print(json.dumps({"date": day.isoformat(), "rules": [as_json(r, f) for r, f in shown]}, indent=2))
        return 0
    print(f"The law in force on {day} (UTC date){'; every version' if args.all else ''}:")
    print_table(
        ["rule", "jurisdiction", "in force", "hours", "cap", "citation"],
        [
            [
                r.name + ("" if f else " (not in force)"),
                r.jurisdiction,
                r.dated(),
                r.describe(),
                f"{r.marketing_cap} per {r.cap_hours} h" if r.marketing_cap is not None else "",
                r.citation,
            ]
            for r, f in shown
        ],
    )
    return 0
