"""The law beyond calling windows (issue 23): the FCC's revoke-all scope from its date, Virginia's ten-year
STOP, declared emergencies (Louisiana), the established business relationship exception to Do-Not-Call,
other countries' consent regimes per sender, and the opt-out deadline clock (store on both engines, CLI,
console, /metrics)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from engines import ENGINES, Engine
from helpers import run_cli
from test_console import form_token, gw, signed_in  # noqa: F401  (the console's fixture and sign-in)

from gateway import config as config_module
from gateway.addresses import address_hash, phone_info
from gateway.config import ConfigError
from gateway.lists import Lists
from gateway.model import (
    Category,
    Channel,
    Consent,
    ConsentBasis,
    ConsentLevel,
    DncFacts,
    Reason,
    RecipientFacts,
    SmsMessage,
    Suppression,
)
from gateway.policy import evaluate_sms
from gateway.policy.deadlines import due
from gateway.policy.recipients import RecipientCheck, recipient_violations
from gateway.policy.regimes import months_after
from gateway.policy.sms import next_allowed_time
from gateway.store import open_store

SENDER_TOML = """
[[sender]]
name = "acme"
brand = "Acme Outfitters"
physical_address = "123 Main St, Suite 4, Springfield, IL 62701"
from_domains = ["acme.example"]
regimes = {regimes}
"""
BODY = "Acme Outfitters: 20% off today. Reply STOP to opt out"
RECEIPT = "Acme Outfitters: order A-1 has shipped."
NY, VA, LA = "+12125550123", "+17035550123", "+15045550123"


def _config(tmp_path: Path, policy: str = "", regimes: str = '["US"]'):
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'[gateway]\ndatabase = "sqlite:///{tmp_path}/g.db"\n\n[policy]\n{policy}\n'
        + SENDER_TOML.format(regimes=regimes)
    )
    return config_module.load(str(path))


def _consent(to: str, level: str, at: datetime, basis: str = "", channel: Channel = Channel.SMS) -> Consent:
    return Consent(
        channel, address_hash(to), to, "acme", ConsentLevel.parse(level), "test", "", at,
        basis=ConsentBasis.parse(basis),
    )  # fmt: skip


def _stop(to: str, reason: str, created: datetime, expires: datetime | None = None) -> Suppression:
    return Suppression(Channel.SMS, address_hash(to), to, "acme", Reason(reason), "test", created, expires)


def _codes(config, to: str, at: datetime, facts: RecipientFacts, category=Category.MARKETING, body=BODY):
    result = evaluate_sms(
        SmsMessage("acme", to, body, category),
        {to: facts},
        config.senders["acme"].settings,
        config.policy,
        at,
    )
    return {v.code: v.message for v in result.violations}


def test_revoke_all_reaches_transactional_texts_from_its_date_on(tmp_path):
    config = _config(tmp_path)
    facts = RecipientFacts(
        NY,
        suppressions=(_stop(NY, "unsubscribe", datetime(2026, 6, 1, tzinfo=UTC)),),
        consents=(_consent(NY, "express_written", datetime(2026, 1, 1, tzinfo=UTC)),),
    )
    before = datetime(2027, 1, 30, 16, tzinfo=UTC)
    on = datetime(2027, 1, 31, 16, tzinfo=UTC)
    assert _codes(config, NY, before, facts, Category.TRANSACTIONAL, RECEIPT) == {}
    refused = _codes(config, NY, on, facts, Category.TRANSACTIONAL, RECEIPT)
    assert "since 2027-01-31" in refused["SUPPRESSED"] and "64.1200(a)(10)" in refused["SUPPRESSED"]
    assert "SUPPRESSED" in _codes(config, NY, before, facts)  # marketing: stopped either way
    # `gateway rules --at` shows the duty on its side of the date only
    path = tmp_path / "gateway.toml"
    _, out, _ = run_cli("rules", "--config", str(path), "--at", "2027-01-30T12:00:00Z")
    assert "revoke_all" not in out
    _, out, _ = run_cli("rules", "--config", str(path), "--at", "2027-01-31T12:00:00Z")
    assert "revoke_all" in out and "since 2027-01-31" in out


def test_virginia_keeps_a_stop_ten_years_whatever_its_expiry(tmp_path):
    config = _config(tmp_path)
    at = datetime(2026, 6, 2, 16, tzinfo=UTC)  # a Tuesday, midday in both states
    created, expired = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    for number, kept in ((VA, True), (NY, False)):
        facts = RecipientFacts(
            number,
            suppressions=(_stop(number, "stop", created, expired),),
            consents=(_consent(number, "express_written", datetime(2026, 5, 1, tzinfo=UTC)),),
        )
        found = _codes(config, number, at, facts)
        assert ("SUPPRESSED" in found) is kept, (number, found)
        if kept:
            assert "Va. Code 59.1-514" in found["SUPPRESSED"]
    # before SB 1339 took effect, an expired STOP of a Virginia number is expired
    old = RecipientFacts(
        VA,
        suppressions=(_stop(VA, "stop", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),),
        consents=(_consent(VA, "express_written", datetime(2025, 5, 1, tzinfo=UTC)),),
    )
    assert _codes(config, VA, datetime(2025, 12, 30, 16, tzinfo=UTC), old) == {}
    assert "SUPPRESSED" in _codes(config, VA, datetime(2026, 1, 6, 16, tzinfo=UTC), old)
    ten_years_on = datetime(2036, 3, 4, 16, tzinfo=UTC)
    assert "SUPPRESSED" not in _codes(config, VA, ten_years_on, old)


BLACKOUT = """
[[policy.blackout]]
name = "Hurricane Test"
states = ["LA"]
start = 2026-09-01T00:00:00-05:00
end = 2026-09-10T00:00:00-05:00
citation = "La. R.S. 45:844.31"
"""


def test_a_declared_emergency_stops_marketing_texts_to_its_area_until_it_ends(tmp_path):
    config = _config(tmp_path, BLACKOUT)
    facts = RecipientFacts(LA, consents=(_consent(LA, "express_written", datetime(2026, 1, 1, tzinfo=UTC)),))
    during = datetime(2026, 9, 2, 17, tzinfo=UTC)  # a Wednesday, noon in New Orleans
    found = _codes(config, LA, during, facts)
    assert set(found) == {"QUIET_HOURS"} and "Hurricane Test" in found["QUIET_HOURS"]
    assert "La. R.S. 45:844.31" in found["QUIET_HOURS"]
    assert _codes(config, LA, during, facts, Category.TRANSACTIONAL, RECEIPT) == {}
    assert "QUIET_HOURS" not in _codes(config, NY, during, RecipientFacts(NY, consents=facts.consents))
    after = datetime(2026, 9, 16, 17, tzinfo=UTC)
    assert "QUIET_HOURS" not in _codes(config, LA, after, facts)
    # a held text waits for the end of the emergency (then for the state's own hours, if any)
    wait = next_allowed_time(phone_info(LA), config.policy, during)
    assert wait is not None and wait >= datetime(2026, 9, 10, 5, tzinfo=UTC)
    assert "QUIET_HOURS" not in _codes(config, LA, wait, facts)
    path = tmp_path / "gateway.toml"
    _, out, _ = run_cli("rules", "--config", str(path), "--at", "2026-09-02T12:00:00Z")
    assert "Hurricane Test" in out and "504" in out


@pytest.mark.parametrize(
    "blackout, problem",
    [
        (BLACKOUT.replace("2026-09-10T00", "2026-08-10T00"), "not after start"),
        (BLACKOUT.replace('["LA"]', '["ZZ"]'), "not a state"),
        (BLACKOUT.replace("2026-09-01T00:00:00-05:00", '"September"'), "with its offset"),
        (BLACKOUT.replace('states = ["LA"]', "area_codes = []"), "name the states"),
        (BLACKOUT.replace('["LA"]', '["TX"]').replace('citation = "La. R.S. 45:844.31"', ""), "cite the one"),
    ],
)
def test_a_wrong_blackout_is_a_clear_config_error(tmp_path, blackout, problem):
    with pytest.raises(ConfigError, match=problem):
        _config(tmp_path, blackout)


def test_a_blackout_cites_the_states_emergency_law_by_default(tmp_path):
    config = _config(tmp_path, BLACKOUT.replace('citation = "La. R.S. 45:844.31"', ""))
    assert config.policy.blackouts[0].citation == "La. R.S. 45:844.31"
    config = _config(tmp_path, BLACKOUT.replace('states = ["LA"]', 'area_codes = ["212"]').replace(
        'citation = "La. R.S. 45:844.31"', ""))  # fmt: skip
    assert config.policy.blackouts[0].citation == "N.Y. Gen. Bus. Law 399-z(5-a)"


def test_an_established_business_relationship_lifts_do_not_call_inside_its_window(tmp_path):
    config = _config(tmp_path)
    at = datetime(2026, 6, 2, 16, tzinfo=UTC)
    dnc = DncFacts(listed=("national",), copies=(("national", date(2026, 5, 20)),))
    written = _consent(NY, "express_written", datetime(2026, 1, 1, tzinfo=UTC))
    for basis, months, listed in (
        ("purchase", 17, False),
        ("purchase", 19, True),
        ("inquiry", 2, False),
        ("inquiry", 4, True),
        ("given", 1, True),  # an express consent that is not written: no exception
    ):
        relationship = _consent(NY, "express", months_after(at, -months), basis)
        facts = RecipientFacts(NY, consents=(relationship,), dnc=dnc)
        found = _codes(config, NY, at, facts)
        assert ("DNC_REGISTERED" in found) is listed, (basis, months, found)
        assert "CONSENT_MISSING" in found  # the TCPA still wants written consent for marketing texts
        if listed:
            assert "64.1200(f)(5)" in found["DNC_REGISTERED"]
    assert _codes(config, NY, at, RecipientFacts(NY, consents=(written,), dnc=dnc)) == {}


def _email_violations(config, to: str, consents: tuple[Consent, ...], at: datetime) -> list[str]:
    check = RecipientCheck(
        Channel.EMAIL, Category.MARKETING, config.senders["acme"].settings, config.policy, at
    )
    return [v.code for v in recipient_violations(RecipientFacts(to, consents=consents), check)]


@pytest.mark.parametrize(
    "regimes, basis, months, ok",
    [
        ('["US"]', None, 0, True),  # a US-only sender: nothing asked of email consent
        ('["US", "CA"]', None, 0, False),
        ('["US", "CA"]', "purchase", 23, True),
        ('["US", "CA"]', "purchase", 25, False),
        ('["US", "CA"]', "inquiry", 5, True),
        ('["US", "CA"]', "inquiry", 7, False),
        ('["US", "CA"]', "published", 60, True),
        ('["US", "CA"]', "given", 60, True),
        ('["US", "UK"]', "soft_opt_in", 40, True),
        ('["US", "UK"]', "purchase", 1, False),
        ('["US", "EU"]', "soft_opt_in", 1, True),
        ('["US", "AU"]', "inquiry", 60, True),
        ('["US", "AU"]', "soft_opt_in", 1, True),
        ('["US", "AU"]', None, 0, False),
        ('["US", "CA"]', "soft_opt_in", 25, False),
        ('["US", "CA"]', "soft_opt_in", 10, True),
    ],
)
def test_other_countries_consent_for_marketing_email(tmp_path, regimes, basis, months, ok):
    config = _config(tmp_path, regimes=regimes)
    at = datetime(2026, 6, 2, 16, tzinfo=UTC)
    to = "pat@example.com"
    level = "express" if basis == "given" else "implied"
    consents = (
        () if basis is None else (_consent(to, level, months_after(at, -months), basis, Channel.EMAIL),)
    )
    found = _email_violations(config, to, consents, at)
    assert (found == []) is ok, found


def test_a_texts_regime_is_its_numbers_country(tmp_path):
    # (the US rule asks written consent of marketing texts by default; here implied, to see the regimes')
    config = _config(tmp_path, '[policy.consent]\nsms_marketing = "implied"', regimes='["US", "CA", "UK"]')
    at = datetime(2026, 6, 2, 16, tzinfo=UTC)
    implied = datetime(2026, 1, 1, tzinfo=UTC)
    for number, expected in (
        ("+14165550123", []),  # Toronto: a purchase five months ago is CASL's implied consent
        ("+447911123456", ["CONSENT_MISSING"]),  # London: under PECR a purchase alone is not the soft opt-in
        (NY, []),  # New York: the US rules alone (the written consent is on record)
    ):
        facts = RecipientFacts(number, consents=(_consent(number, "implied", implied, "purchase"),))
        settings = config.senders["acme"].settings
        check = RecipientCheck(Channel.SMS, Category.MARKETING, settings, config.policy, at)
        assert [v.code for v in recipient_violations(facts, check)] == expected, number
    with pytest.raises(ConfigError, match="regimes"):
        _config(tmp_path, regimes='["US", "XX"]')


def test_deadlines_are_the_earliest_that_reaches_a_request():
    received = datetime(2026, 12, 23, 12, tzinfo=UTC)  # a Wednesday before Christmas
    assert due(received, Channel.SMS) == (datetime(2027, 1, 8, 12, tzinfo=UTC), due(received, Channel.SMS)[1])
    assert "64.1200(a)(10)" in due(received, Channel.SMS)[1]
    assert due(received, Channel.EMAIL)[0] == received + timedelta(days=2)
    au = due(received, Channel.SMS, frozenset({"AU"}))
    # counted in Sydney, where it arrived on the 23rd at 23:00, on weekdays (holidays not skipped: stricter)
    assert au[0] == datetime(2026, 12, 30, 12, tzinfo=UTC) and "sch. 2 cl. 6" in au[1]
    # a Sunday evening in New York is a Monday in UTC: the US count starts from the New York date
    sunday = datetime(2026, 8, 3, 2, tzinfo=UTC)  # Sun 2026-08-02 22:00 EDT
    assert due(sunday, Channel.SMS)[0] == datetime(2026, 8, 15, 2, tzinfo=UTC)  # Fri 2026-08-14 22:00 EDT


_LOOP = asyncio.Runner()


@pytest.mark.parametrize("engine", ENGINES)
def test_the_deadline_clock_on_both_engines(engine, tmp_path):
    db = Engine(engine, tmp_path)
    store = db.open()

    async def run() -> None:
        lists = Lists(store, ["acme"])
        await lists.note_unverified("mail", "request.unverified", "not aligned", "Pat@Example.com", "acme")
        await lists.note_unverified("mail", "report.unverified", "a bounce of nothing")  # not a request
        (waiting,) = await store.optout_requests("open", 10)
        assert waiting.address == "pat@example.com" and waiting.outcome == "" and waiting.scope == "acme"
        assert waiting.due_at - waiting.received_at == timedelta(days=2) and "Gmail" in waiting.source
        assert not waiting.overdue(waiting.received_at + timedelta(days=1))
        assert waiting.overdue(waiting.received_at + timedelta(days=3))
        # an operator's late entry: closed at once, honoured, late
        late = datetime.now(UTC) - timedelta(days=20)
        await lists.suppress(
            "cli", "+12125550123", channel="sms", scope="acme", reason="stop", received_at=late
        )
        (closed,) = await store.optout_requests("closed", 10)
        assert closed.overdue(datetime.now(UTC)) and "10 business days" in closed.source
        assert closed.honour_seconds is not None and abs(closed.honour_seconds - 20 * 86400) < 60
        # the person's opt-out, however it comes, honours the waiting request
        from gateway.lists import ListsError, OptOut

        await lists.opt_out(
            "console", OptOut(Channel.EMAIL, "acme", Reason.UNSUBSCRIBE, "ok", "pat@example.com")
        )
        assert await store.optout_requests("open", 10) == []
        stats = await store.optout_request_stats(datetime.now(UTC))
        assert (stats.open, stats.overdue, stats.honoured) == (0, 0, 2) and stats.within[-1] == 2
        assert stats.within[0] == 1  # the confirmed one within the hour; the late entry after 20 days
        await lists.note_unverified("mail", "request.unverified", "again", "sam@example.com", "acme")
        await lists.note_unverified("mail", "request.unverified", "and", "kim@example.com", "acme")
        later = datetime.now(UTC) + timedelta(days=5)
        assert (await store.optout_request_stats(later)).overdue == 2
        again = (await store.optout_requests("open", 10))[0]
        assert await lists.dismiss_request("console 192.0.2.7", again.id)
        assert not await lists.dismiss_request("console 192.0.2.7", again.id)
        for bad in (0, -1, 2**63, "7", 10**6):
            with pytest.raises(ListsError):
                await lists.dismiss_request("console", bad)
        (dismissal,) = await store.audit_log(limit=5, actions=["request.dismiss"])
        assert dismissal.actor == "console 192.0.2.7" and dismissal.address == again.address
        assert [r.outcome for r in await store.optout_requests("all", 10)].count("dismissed") == 1
        with pytest.raises(ListsError, match="future"):
            await lists.suppress("cli", NY, channel="sms", received_at=datetime.now(UTC) + timedelta(days=1))
        with pytest.raises(ListsError, match="implied"):
            await lists.record_consent(
                "cli", NY, channel="sms", scope="acme", level="express", basis="purchase"
            )
        other = "kim@example.com" if again.address == "sam@example.com" else "sam@example.com"
        await lists.erase("cli", other)
        erased = [r for r in await store.optout_requests("all", 10) if r.address is None]
        assert len(erased) == 1 and erased[0].outcome == "erased" and erased[0].source == ""
        assert all(other not in r.source for r in await store.optout_requests("all", 10))
        await store.close()

    try:
        _LOOP.run(run())
    finally:
        db.drop()


def test_the_console_lists_what_is_due_and_metrics_export_time_to_honour(gw):
    late = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    code, _, err = run_cli(
        "suppress", "add", "+12125550199", "--channel", "sms", "--sender", "acme", "--reason", "stop",
        "--received-at", late, "--config", str(gw.config),
    )  # fmt: skip
    assert code == 0, err

    async def waiting() -> None:
        store = open_store(f"sqlite:///{gw.db}")
        await Lists(store, ["acme"]).note_unverified(
            "mail", "request.unverified", "x", "pat@example.com", "acme"
        )
        await store.close()

    asyncio.run(waiting())
    browser = signed_in(gw)
    status, body, _ = browser.open("/ops/deadlines")
    assert status == 200 and "pat@example.com" in body and "<strong>1</strong> open" in body
    assert "late" in body and "+12125550199" not in body.split("Recently closed")[0]
    request_id = body.split('name="id" value="', 1)[1].split('"', 1)[0]
    status, body, _ = browser.open("/ops/actions/dismiss-request", {"csrf": "forged", "id": request_id})
    assert status == 403
    page = browser.open("/ops/deadlines")[1]
    status, body, _ = browser.open(
        "/ops/actions/dismiss-request", {"csrf": form_token(page), "id": request_id}
    )
    assert status == 303
    assert "None waiting" in browser.open("/ops/deadlines")[1]
    metrics = browser.open("/metrics")[1]
    assert "gateway_optout_requests_open 0" in metrics
    assert (
        "gateway_optout_time_to_honour_seconds_count 1" in metrics
    )  # the late entry: the dismissed one is not
    assert 'gateway_optout_time_to_honour_seconds_bucket{le="864000.0"} 0' in metrics  # 30 days: late


def test_a_wrong_duty_in_a_law_file_is_refused():
    from gateway.config.law import read_law

    good = (Path(__file__).parent.parent / "gateway" / "data" / "law" / "US-VA.toml").read_text()
    assert read_law(good, "x.toml")[1][0].years == 10
    for broken, problem in (
        (good.replace('kind = "keep_stop"', 'kind = "be_nice"'), "not a kind of duty"),
        (good.replace("years = 10\n", ""), "needs years"),
        (good.replace('citation = "Va. Code 59.1-514 (SB 1339, 2025)"\n', ""), "citation"),
        (good.replace("effective_from = 2026-01-01", "effective_from = 2026-01-01\neffective_until = 2025-01-01"),
         "before effective_from"),
        (good + good.split("\n\n", 1)[1].split("#", 1)[0] + good[good.index("[[duty]]"):], "same days"),
    ):  # fmt: skip
        with pytest.raises(ConfigError, match=problem):
            read_law(broken, "x.toml")


def test_a_rule_the_law_lifts_for_consent_is_waived_by_it(tmp_path):
    config = _config(
        tmp_path,
        '[[policy.state]]\nname = "ZZ"\narea_codes = ["212"]\nwindows = [{ start = "08:00", end = "21:00" }]\n'
        'marketing_cap = 1\nwaived_by = "express_written"\ncitation = "test 2"\n',
    )
    at = datetime(2026, 6, 2, 16, tzinfo=UTC)
    sends = (at - timedelta(hours=2),)
    consented = RecipientFacts(NY, consents=(_consent(NY, "express_written", datetime(2026, 1, 1, tzinfo=UTC)),),
                               recent_sends=sends)  # fmt: skip
    assert _codes(config, NY, at, consented) == {}
    weaker = RecipientFacts(NY, consents=(_consent(NY, "express", datetime(2026, 1, 1, tzinfo=UTC)),),
                            recent_sends=sends)  # fmt: skip
    assert "test 2" in _codes(config, NY, at, weaker)["FREQUENCY_CAP"]
    with pytest.raises(ConfigError, match="waived_by"):
        _config(tmp_path, '[[policy.state]]\nname = "ZZ"\nwindows = [{ start = "08:00", end = "21:00" }]\n'
                'waived_by = "a wink"\n')  # fmt: skip


def test_the_orders_keywords_are_data_and_a_config_may_add_or_move_a_duty(tmp_path):
    from gateway.policy.replies import Intent, reply_intent

    config = _config(tmp_path)
    words = config.policy.revocation_keywords(date(2026, 6, 1))
    assert words == {"stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe"}
    assert config.policy.revocation_keywords(date(2025, 4, 10)) == frozenset()  # before FCC 24-24 took effect
    for word in words:  # the replies' own matcher knows each already; the data makes sure of it
        assert reply_intent(word.upper(), words) is Intent.STOP
    config = _config(
        tmp_path,
        '[[policy.duty]]\nname = "ZZ"\nkind = "revocation_keywords"\nkeywords = ["Halt  Mich"]\n'
        'effective_from = 2020-01-01\ncitation = "test 3"\ndescription = "German, too"\n\n'
        '[[policy.duty]]\nname = "federal"\nkind = "revoke_all"\neffective_from = 2028-01-01\n'
        'citation = "47 CFR 64.1200(a)(10), delayed again"\ndescription = "revoke-all"\n',
    )
    added = config.policy.revocation_keywords(date(2026, 6, 1))
    assert "halt mich" in added and reply_intent("halt MICH", added) is Intent.STOP
    assert reply_intent("halt mich") is Intent.NONE
    assert config.policy.duty("revoke_all", date(2027, 6, 1)) is None  # the configured date replaced it
    assert config.policy.duty("revoke_all", date(2028, 1, 1)).citation.endswith("delayed again")
    for broken, problem in (
        ('[[policy.duty]]\nname = "ZZ"\nkind = "revocation_keywords"\neffective_from = 2020-01-01\n'
         'citation = "x"\ndescription = "x"\n', "needs keywords"),
        ('[[policy.duty]]\nname = "ZZ"\nkind = "nap"\neffective_from = 2020-01-01\ncitation = "x"\n'
         'description = "x"\n', "not a kind of duty"),
    ):  # fmt: skip
        with pytest.raises(ConfigError, match=problem):
            _config(tmp_path, broken)
