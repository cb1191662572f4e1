"""`gateway rules` — the law the SMS rules apply, as in force at a time (gateway/data/law/ and the config).

    gateway rules [--at TIME] [--state XX] [--all] [--format table|json]

Each rule in force on the date of --at (default now; the UTC date): its name, jurisdiction, since when,
calling hours, cap, citation and what it requires; then the other duties in force (the FCC's revoke-all
scope, Virginia's ten-year STOP...) and the emergencies declared in the config that are on at --at.
--state keeps one jurisdiction (and the federal one); --all lists every version, in force or not.
"""

from __future__ import annotations

import argparse
import json

from .. import config as config_module
from ..policy.settings import FEDERAL_HOURS, Blackout, Duty, HoursRule
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


def duty_json(duty: Duty, in_force: bool) -> dict:
    return {
        "name": duty.name,
        "kind": duty.kind,
        "jurisdiction": duty.jurisdiction,
        "effective_from": duty.effective_from.isoformat(),
        "effective_until": duty.effective_until.isoformat() if duty.effective_until else None,
        "in_force": in_force,
        "years": duty.years,
        "area_codes": sorted(duty.area_codes),
        "citation": duty.citation,
        "description": duty.description,
    }


def blackout_json(b: Blackout) -> dict:
    return {
        "name": b.name,
        "start": b.start.isoformat(),
        "end": b.end.isoformat(),
        "area_codes": sorted(b.area_codes),
        "citation": b.citation,
    }


def run(args: argparse.Namespace) -> int:
    config = config_module.load(args.config)
    at = parse_time(args.at)
    day = at.date()
    rules = list(config.policy.hours)
    duties = list(config.policy.duties)
    if args.state:
        name = args.state.strip()
        known = {r.name for r in rules} | {d.name for d in duties}
        if name not in known:
            raise UsageError(f"no rule named {name!r} (known: {', '.join(sorted(known))})")
        keep = (name, FEDERAL_HOURS.name)
        rules = [r for r in rules if r.name in keep]
        duties = [d for d in duties if d.name in keep]
    shown = [(r, r.in_force(day)) for r in rules if args.all or r.in_force(day)]
    shown_duties = [(d, d.in_force(day)) for d in duties if args.all or d.in_force(day)]
    blackouts = [b for b in config.policy.blackouts if args.all or b.start <= at < b.end]
    if args.format == "json":
        print(
            json.dumps(
                {
                    "date": day.isoformat(),
                    "rules": [as_json(r, f) for r, f in shown],
                    "duties": [duty_json(d, f) for d, f in shown_duties],
                    "blackouts": [blackout_json(b) for b in blackouts],
                },
                indent=2,
            )
        )
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
    if shown_duties:
        print("\nOther duties:")
        print_table(
            ["rule", "duty", "in force", "what it requires", "citation"],
            [
                [d.name + ("" if f else " (not in force)"), d.kind, d.dated(), d.description, d.citation]
                for d, f in shown_duties
            ],
        )
    if blackouts:
        print("\nDeclared emergencies (no marketing texts to these areas):")
        print_table(
            ["emergency", "from", "until", "area codes", "citation"],
            [
                [b.name, b.start.isoformat(), b.end.isoformat(), " ".join(sorted(b.area_codes)), b.citation]
                for b in blackouts
            ],
        )
    return 0
