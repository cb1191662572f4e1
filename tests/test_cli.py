"""`gateway` as a user types it: exit codes, JSON, one-line errors, suppression and consent round trips."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from helpers import REPO, config_copy, run_cli

from gateway.secrets import verify_secret

SAMPLE = REPO / "config" / "samples" / "newsletter.eml"


@pytest.fixture
def cfg(tmp_path):
    return str(config_copy(REPO / "config" / "gateway.toml", tmp_path))


def gw(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        cwd=REPO,
    )


def test_check_of_the_shipped_sample_passes(cfg):
    proc = gw("check", "--config", cfg, "--sender", "demo", str(SAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "verdict": "pass",
        "violations": [],
        "category": "marketing",
        "mode": "enforce",
    }


def test_check_reject_exits_1_with_codes_and_messages(cfg, tmp_path):
    eml = tmp_path / "m.eml"
    eml.write_bytes(SAMPLE.read_bytes().replace(b"123 Main St, Suite 4", b"Somewhere"))
    code, out, _ = run_cli("check", "--config", cfg, "--sender", "demo", str(eml))
    result = json.loads(out)
    assert code == 1 and result["verdict"] == "reject"
    assert [v["code"] for v in result["violations"]] == ["CANSPAM_PHYSICAL_ADDRESS"]
    assert "123 Main St, Suite 4, Springfield, IL 62701" in result["violations"][0]["message"]


def test_check_sms_from_the_command_line(cfg):
    proc = gw(
        "check",
        "--config",
        cfg,
        "--sms",
        "--sender",
        "demo",
        "--to",
        "+13055550123",
        "--body",
        "Demo Outfitters: new jackets. Reply STOP to opt out",
        "--at",
        "2026-05-05T16:00:00Z",
    )
    result = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(v["code"], v.get("recipient")) for v in result["violations"]] == [
        ("CONSENT_MISSING", "+13055550123")
    ]


@pytest.mark.parametrize(
    "args, says",
    [
        (["--sender", "demo", "/no/such.eml"], "no such file"),
        (["--sender", "demo", "."], "is a directory"),
        (["--sender", "nobody", str(SAMPLE)], "unknown sender 'nobody' (known: demo)"),
        (["--sender", "demo"], "give the message file"),
        (["--sms", "--sender", "demo", "--body", "hi"], "--sms needs exactly one --to"),
        (
            ["--sms", "--sender", "demo", "--to", "+13055550123", "--body", "x", "--at", "tomorrow"],
            "is not an ISO 8601 time",
        ),
        (
            ["--sms", "--sender", "demo", "--to", "+13055550123", "--body", "x", "--category", "spam"],
            "invalid choice",
        ),
        (["--sender", "demo", "--bogus", str(SAMPLE)], "unrecognized arguments"),
    ],
)
def test_check_bad_usage_exits_2_with_one_line(cfg, args, says):
    code, out, err = run_cli("check", "--config", cfg, *args)
    assert code == 2 and out == ""
    assert says in err and err.count("\n") == 1


def test_check_of_empty_or_recipientless_files_is_bad_input(cfg, tmp_path):
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    assert run_cli("check", "--config", cfg, "--sender", "demo", str(empty))[0] == 2
    nobody = tmp_path / "nobody.eml"
    nobody.write_bytes(b"From: a@news.demo.example\r\nSubject: hi\r\n\r\nbody\r\n")
    code, _, err = run_cli("check", "--config", cfg, "--sender", "demo", str(nobody))
    assert code == 2 and "no recipients" in err
    code, out, _ = run_cli("check", "--config", cfg, "--sender", "demo", "--to", "x@example.com", str(nobody))
    assert code == 1 and json.loads(out)["verdict"] == "reject"


def test_suppress_add_list_remove(cfg):
    code, out, _ = run_cli(
        "suppress",
        "add",
        "Bob@Example.COM",
        "--channel",
        "email",
        "--sender",
        "demo",
        "--reason",
        "unsubscribe",
        "--config",
        cfg,
    )
    assert code == 0 and "suppressed: bob@example.com (email, scope demo, reason unsubscribe)" in out
    assert (
        "already suppressed"
        in run_cli(
            "suppress",
            "add",
            "bob@example.com",
            "--channel",
            "email",
            "--sender",
            "demo",
            "--reason",
            "unsubscribe",
            "--config",
            cfg,
        )[1]
    )
    code, out, _ = run_cli("suppress", "list", "--format", "json", "--config", cfg)
    rows = json.loads(out)
    assert [(r["address"], r["scope"], r["reason"]) for r in rows] == [
        ("bob@example.com", "demo", "unsubscribe")
    ]
    code, _, err = run_cli("suppress", "remove", "bob@example.com", "--channel", "email", "--config", cfg)
    assert (
        code == 1 and "no suppression of bob@example.com in scope global (it is suppressed in: demo)" in err
    )
    code, out, _ = run_cli(
        "suppress", "remove", "bob@example.com", "--channel", "email", "--sender", "demo", "--config", cfg
    )
    assert code == 0 and "removed 1 suppression" in out
    assert json.loads(run_cli("suppress", "list", "--format", "json", "--config", cfg)[1]) == []


def test_an_erasure_cannot_be_lifted_from_the_cli_either(cfg):
    """As in the console and over HTTP (409 PERMANENT): the hashed suppression `forget` leaves stays."""
    assert (
        run_cli(
            "suppress",
            "add",
            "eve@example.com",
            "--channel",
            "email",
            "--global",
            "--reason",
            "unsubscribe",
            "--config",
            cfg,
        )[0]
        == 0
    )
    assert run_cli("forget", "eve@example.com", "--config", cfg)[0] == 0
    code, _, err = run_cli(
        "suppress", "remove", "eve@example.com", "--channel", "email", "--global", "--config", cfg
    )
    assert code == 1 and "not removed: An erasure cannot be undone" in err
    reasons = [
        r["reason"] for r in json.loads(run_cli("suppress", "list", "--format", "json", "--config", cfg)[1])
    ]
    assert "erased" in reasons
    code, _, err = run_cli(
        "suppress",
        "remove",
        "eve@example.com",
        "--channel",
        "email",
        "--global",
        "--reason",
        "erased",
        "--config",
        cfg,
    )
    assert code == 1 and "cannot be undone" in err


def test_suppress_rejects_bad_addresses_and_scopes(cfg):
    code, _, err = run_cli("suppress", "add", "not-an-address", "--channel", "email", "--config", cfg)
    assert code == 2 and "is not a valid email address" in err
    code, _, err = run_cli("suppress", "add", "3055550123", "--channel", "sms", "--config", cfg)
    assert code == 2 and "E.164" in err
    code, _, err = run_cli(
        "suppress", "add", "a@b.example", "--channel", "email", "--sender", "ghost", "--config", cfg
    )
    assert code == 2 and "unknown sender 'ghost'" in err
    code, _, err = run_cli("suppress", "add", "a@b.example", "--channel", "fax", "--config", cfg)
    assert code == 2 and "invalid choice" in err


def test_import_reports_bad_rows_by_line_and_keeps_the_good_ones(cfg, tmp_path):
    data = tmp_path / "list.csv"
    data.write_text(
        "email,reason,sender\nann@example.com,unsubscribe,demo\nnot-an-email,,\n"
        "cy@example.com,teleported,\n\ndee@example.com,,\nann@example.com,unsubscribe,demo\n"
    )
    code, out, err = run_cli("suppress", "import", str(data), "--channel", "email", "--config", cfg)
    assert code == 1
    assert "imported 2 new, 1 already present, 2 rejected" in out
    assert "line 3: 'not-an-email' is not a valid email address" in err
    assert "line 4: reason 'teleported' is not one of" in err


def test_import_of_a_bare_address_list_and_export_round_trip(cfg, tmp_path):
    (tmp_path / "bare.csv").write_text("+13055550123\n+12125550123\n")
    code, out, _ = run_cli(
        "suppress",
        "import",
        str(tmp_path / "bare.csv"),
        "--channel",
        "sms",
        "--reason",
        "stop",
        "--sender",
        "demo",
        "--config",
        cfg,
    )
    assert code == 0 and "imported 2 new" in out
    exported = tmp_path / "out.csv"
    assert run_cli("suppress", "export", "-o", str(exported), "--config", cfg)[0] == 0
    rows = list(csv.DictReader(io.StringIO(exported.read_text())))
    assert {(r["channel"], r["address"], r["scope"], r["reason"]) for r in rows} == {
        ("sms", "+13055550123", "demo", "stop"),
        ("sms", "+12125550123", "demo", "stop"),
    }
    other = config_copy(REPO / "config" / "gateway.toml", tmp_path, "other.toml")
    other.write_text(other.read_text().replace("gateway.db", "other.db"))
    code, out, _ = run_cli("suppress", "import", str(exported), "--config", str(other))
    assert code == 0 and "imported 2 new" in out
    again = run_cli("suppress", "export", "--config", str(other))[1]
    assert again == exported.read_text()


def test_an_import_reads_every_row_it_can_and_names_the_others(cfg, tmp_path):
    """Bare email addresses need no --channel; a row the csv module cannot read (a field over its limit)
    or with a time past year 9999 in UTC is one line of the report, and the rows after it go in too; an
    address that starts like a formula is exported as text and read back as itself."""
    formula = "=cmd|'/ccalc'!a1@victim.example"
    rows = ["bare1@example.com", "bare2@example.com", '"' + "x" * 140_000 + '"', "bare3@example.com"]
    (tmp_path / "bare.csv").write_text("\n".join(rows) + "\n")
    code, out, err = run_cli("suppress", "import", str(tmp_path / "bare.csv"), "--config", cfg)
    assert code == 1 and "imported 3 new" in out and "line 3: not readable as CSV" in err, (out, err)
    (tmp_path / "dated.csv").write_text(
        f"address,expires_at\nlate@example.com,9999-12-31T23:59:59-05:00\n{formula},\n"
    )
    code, out, err = run_cli("suppress", "import", str(tmp_path / "dated.csv"), "--config", cfg)
    assert code == 1 and "imported 1 new" in out and "in the years 1000 to 8999" in err, (out, err)
    exported = run_cli("suppress", "export", "--config", cfg)[1]
    assert f",'{formula}," in exported and f",{formula}," not in exported  # text in a spreadsheet
    other = config_copy(REPO / "config" / "gateway.toml", tmp_path, "other.toml")
    other.write_text(other.read_text().replace("gateway.db", "other.db"))
    (tmp_path / "out.csv").write_text(exported)
    assert run_cli("suppress", "import", str(tmp_path / "out.csv"), "--config", str(other))[0] == 0
    assert run_cli("suppress", "export", "--config", str(other))[1] == exported  # read back as itself


def test_import_of_a_file_that_is_not_there(cfg):
    code, _, err = run_cli("suppress", "import", "/no/such.csv", "--channel", "email", "--config", cfg)
    assert code == 2 and "cannot read" in err


def test_consent_add_show_revoke(cfg):
    code, out, _ = run_cli(
        "consent",
        "add",
        "+13055550123",
        "--channel",
        "sms",
        "--sender",
        "demo",
        "--level",
        "express_written",
        "--source",
        "web form",
        "--evidence",
        "checkbox v3, ip 203.0.113.9",
        "--config",
        cfg,
    )
    assert code == 0 and "recorded consent #1" in out
    shown = json.loads(
        run_cli("consent", "show", "+13055550123", "--channel", "sms", "--format", "json", "--config", cfg)[1]
    )
    assert shown["in_force"] == {"demo": "express_written", "global": "none"}
    assert shown["records"][0]["evidence"] == "checkbox v3, ip 203.0.113.9"
    assert (
        "revoked 1 consent record"
        in run_cli("consent", "revoke", "+13055550123", "--channel", "sms", "--config", cfg)[1]
    )
    table = run_cli(
        "consent", "show", "+13055550123", "--channel", "sms", "--sender", "demo", "--config", cfg
    )[1]
    assert "in force for demo: none" in table


def test_consent_add_needs_a_scope_and_a_known_level(cfg):
    code, _, err = run_cli(
        "consent", "add", "a@b.example", "--channel", "email", "--level", "express", "--config", cfg
    )
    assert code == 2 and "give --sender NAME" in err
    code, _, err = run_cli(
        "consent",
        "add",
        "a@b.example",
        "--channel",
        "email",
        "--sender",
        "demo",
        "--level",
        "maybe",
        "--config",
        cfg,
    )
    assert code == 2 and "invalid choice" in err


def test_hash_secret_reads_stdin_and_the_hash_verifies():
    proc = gw("hash-secret", stdin="correct horse battery staple\n")
    assert proc.returncode == 0
    assert verify_secret("correct horse battery staple", proc.stdout.strip())
    assert not verify_secret("wrong", proc.stdout.strip())
    assert gw("hash-secret", stdin="short\n").returncode == 2


def test_python_dash_m_and_help():
    proc = gw("--help")
    assert proc.returncode == 0 and "check" in proc.stdout and "suppress" in proc.stdout
    proc = gw()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_arguments_that_are_not_utf8_are_bad_input(cfg, tmp_path):
    """A shell passes bytes; Python hands those that are not UTF-8 on as lone surrogates."""
    not_utf8 = b"a\xff@example.com".decode("utf-8", "surrogateescape")
    for args in (
        ("suppress", "add", not_utf8, "--channel", "email", "--global", "--config", cfg),
        (
            "check",
            "--sms",
            "--sender",
            "demo",
            "--to",
            "+15005550006",
            "--body",
            "hi \udcff",
            "--config",
            cfg,
        ),
    ):
        code, _, err = run_cli(*args)
        assert code == 2 and "is not UTF-8 text" in err and "internal error" not in err, err
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "suppress",
            "add",
            b"b\xfe@example.com",
            "--channel",
            "email",
            "--global",
            "--config",
            cfg,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2 and "is not UTF-8 text" in proc.stderr, proc.stderr


def test_tables_show_what_senders_wrote_without_letting_it_drive_the_terminal(capsys):
    """A subject or address is the sender's: ESC sequences (clear the screen, hide what follows, set the
    title), a bare CR (rewrite the line) and direction overrides (an address that reads as another) are
    shown as escapes, never acted on."""
    from gateway.cli.common import print_table

    print_table(["subject"], [["Sale\x1b[2J\x1b[8m hidden"], ["a\rb"], ["rtl\u202emoc.live@example.com"]])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out and "a\\rb" in out and "rtl\\u202emoc" in out


def test_suppress_list_refuses_what_it_cannot_mean(cfg):
    for extra in (["--limit", "0"], ["--limit", "-1"], ["--address", "not-an-address"]):
        code, _, err = run_cli("suppress", "list", *extra, "--config", cfg)
        assert code == 2 and err.strip() and "Traceback" not in err, (extra, err)


def test_a_time_past_the_last_year_is_a_usage_error(cfg):
    code, _, err = run_cli(
        "check", "--sms", "--sender", "demo", "--to", "+13055550123", "--body", "hi",
        "--at", "9999-12-31T23:59:59-05:00", "--config", cfg,
    )  # fmt: skip
    assert code == 2 and "years 1000 to 8999" in err and "Traceback" not in err, err
