"""Config loading: the shipped files load; every mistake is one line naming file, key and problem, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import REPO, run_cli

from gateway import config as config_module
from gateway.config import ConfigError
from gateway.config.law import shipped_law
from gateway.model import Category, Mode

GOOD_SENDER = """
[[sender]]
name = "acme"
brand = "Acme"
from_domains = ["acme.example"]
"""


def load_text(tmp_path, text: str):
    path = tmp_path / "g.toml"
    path.write_text(text)
    return config_module.load(str(path))


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "g.toml"))
    return message


@pytest.mark.parametrize(
    "path",
    [REPO / "config" / "gateway.toml", *sorted((REPO / "config" / "examples").glob("*.toml"))],
    ids=lambda p: p.name,
)
def test_shipped_configs_load(path):
    config = config_module.load(str(path))
    assert config.senders


def test_shipped_config_has_a_working_demo_sender():
    config = config_module.load(str(REPO / "config" / "gateway.toml"))
    demo = config.senders["demo"]
    assert demo.settings.physical_address and demo.settings.from_domains and demo.smtp_password_hash
    assert config.database == "sqlite:///var/gateway.db" and config.smtp.upstream == "maildir:var/outbox"


def test_defaults_when_sections_are_absent(tmp_path):
    config = load_text(tmp_path, GOOD_SENDER)
    assert config.mode is Mode.ENFORCE and config.smtp.listen == ("127.0.0.1", 2525)
    assert config.senders["acme"].settings.allowed_categories == frozenset(Category)
    names = [r.name for r in config.policy.hours]
    assert names[0] == "federal" and set(names) == set(shipped_law())  # every shipped file, federal first
    assert {"CT", "FL", "MD", "OK", "OR", "TX", "WA"} <= set(names)


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("[gateway]\nmodee = 'enforce'\n", "gateway.modee", "unknown key (did you mean 'mode'?)"),
        ("[gateway]\nmode = 'block'\n", "gateway.mode", "'block' is not one of enforce, monitor"),
        ("[gateway]\nmode = 3\n", "gateway.mode", "expected a string, got an integer"),
        ("[smtp]\ntrusted_networks = ['10.0.0.0/33']\n", "smtp.trusted_networks", "is not a CIDR network"),
        (
            "[smtp]\ntrusted_networks = '10.0.0.0/8'\n",
            "smtp.trusted_networks",
            "expected a list, got a string",
        ),
        ("[smtp]\nlisten = '127.0.0.1'\n", "smtp.listen", "is not host:port"),
        ("[smtp]\nlisten = '127.0.0.1:70000'\n", "smtp.listen", "out of range"),
        ("[smtp]\nupstream = 'ftp://x'\n", "smtp.upstream", "is not an upstream"),
        ("[gateway]\ndatabase = 'mysql://x'\n", "gateway.database", "is not a database URL"),
        ("[policy.sms_hours]\nstart = '8am'\n", "policy.sms_hours.start", "is not a time of day"),
        ("[policy.sms_hours]\nend = '25:00'\n", "policy.sms_hours.end", "is not a time of day"),
        (
            "[policy]\ndeceptive_subject_patterns = ['(unclosed']\n",
            "policy.deceptive_subject_patterns",
            "is not a valid regular expression",
        ),
        (
            "[policy.consent]\nsms_marketing = 'verbal'\n",
            "policy.consent.sms_marketing",
            "unknown consent level",
        ),
        (
            "[[policy.state]]\nname = 'NV'\narea_codes = ['7O2']\nwindows = [{start='08:00', end='20:00'}]\n",
            "policy.state[1].area_codes",
            "is not a North American area code",
        ),
        (
            "[[policy.state]]\nname = 'NV'\nwindows = [{start='08:00', end='20:00', days='funday'}]\n",
            "policy.state[1].windows[1].days",
            "is not a day",
        ),
        ("[[sender]]\nname = 'a'\n", "sender[1].brand", "required key is missing"),
        ("[[sender]]\nname = 'Acme Corp'\nbrand = 'A'\n", "sender[1].name", "must be lower-case"),
        (
            "[[sender]]\nname = 'a'\nbrand = 'A'\nsmtp_password = 'hunter2'\n",
            "sender[1].smtp_password",
            "unknown key (did you mean 'smtp_password_env'?)",
        ),
        (
            "[[sender]]\nname = 'a'\nbrand = 'A'\nsmtp_username = 'a'\nsmtp_password_hash = 'hunter2'\n",
            "sender[1].smtp_password_hash",
            "is not a scrypt hash",
        ),
        ("[[sender]]\nname = 'a'\nbrand = 'A'\nsms_from = ['5005550006']\n", "sender[1].sms_from", "E.164"),
        (
            "[[sender]]\nname = 'a'\nbrand = 'A'\ncategory = 'marketing'\nallowed_categories = ['transactional']\n",
            "sender[1].category",
            "is not in allowed_categories",
        ),
        (
            "[[sender]]\nname = 'a'\nbrand = 'A'\n[[sender]]\nname = 'a'\nbrand = 'B'\n",
            "sender[2].name",
            "already used by sender 'a'",
        ),
        (  # a STOP to a shared number would opt out of one of them only
            "[[sender]]\nname = 'a'\nbrand = 'A'\nsms_from = ['+15005550006']\n"
            "[[sender]]\nname = 'b'\nbrand = 'B'\nsms_from = ['+15005550007', '+15005550006']\n",
            "sender[2].sms_from",
            "'+15005550006' is already used by sender 'a'",
        ),
        (
            "[[sender]]\nname = 'a'\nbrand = 'A'\ntwilio_account_sid = 'AC123'\n",
            "sender[1].twilio_account_sid",
            "is not a Twilio account SID",
        ),
        (
            f"[[sender]]\nname = 'a'\nbrand = 'A'\ntwilio_api_key_sid = 'SK{'0' * 32}'\n",
            "sender[1].twilio_api_key_sid",
            "needs twilio_account_sid and one of twilio_api_key_secret_env",
        ),
        (
            "[[sender]]\nname = 'a'\nbrand = 'A'\ntwilio_api_key_sid = 'AK1'\n",
            "sender[1].twilio_api_key_sid",
            "is not a Twilio API key SID",
        ),
        (
            "[[sender]]\nname = 'a'\nbrand = 'A'\ntwilio_api_key_secret_env = 'X'\n",
            "sender[1].twilio_api_key_sid",
            "required with a Twilio API key secret",
        ),
        (
            "[smtp]\nsmtps_listen = '127.0.0.1:4650'\n",
            "smtp.smtps_listen",
            "needs smtp.tls_cert",
        ),
        (
            "[smtp]\ndns_resolver = 'dns.example:53'\n",
            "smtp.dns_resolver",
            "is not an IP address",
        ),
        (
            "[auth]\nblock_after = 0\n",
            "auth.block_after",
            "",
        ),
        (
            "[[sender]]\nname = 'a'\nbrand = 'A'\nfrom_domains = ['not a domain']\n",
            "sender[1].from_domains",
            "is not a domain name",
        ),
        (
            "[ops]\napi_key_env = 'A'\napi_key_hash = 'scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='\n",
            "ops.api_key_hash",
            "not both",
        ),
    ],
)
def test_mistakes_name_file_key_and_problem(tmp_path, text, key, problem):
    message = error_of(tmp_path, text)
    assert f": {key}: " in message and problem in message, message


def test_syntax_errors_and_missing_files(tmp_path):
    assert "invalid TOML" in error_of(tmp_path, "[gateway\nmode = 1")
    with pytest.raises(ConfigError, match="no such file"):
        config_module.load(str(tmp_path / "absent.toml"))
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        config_module.load(str(tmp_path / "bin.toml"))


def test_secrets_are_never_required_in_plain_text(tmp_path):
    config = load_text(
        tmp_path,
        GOOD_SENDER + "smtp_username = 'acme'\nsmtp_password_env = 'ACME_PW'\napi_key_env = 'ACME_KEY'\n",
    )
    sender = config.senders["acme"]
    assert sender.smtp_password_env == "ACME_PW" and sender.api_key_env == "ACME_KEY"


def test_bad_config_from_the_command_line_is_one_line_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[smtp]\ntrusted_networks = ['300.1.1.0/24']\n" + GOOD_SENDER)
    eml = REPO / "config" / "samples" / "newsletter.eml"
    proc = subprocess.run(
        [sys.executable, "-m", "gateway", "check", "--config", str(bad), "--sender", "acme", str(eml)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"{bad}: smtp.trusted_networks: item 1: '300.1.1.0/24' is not a CIDR network" in proc.stderr


def test_gateway_config_environment_variable_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "env.toml"
    path.write_text("[gateway]\nmode = 'loud'\n")
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    code, _, err = run_cli("suppress", "list")
    assert code == 2 and f"{path}: gateway.mode:" in err
