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
from dataclasses import replace
from datetime import date, datetime
from functools import lru_cache
from itertools import pairwise
from typing import Any

from ..addresses import nanp_region, nanp_zones
from ..model import ConsentLevel
from ..policy.holidays import NAMED, valid_holiday
from ..policy.replies import folded
from ..policy.settings import DUTY_KINDS, FEDERAL_HOURS, Blackout, Duty, HoursRule, Window
from .checks import (
    ConfigError,
    _area_code,
    _boolean,
    _consent_level,
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


def _holiday(value: Any) -> str:
    if isinstance(value, str) and valid_holiday(value):
        return value
    named = ", ".join(NAMED)
    raise _Invalid(f"{value!r} is not a holiday: one of {named}, or a date as MM-DD")


def _waiving_level(value: Any) -> ConsentLevel:
    level = _consent_level(value)
    if level is ConsentLevel.NONE:
        raise _Invalid("none would lift the rule for everyone: name the consent its law asks for")
    return level


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
        holidays=frozenset(s.take("holidays", _list_of(_holiday, unique=True), ())),
        waived_by=s.take("waived_by", _waiving_level, None),
    )
    s.done()
    return rule


def _keyword(value: Any) -> str:
    """A reply word or phrase, as replies are matched: lower case, accents and extra spaces gone."""
    word = " ".join(folded(_nonempty(value)).split())
    if not word or len(word) > 40:
        raise _Invalid(f"{value!r} is not a reply keyword (a word or short phrase)")
    return word


def duty(s: _Section, name: str, jurisdiction: str, area_codes: frozenset[str]) -> Duty:
    """One version of a duty that is not a calling window (a law file's `[[duty]]`: settings.DUTY_KINDS)."""
    kind = s.take("kind", _nonempty)
    if kind not in DUTY_KINDS:
        raise ConfigError(s.file, s.key("kind"), f"{kind!r} is not a kind of duty ({', '.join(DUTY_KINDS)})")
    since, until = s.take("effective_from", _day), s.take("effective_until", _day, None)
    if until is not None and until < since:
        raise ConfigError(s.file, s.key("effective_until"), f"{until} is before effective_from {since}")
    found = Duty(
        kind=kind,
        name=name,
        citation=s.take("citation", _nonempty),
        description=s.take("description", _nonempty),
        effective_from=since,
        effective_until=until,
        jurisdiction=jurisdiction,
        area_codes=area_codes,
        years=s.take("years", _integer(1, 100), None),
        keywords=tuple(s.take("keywords", _list_of(_keyword, unique=True), ())),
    )
    if kind == "keep_stop" and found.years is None:
        raise ConfigError(s.file, s.key("years"), "a keep_stop duty needs years")
    if kind == "revocation_keywords" and not found.keywords:
        raise ConfigError(s.file, s.key("keywords"), "a revocation_keywords duty needs keywords")
    s.done()
    return found


def parse_law(text: str, source: str) -> list[HoursRule]:
    """The versions of one jurisdiction's rule, from a law file's text; ConfigError naming the file and key."""
    return read_law(text, source)[0]


def read_law(text: str, source: str) -> tuple[list[HoursRule], list[Duty]]:
    """A law file's calling-hours versions and its other duties."""
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
        for i, raw in enumerate(top.take("rule", _list_of(lambda v: v), ()))
    ]
    duties = [
        duty(_Section(source, f"duty[{i + 1}]", raw), name, jurisdiction, codes)
        for i, raw in enumerate(top.take("duty", _list_of(lambda v: v), ()))
    ]
    top.done()
    if not versions and not duties:
        raise ConfigError(source, "rule", "a law file needs at least one [[rule]] or [[duty]]")
    no_overlap(versions, source)
    for kind in {d.kind for d in duties}:
        no_overlap([d for d in duties if d.kind == kind], source)
    return versions, duties


def no_overlap(versions: Iterable[HoursRule | Duty], source: str) -> None:
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
    """Every law file's calling-hours versions, by rule name (the federal one under FEDERAL_HOURS.name)."""
    return {name: hours for name, (hours, _) in _shipped().items() if hours}


def shipped_duties() -> dict[str, list[Duty]]:
    """Every law file's other duties (settings.DUTY_KINDS), by rule name."""
    return {name: duties for name, (_, duties) in _shipped().items() if duties}


@lru_cache(maxsize=1)
def _shipped() -> dict[str, tuple[list[HoursRule], list[Duty]]]:
    from importlib import resources

    found: dict[str, tuple[list[HoursRule], list[Duty]]] = {}
    folder = resources.files(LAW_PACKAGE).joinpath(LAW_DIR)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        where = f"{LAW_PACKAGE}/{LAW_DIR}/{entry.name}"
        text = entry.read_text("utf-8")
        hours, duties = read_law(text, where)
        name = (hours or duties)[0].name
        if name in found:
            raise ConfigError(where, "name", f"{name!r} has another file")
        found[name] = (hours, duties)
    if not found.get(FEDERAL_HOURS.name, ((),))[0]:
        raise ConfigError(f"{LAW_PACKAGE}/{LAW_DIR}", "", "no file for the federal rule")
    return found


