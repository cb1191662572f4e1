"""Do-Not-Call registries (`gateway dnc`, DNC_REGISTERED): a registry copy imported from the registry's
file shapes, replacing the one held; marketing texts to a listed number refused without express written
consent; a copy more than 31 days old fails closed; both store engines."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta

from engines import engine  # noqa: F401  (the fixture)
from helpers import run_cli

from gateway.store.queries import Accepted

CONFIG = """[gateway]
database = "sqlite:///{tmp}/g.db"

[[sender]]
name = "acme"
brand = "Acme Outfitters"
api_key_env = "ACME_API_KEY"
"""
BODY = "Acme Outfitters: 20% off today. Reply STOP to opt out"


def _check(config, number: str, at: str) -> tuple[int, list[str]]:
    code, out, err = run_cli(
        "check",
        "--config",
        str(config),
        "--sms",
        "--sender",
        "acme",
        "--to",
        number,
        "--body",
        BODY,
        "--at",
        at,
    )
    assert code in (0, 1), err
    return code, [v["code"] for v in json.loads(out)["violations"]]


def test_import_shapes_replace_and_the_refusal(tmp_path):
    config = tmp_path / "gateway.toml"
    config.write_text(CONFIG.format(tmp=tmp_path))
    today = datetime.now(UTC).date()
    registry = tmp_path / "national.txt"
    registry.write_text(
        "# the registry's download\n2125550123\n212,5550124\n212-555-0125\n(212) 555-0126\n+1 212 555 0127\n"
        "\n12125550128\n2125550123\nnot a number\n1125550123\n"
    )
    code, out, err = run_cli(
        "dnc", "import", str(registry), "--list", "national", "--as-of", str(today), "--config", str(config)
    )
    assert code == 1  # rows were rejected: said, and the valid ones are in
    assert "6 numbers, 1 repeated, 2 rejected" in out, out
    assert "line 10" in err and "line 11" in err
    # consent on record: express, not express written
    for number in ("+12125550123", "+12125550126", "+12125550188"):
        code, _, err = run_cli(
            "consent",
            "add",
            "--config",
            str(config),
            number,
            "--channel",
            "sms",
            "--level",
            "express",
            "--global",
        )
        assert code == 0, err
    at = f"{today}T16:00:00+00:00"
    assert "DNC_REGISTERED" in _check(config, "+12125550123", at)[1]
    assert "DNC_REGISTERED" in _check(config, "+12125550126", at)[1]
    assert "DNC_REGISTERED" not in _check(config, "+12125550188", at)[1]
    # a new copy replaces the one held: 555-0123 is off the list now
    registry.write_text("2125550126\n")
    code, out, _ = run_cli(
        "dnc", "import", str(registry), "--list", "national", "--as-of", str(today), "--config", str(config)
    )
    assert code == 0 and "1 numbers" in out
    assert "DNC_REGISTERED" not in _check(config, "+12125550123", at)[1]
    # 32 days later the copy is stale: every marketing text fails closed, listed or not
    later = f"{today + timedelta(days=32)}T16:00:00+00:00"
    code, codes = _check(config, "+12125550188", later)
    assert code == 1 and codes.count("DNC_REGISTERED") == 1
    code, out, _ = run_cli("dnc", "show", "--config", str(config))
    assert code == 0 and "national" in out and str(today) in out


def test_bad_arguments_are_clear(tmp_path):
    config = tmp_path / "gateway.toml"
    config.write_text(CONFIG.format(tmp=tmp_path))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    for args, words in [
        (["--list", "Texas", "--as-of", "2026-01-01"], "two-letter code"),
        (["--list", "national", "--as-of", "yesterday"], "is not a date"),
        (["--list", "national", "--as-of", "2999-01-01"], "in the future"),
    ]:
        code, _, err = run_cli("dnc", "import", str(empty), *args, "--config", str(config))
        assert code == 2 and words in err, err
    code, _, err = run_cli(
        "dnc",
        "import",
        str(tmp_path / "missing.txt"),
        "--list",
        "TX",
        "--as-of",
        "2026-01-01",
        "--config",
        str(config),
    )
    assert code == 2 and "cannot read" in err


def test_store_keeps_copies_per_list(engine):
    async def go() -> None:
        store = engine.open()
        try:
            now = datetime.now(UTC)
            one = await store.import_dnc(
                "national", [Accepted("2125550123"), Accepted("2125550124"), "bad"], date(2026, 5, 1), now
            )
            assert (one.added, one.rejected) == (2, 1)
            await store.import_dnc("TX", [Accepted("2145550123")], date(2026, 4, 1), now)
            facts = await store.dnc_facts("+12125550123")
            assert facts.listed == ("national",)
            assert sorted(facts.copies) == [("TX", date(2026, 4, 1)), ("national", date(2026, 5, 1))]
            await store.import_dnc("national", [Accepted("2125550124")], date(2026, 5, 20), now)
            assert (await store.dnc_facts("+12125550123")).listed == ()
            assert dict((await store.dnc_facts("+12125550124")).copies)["national"] == date(2026, 5, 20)
        finally:
            await store.close()

    asyncio.run(go())


def test_reassigned_numbers_database_answers_refuse_texts_on_old_consent(tmp_path):
    config = tmp_path / "gateway.toml"
    config.write_text(CONFIG.format(tmp=tmp_path))
    for number in ("+12125550131", "+12125550132"):
        code, _, err = run_cli(
            "consent", "add", "--config", str(config), number, "--channel", "sms", "--level", "express_written",
            "--global", "--obtained-at", "2026-01-10T00:00:00Z",
        )  # fmt: skip
        assert code == 0, err
    answers = tmp_path / "rnd.csv"
    answers.write_text(
        "number,date,answer\n2125550131,2026-01-10,yes\n(212) 555-0132,2026-01-10,no\n"
        "2125550133,2026-01-10,no data\n2125550134,yesterday,yes\n2125550135,2026-01-10,maybe\n"
    )
    code, out, err = run_cli("rnd", "import", str(answers), "--config", str(config))
    assert code == 1 and "3 answers kept, 2 rejected" in out and "receipt: rnd.csv" in out, out + err
    assert "line 5" in err and "line 6" in err
    at = "2026-05-05T15:00:00+00:00"
    assert "NUMBER_REASSIGNED" in _check(config, "+12125550131", at)[1]
    assert "NUMBER_REASSIGNED" not in _check(config, "+12125550132", at)[1]
    # consent given again after the disconnection is the present subscriber's
    code, _, err = run_cli(
        "consent", "add", "--config", str(config), "+12125550131", "--channel", "sms", "--level",
        "express_written", "--global", "--obtained-at", "2026-03-01T00:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    assert "NUMBER_REASSIGNED" not in _check(config, "+12125550131", at)[1]
