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


def test_every_shipped_duty_is_cited_dated_and_described():
    from gateway.config.law import shipped_duties
    from gateway.policy.settings import DUTY_KINDS

    duties = shipped_duties()
    assert {"revoke_all", "keep_stop", "emergency_blackout"} <= {d.kind for v in duties.values() for d in v}
    for name, versions in duties.items():
        for d in versions:
            assert d.kind in DUTY_KINDS and d.citation and d.description and d.jurisdiction, (name, d)
            assert isinstance(d.effective_from, date) and (d.kind != "keep_stop" or d.years)
            assert not d.in_force(d.effective_from - timedelta(days=1)) and d.in_force(d.effective_from)


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


def _refused_slot(rule: HoursRule, zone: ZoneInfo) -> datetime | None:
    """The first half hour on or after the rule's start, inside the federal window, that the rule refuses
    (a stricter hour, a day without solicitation, a holiday); None: its window is the federal one."""
    for days in range(400):  # a year: a rule that differs only on holidays has one in it
        for hour in range(8, 21):
            for minute in (0, 30):
                local = datetime.combine(rule.effective_from + timedelta(days=days), time(hour, minute), zone)
                if not rule.allows(local):
                    return local
    return None


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
        on = _refused_slot(rule, zone)
        if on is None:  # a cap with the federal hours: the cap is what starts on the date
            assert rule.marketing_cap is not None, rule.name
            continue
        before = on - timedelta(weeks=(on.date() - rule.effective_from).days // 7 + 1)  # same day and hour
        refused = _quiet(number, on.astimezone(UTC), policy)
        start = rule.effective_from
        assert (
            refused
            and rule.citation in refused[0]
            and rule.dated() in refused[0]
            and str(start) in refused[0]
        ), (
            rule.name,
            refused,
        )
        assert _quiet(number, before.astimezone(UTC), policy) == [], (rule.name, before)


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
    assert "revoke_all" not in body
    status, body, _ = browser.open("/ops/law?at=2027-02-01")
    assert status == 200 and "revoke_all" in body and "since 2027-01-31" in body


def test_holidays_fall_on_their_days_and_are_observed_on_a_weekday():
    from gateway.policy.holidays import holidays_in, is_holiday, valid_holiday

    every = frozenset(
        ["new_year", "mlk", "washington", "mardi_gras", "good_friday", "memorial", "juneteenth"]
        + ["independence", "labor", "columbus", "veterans", "thanksgiving", "day_after_thanksgiving"]
        + ["christmas", "07-24"]
    )
    days = holidays_in(every, 2026)
    for expected in (
        date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 2, 17), date(2026, 4, 3),
        date(2026, 5, 25), date(2026, 6, 19), date(2026, 7, 4), date(2026, 7, 3), date(2026, 9, 7),
        date(2026, 10, 12), date(2026, 11, 11), date(2026, 11, 26), date(2026, 11, 27), date(2026, 12, 25),
        date(2026, 7, 24),
    ):  # fmt: skip
        assert expected in days, expected
    assert len(days) == 16  # July 4th 2026 is a Saturday: observed Friday the 3rd as well
    assert is_holiday(date(2027, 12, 31), frozenset({"new_year"}))  # 2028-01-01 is a Saturday
    assert is_holiday(date(2027, 12, 24), frozenset({"christmas"}))  # 2027-12-25 is a Saturday
    assert is_holiday(date(2022, 12, 26), frozenset({"christmas"}))  # 2022-12-25 was a Sunday
    assert not is_holiday(date(2026, 12, 24), frozenset({"christmas"}))
    assert not is_holiday(date(2027, 2, 28), frozenset({"02-29"}))
    assert valid_holiday("02-29") and not valid_holiday("02-30") and not valid_holiday("easter")


def test_a_rule_with_holidays_refuses_on_them_and_waits_for_the_next_day():
    from gateway.policy.sms import next_allowed_time

    rule = HoursRule(
        "ZZ", "test 1", (FEDERAL_HOURS.windows[0],), frozenset({"212"}), holidays=frozenset({"christmas"}),
        effective_from=date(2020, 1, 1), description="x", jurisdiction="Test",
    )  # fmt: skip
    policy = Policy(hours=(FEDERAL_HOURS, rule))
    zone = ZoneInfo("America/New_York")
    christmas = datetime(2026, 12, 25, 12, 0, tzinfo=zone)
    refused = _quiet("+12125550123", christmas.astimezone(UTC), policy)
    assert refused and "is a holiday on which ZZ" in refused[0] and "test 1" in refused[0]
    assert _quiet("+12125550123", (christmas + timedelta(days=1)).astimezone(UTC), policy) == []
    info = phone_info("+12125550123")
    assert next_allowed_time(info, policy, christmas.astimezone(UTC)) == datetime(
        2026, 12, 26, 8, 0, tzinfo=zone
    )
    with pytest.raises(ConfigError, match="not a holiday"):
        parse_law(
            (LAW / "US-FL.toml").read_text().replace("marketing_cap", 'holidays = ["easter"]\nmarketing_cap'),
            "x.toml",
        )