def configured_law(p: _Section) -> tuple[tuple[HoursRule, ...], tuple[Duty, ...], tuple[Blackout, ...]]:
    """The law the config's [policy] makes the engine apply: the shipped files, `sms_hours` for the federal
    window, `disabled_state_rules`, `default_state_rules`, `[[policy.state]]` and `[[policy.blackout]]`."""
    law, duties_by_name = shipped_law(), shipped_duties()
    federal_versions = law.pop(FEDERAL_HOURS.name)
    federal = p.table("sms_hours")
    start, end = federal.take("start", _hhmm, None), federal.take("end", _hhmm, None)
    federal.done()
    if start is not None or end is not None:  # the configured window, in every version
        federal_versions = [
            replace(v, windows=(Window(start or v.windows[0].start, end or v.windows[0].end),))
            for v in federal_versions
        ]
    hours: list[HoursRule] = list(federal_versions)
    disabled = p.take("disabled_state_rules", _list_of(_nonempty, unique=True), ())
    for name in disabled:
        if name not in law and name not in duties_by_name:
            raise ConfigError(p.file, p.key("disabled_state_rules"), f"{name!r} is not a shipped state rule")
    keep_states = p.take("default_state_rules", _boolean, True)
    states = {n: v for n, v in law.items() if n not in disabled} if keep_states else {}
    configured: dict[str, list[HoursRule]] = {}
    for i, raw in enumerate(p.take("state", _list_of(lambda v: v), ())):
        s = _Section(p.file, f"{p.key('state')}[{i + 1}]", raw)
        name = s.take("name", _nonempty)
        configured.setdefault(name, []).append(hours_rule(s, name, f"state rule {name}"))
    for versions in configured.values():
        no_overlap(versions, p.file)
    states.update(configured)  # a configured name replaces every shipped version of it
    hours.extend(rule for versions in states.values() for rule in versions)
    # [[policy.duty]]: a configured (name, kind) replaces every shipped version of that duty
    configured_duties: dict[tuple[str, str], list[Duty]] = {}
    for i, raw in enumerate(p.take("duty", _list_of(lambda v: v), ())):
        s = _Section(p.file, f"{p.key('duty')}[{i + 1}]", raw)
        name = s.take("name", _nonempty)
        jurisdiction = s.take("jurisdiction", _nonempty, name)
        codes = frozenset(s.take("area_codes", _list_of(_area_code, unique=True), ()))
        found = duty(s, name, jurisdiction, codes)
        configured_duties.setdefault((name, found.kind), []).append(found)
    for dated in configured_duties.values():
        no_overlap(dated, p.file)
    duties = [
        d
        for name, shipped in duties_by_name.items()
        if name == FEDERAL_HOURS.name or (keep_states and name not in disabled)
        for d in shipped
        if (name, d.kind) not in configured_duties
    ]
    duties += [d for dated in configured_duties.values() for d in dated]
    blackouts = tuple(
        blackout(_Section(p.file, f"{p.key('blackout')}[{i + 1}]", raw), duties)
        for i, raw in enumerate(p.take("blackout", _list_of(lambda v: v), ()))
    )
    return tuple(hours), tuple(duties), blackouts


def _moment(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    raise _Invalid(
        f"expected a date and time with its offset, such as 2026-09-01T06:00:00-05:00, got {value!r}"
    )


def _region(value: Any) -> str:
    region = _nonempty(value).upper()
    if not any(nanp_region(code) == region for code in nanp_zones()):
        raise _Invalid(f"{value!r} is not a state, territory or province of the North American plan")
    return region


def blackout(s: _Section, duties: Iterable[Duty]) -> Blackout:
    """A declared emergency during which the law of the area it covers bars solicitation: `states` (their
    area codes) and/or `area_codes`, `start`, `end`, and the `citation` (by default that of the state's
    shipped emergency_blackout duty, e.g. La. R.S. 45:844.31)."""
    name = s.take("name", _nonempty)
    regions = s.take("states", _list_of(_region, unique=True), ())
    codes = set(s.take("area_codes", _list_of(_area_code, unique=True), ()))
    codes.update(code for code in nanp_zones() if nanp_region(code) in regions)
    if not codes:
        raise ConfigError(s.file, s.key("states"), "name the states or area codes the emergency covers")
    begins, ends = s.take("start", _moment), s.take("end", _moment)
    if ends <= begins:
        raise ConfigError(s.file, s.key("end"), f"{ends} is not after start {begins}")
    law = [d.citation for d in duties if d.kind == "emergency_blackout" and d.area_codes & codes]
    citation = s.take("citation", _nonempty, law[0] if law else None)
    if citation is None:
        raise ConfigError(
            s.file, s.key("citation"), "no shipped law bars solicitation there: cite the one that does"
        )
    s.done()
    return Blackout(name, frozenset(codes), begins, ends, citation)
