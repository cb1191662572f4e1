"""The law as dated data (gateway/data/law/, gateway/config/law.py): every shipped rule cited and dated,
each judged on both sides of its effective date, the area codes it reaches those NANPA gives its state,
config overrides, and `gateway rules`."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import REPO, run_cli
from test_console import gw, signed_in  # noqa: F401  (the console's fixture and sign-in)

from gateway import config as config_module
from gateway.addresses import phone_info
from gateway.config import ConfigError
from gateway.config.law import parse_law, shipped_law
from gateway.model import Category, RecipientFacts, SmsMessage
from gateway.policy import evaluate_sms
from gateway.policy.settings import FEDERAL_HOURS, HoursRule, Policy, SenderSettings

LAW = REPO / "gateway" / "data" / "law"
NANP = tomllib.loads((REPO / "gateway" / "data" / "nanp_zones.toml").read_text())["npa"]
SENDER = SenderSettings("acme", "Acme Outfitters", Category.MARKETING, frozenset(Category))
BODY = "Acme Outfitters: 20% off today. Reply STOP to opt out"

SHIPPED = shipped_law()
STATES = [versions for name, versions in SHIPPED.items() if name != FEDERAL_HOURS.name]


def test_every_shipped_rule_is_cited_dated_and_described():
    for name, versions in SHIPPED.items():
        for rule in versions:
            assert rule.citation and rule.description and rule.jurisdiction, (name, rule)
            assert isinstance(rule.effective_from, date), (name, rule)
            assert rule.effective_until is None or rule.effective_until >= rule.effective_from
            assert rule.windows and all(w.start < w.end for w in rule.windows)


def test_the_federal_file_is_the_default_window():
    (federal,) = SHIPPED[FEDERAL_HOURS.name]
    assert federal == FEDERAL_HOURS


def test_a_states_area_codes_are_those_nanpa_assigns_it():
    for versions in STATES:
        rule = versions[0]
        region = rule.name
        assigned = {code for code, entry in NANP.items() if entry["region"] == region}
        assert set(rule.area_codes) == assigned, (region, sorted(assigned ^ set(rule.area_codes)))


def _outside(rule: HoursRule) -> time:
    """A local time the federal window allows and this rule does not, on a weekday."""
    for hour in range(8, 21):
        for minute in (0, 30):
            t = time(hour, minute)
            probe = datetime.combine(date(2030, 1, 7), t)  # a Monday
            if not rule.allows(probe):
                return t
    raise AssertionError(f"{rule.name}'s window is the federal one")


def _number(rule: HoursRule) -> str:
    for code in sorted(rule.area_codes):
        for line in ("2345678", "5550123", "4567890"):
            info = phone_info(f"+1{code}{line}")
            if info is not None and len(info.time_zones) == 1:
                return info.e164
    raise AssertionError(f"no single-zone number for {rule.name}")


def _quiet(number: str, at: datetime, policy: Policy) -> list[str]:
    found = evaluate_sms(
        SmsMessage("acme", number, BODY, Category.MARKETING),
        {number: RecipientFacts(number)},
        SENDER,
        policy,
        at,
    ).violations
    return [v.message for v in found if v.code == "QUIET_HOURS"]


@pytest.mark.parametrize("versions", STATES, ids=[v[0].name for v in STATES])
def test_each_state_rule_holds_from_its_date_and_not_the_day_before(versions):
    policy = Policy(hours=(FEDERAL_HOURS, *versions))
    for rule in versions:
        number = _number(rule)
        zone = ZoneInfo(phone_info(number).time_zones[0])
        start = rule.effective_from
        monday_on = start + timedelta(days=(7 - start.weekday()) % 7)  # the first Monday in force
        monday_before = start - timedelta(days=start.weekday() or 7)  # the last Monday before it
        at_on = datetime.combine(monday_on, _outside(rule), zone).astimezone(UTC)
        at_before = datetime.combine(monday_before, _outside(rule), zone).astimezone(UTC)
        refused = _quiet(number, at_on, policy)
        assert refused and rule.citation in refused[0] and f"since {start}" in refused[0], (
            rule.name,
            refused,
        )
        assert _quiet(number, at_before, policy) == [], (rule.name, at_before)


def test_a_law_file_without_citation_or_date_or_with_overlapping_versions_is_refused():
    good = (LAW / "US-FL.toml").read_text()
    with pytest.raises(ConfigError, match="citation"):
        parse_law(good.replace('citation = "Fla. Stat. 501.616(6)(a), (b)"\n', ""), "x.toml")
    with pytest.raises(ConfigError, match="effective_from"):
        parse_law(good.replace("effective_from = 2021-07-01", ""), "x.toml")
    with pytest.raises(ConfigError, match="effective_from"):
        parse_law(good.replace("effective_from = 2021-07-01", 'effective_from = "July 2021"'), "x.toml")
    twice = good + good.split("\n\n", 1)[1]
    with pytest.raises(ConfigError, match="same days"):
        parse_law(twice, "x.toml")
    with pytest.raises(ConfigError, match="area code"):
        parse_law(good.replace('"239"', '"123"'), "x.toml")


def _config(tmp_path: Path, policy: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f'[gateway]\ndatabase = "sqlite:///{tmp_path}/g.db"\n\n[policy]\n{policy}\n')
    return path


def test_config_replaces_adds_and_drops_state_rules(tmp_path):
    config = config_module.load(
        str(
            _config(
                tmp_path,
                'disabled_state_rules = ["TX"]\n\n[[policy.state]]\nname = "FL"\narea_codes = ["305"]\n'
                'windows = [{ start = "09:00", end = "19:00" }]\neffective_from = 2030-01-01\n'
                'citation = "test"\n',
            )
        )
    )
    names = [r.name for r in config.policy.hours]
    assert "TX" not in names and names.count("FL") == 1
    (florida,) = [r for r in config.policy.hours if r.name == "FL"]
    assert florida.area_codes == frozenset({"305"}) and florida.effective_from == date(2030, 1, 1)
    with pytest.raises(ConfigError, match="not a shipped state rule"):
        config_module.load(str(_config(tmp_path, 'disabled_state_rules = ["ZZ"]')))
    with pytest.raises(ConfigError, match="before effective_from"):
        config_module.load(
            str(
                _config(
                    tmp_path,
                    '[[policy.state]]\nname = "XX"\nwindows = [{ start = "09:00", end = "19:00" }]\n'
                    "effective_from = 2030-01-01\neffective_until = 2029-01-01\n",
                )
            )
        )


def test_gateway_rules_prints_the_law_in_force(tmp_path):
    path = _config(tmp_path, "")
    code, out, err = run_cli(
        "rules", "--config", str(path), "--at", "2025-06-01T12:00:00Z", "--format", "json"
    )
    assert code == 0, err
    shown = json.loads(out)
    assert shown["date"] == "2025-06-01"
    names = {r["name"] for r in shown["rules"]}
    assert {"federal", "FL", "OK", "MD", "CT"} <= names and "TX" not in names and "OR" not in names
    code, out, _ = run_cli("rules", "--config", str(path), "--at", "2026-01-01T12:00:00Z", "--state", "OR")
    assert code == 0 and "Oregon" in out and "since 2026-01-01" in out and "3 per 24 h" in out
    code, _, err = run_cli("rules", "--config", str(path), "--state", "ZZ")
    assert code == 2 and "no rule named 'ZZ'" in err


def test_the_console_shows_the_law_in_force(gw):
    browser = signed_in(gw)
    status, body, _ = browser.open("/ops/law?at=2025-06-01")  # (this config: no shipped state rules)
    assert status == 200 and "47 CFR 64.1200(c)(1)" in body and "since 1992-12-20" in body
    assert "HI-test" in body and "always" in body  # a configured rule without dates
    assert browser.open("/ops/law?at=nonsense")[0] == 200  # today, rather than an error
