"""The law the SMS rules apply, as dated data: one file per jurisdiction in gateway/data/law/ (shipped with
the package), read and checked when the config is loaded, overridable and extendable from the config.

A file names the jurisdiction's rule (`name`, the one a refusal shows: "FL"), the jurisdiction, the area
codes it reaches (none: every number), and one `[[rule]]` per version of its law, each with
`effective_from` (a TOML date), optionally `effective_until` (its last day), the `citation` and a one-line
plain `description`, the calling `windows` and an optional `marketing_cap` per `cap_hours`. The engine
judges a text by the versions in force on the recipient's local date at the time of sending (`--at` and
`send_at` included), so a rule that starts on a date applies from that date on, and the violation names
the citation of the version that fired.

Config: `[[policy.state]]` with a shipped rule's name replaces every shipped version of it (several entries
of one name are its versions); a new name adds one; `policy.disabled_state_rules` drops shipped rules by
name; `policy.default_state_rules = false` drops them all.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import date
from itertools import pairwise
from typing import Any

from ..policy.settings import FEDERAL_HOURS, HoursRule, Window
from .checks import (
    ConfigError,
    _area_code,
    _days,
    _hhmm,
    _integer,
    _Invalid,
    _list_of,
    _nonempty,
    _Section,
)

LAW_PACKAGE, LAW_DIR = "gateway", "data/law"


def _day(value: Any) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Invalid(f"expected a date such as 2026-01-01, got {value!r}")


def hours_rule(
    s: _Section,
    name: str,
    citation_default: str | None,
    *,
    jurisdiction: str = "",
    area_codes: frozenset[str] = frozenset(),
) -> HoursRule:
    """One version of a rule from its table (a law file's `[[rule]]` or the config's `[[policy.state]]`);
    `citation_default` None: the citation and `effective_from` are required (shipped data)."""
    windows = []
    for i, raw in enumerate(s.take("windows", _list_of(lambda v: v))):
        w = _Section(s.file, f"{s.where}.windows[{i + 1}]", raw)
        windows.append(
            Window(w.take("start", _hhmm), w.take("end", _hhmm), w.take("days", _days, frozenset(range(7))))
        )
        w.done()
    if not windows:
        raise ConfigError(s.file, s.key("windows"), "needs at least one window")
    strict = citation_default is None
    citation = s.take("citation", _nonempty) if strict else s.take("citation", _nonempty, citation_default)
    since = s.take("effective_from", _day) if strict else s.take("effective_from", _day, None)
    until = s.take("effective_until", _day, None)
    if since is not None and until is not None and until < since:
        raise ConfigError(s.file, s.key("effective_until"), f"{until} is before effective_from {since}")
    rule = HoursRule(
        name=name,
        citation=citation,
        windows=tuple(windows),
        area_codes=frozenset(s.take("area_codes", _list_of(_area_code), tuple(area_codes))),
        marketing_cap=s.take("marketing_cap", _integer(0, 10_000), None),
        cap_hours=s.take("cap_hours", _integer(1, 24 * 366), 24),
        effective_from=since,
        effective_until=until,
        description=s.take("description", _nonempty) if strict else s.take("description", _nonempty, ""),
        jurisdiction=s.take("jurisdiction", _nonempty, jurisdiction),
    )
    s.done()
    return rule


def parse_law(text: str, source: str) -> list[HoursRule]:
    """The versions of one jurisdiction's rule, from a law file's text; ConfigError naming the file and key."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None
    top = _Section(source, "", document)
    name = top.take("name", _nonempty)
    jurisdiction = top.take("jurisdiction", _nonempty)
    codes = frozenset(top.take("area_codes", _list_of(_area_code, unique=True), ()))
    versions = [
        hours_rule(
            _Section(source, f"rule[{i + 1}]", raw), name, None, jurisdiction=jurisdiction, area_codes=codes
        )
        for i, raw in enumerate(top.take("rule", _list_of(lambda v: v)))
    ]
    top.done()
    if not versions:
        raise ConfigError(source, "rule", "a law file needs at least one [[rule]]")
    no_overlap(versions, source)
    return versions


def no_overlap(versions: Iterable[HoursRule], source: str) -> None:
    """Two versions of one rule in force on the same day would be two laws at once."""
    ordered = sorted(versions, key=lambda r: r.effective_from or date.min)
    for before, after in pairwise(ordered):
        if before.effective_until is None or (
            after.effective_from is not None and before.effective_until >= after.effective_from
        ):
            raise ConfigError(
                source, "rule", f"versions {before.dated()} and {after.dated()} are in force on the same days"
            )


def shipped_law() -> dict[str, list[HoursRule]]:
    """Every law file of the package, by rule name (the federal one under FEDERAL_HOURS.name)."""
    from importlib import resources

    found: dict[str, list[HoursRule]] = {}
    folder = resources.files(LAW_PACKAGE).joinpath(LAW_DIR)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        versions = parse_law(entry.read_text("utf-8"), f"{LAW_PACKAGE}/{LAW_DIR}/{entry.name}")
        name = versions[0].name
        if name in found:
            raise ConfigError(f"{LAW_PACKAGE}/{LAW_DIR}/{entry.name}", "name", f"{name!r} has another file")
        found[name] = versions
    if FEDERAL_HOURS.name not in found:
        raise ConfigError(f"{LAW_PACKAGE}/{LAW_DIR}", "", "no file for the federal rule")
    return found
