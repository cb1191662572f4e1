"""Loading and validating `gateway.toml`.

Every key is checked: an unknown key, a wrong type or a bad value raises `ConfigError`, whose text is one
line naming the file, the key and the problem. Secrets are never read from the file itself: it names an
environment variable (`*_env`) or holds a scrypt hash (`*_hash`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from ..model import Category, Channel, Mode
from ..policy.disposition import ALWAYS_REFUSED
from ..policy.regimes import REGIMES
from ..policy.settings import (
    DEFAULT_AD_LABELS,
    DEFAULT_PROMOTIONAL_SUBJECT,
    DEFAULT_URL_SHORTENERS,
    FrequencyCap,
    Policy,
    SenderSettings,
)
from ..throttle import Limits
from .checks import (
    ConfigError,
    _account_sid,
    _api_key_sid,
    _banner,
    _boolean,
    _choice,
    _choice_str,
    _cidr,
    _consent_level,
    _database,
    _dkim_selector,
    _domain,
    _domain_or_localhost,
    _e164,
    _email_consent,
    _env_name,
    _integer,
    _list_of,
    _listen,
    _mailbox,
    _nameserver,
    _nonempty,
    _regex,
    _secret_hash,
    _Section,
    _sender_name,
    _service_sid,
    _upstream,
    _url,
    _violation_code,
)
from .law import configured_law
from .model import Config, Sender, SmsConfig, SmtpConfig

DEFAULT_PATH = "config/gateway.toml"
__all__ = ["DEFAULT_PATH", "Config", "ConfigError", "Sender", "SmsConfig", "SmtpConfig", "load", "parse"]


def _policy(p: _Section, add_list_unsubscribe: bool, repair_list_unsubscribe: bool = True) -> Policy:
    consent = dict(Policy().consent_required)
    c = p.table("consent")
    for channel in Channel:
        for category in Category:
            key = f"{channel.value}_{category.value}"
            consent[(channel, category)] = c.take(key, _consent_level, consent[(channel, category)])
    c.done()

    hours, duties, blackouts = configured_law(p)

    cap = None
    cap_table = p.data.get("frequency_cap")
    f = p.table("frequency_cap")
    if cap_table is not None:
        cap = FrequencyCap(f.take("max", _integer(0, 10_000)), f.take("hours", _integer(1, 24 * 366)))
    f.done()

    policy = Policy(
        ad_label_phrases=p.take("ad_label_phrases", _list_of(_nonempty), DEFAULT_AD_LABELS),
        promotional_subject_patterns=p.take(
            "promotional_subject_patterns", _list_of(_regex), DEFAULT_PROMOTIONAL_SUBJECT
        ),
        deceptive_subject_patterns=p.take("deceptive_subject_patterns", _list_of(_regex), ()),
        url_shorteners=tuple(d for d in p.take("url_shorteners", _list_of(_domain), DEFAULT_URL_SHORTENERS)),
        banned_terms=p.take("banned_terms", _list_of(_nonempty), ()),
        hours=hours,
        duties=duties,
        blackouts=blackouts,
        frequency_cap=cap,
        consent_required=consent,
        brand_required_categories=frozenset(
            p.take("brand_required_categories", _list_of(_choice(Category)), tuple(Category))
        ),
        gateway_adds_list_unsubscribe=add_list_unsubscribe,
        gateway_repairs_list_unsubscribe=repair_list_unsubscribe,
        allow_example_domains=p.take("allow_example_domains", _boolean, True),
    )
    p.done()
    return policy


def _sender(s: _Section) -> Sender:
    category = s.take("category", _choice(Category), Category.MARKETING)
    settings = SenderSettings(
        name=s.take("name", _sender_name),
        brand=s.take("brand", _nonempty),
        brand_aliases=s.take("brand_aliases", _list_of(_nonempty), ()),
        physical_address=s.take("physical_address", _nonempty, None),
        from_domains=s.take("from_domains", _list_of(_domain, unique=True), ()),
        category=category,
        allowed_categories=frozenset(
            s.take("allowed_categories", _list_of(_choice(Category), unique=True), tuple(Category))
        ),
        email_consent_required=s.take("email_consent_required", _email_consent, None),
        email_consent_categories=frozenset(
            s.take("email_consent_categories", _list_of(_choice(Category)), (Category.MARKETING,))
        ),
        sexually_explicit=s.take("sexually_explicit", _boolean, False),
        mode=s.take("mode", _choice(Mode), None),
        help_text=s.take("help_text", _nonempty, ""),
        regimes=frozenset(s.take("regimes", _list_of(_choice_str(REGIMES), unique=True), ("US",))),
    )
    sender = Sender(
        settings=settings,
        smtp_username=s.take("smtp_username", _nonempty, None),
        smtp_password_env=s.take("smtp_password_env", _env_name, None),
        smtp_password_hash=s.take("smtp_password_hash", _secret_hash, None),
        api_key_env=s.take("api_key_env", _env_name, None),
        api_key_hash=s.take("api_key_hash", _secret_hash, None),
        sms_from=s.take("sms_from", _list_of(_e164, unique=True), ()),
        twilio_account_sid=s.take("twilio_account_sid", _account_sid, None),
        twilio_api_key_sid=s.take("twilio_api_key_sid", _api_key_sid, None),
        twilio_api_key_secret_env=s.take("twilio_api_key_secret_env", _env_name, None),
        twilio_api_key_secret_hash=s.take("twilio_api_key_secret_hash", _secret_hash, None),
        messaging_service_sid=s.take("messaging_service_sid", _service_sid, None),
        status_callback_hosts=s.take("status_callback_hosts", _list_of(_domain, unique=True), ()),
        defer_quiet_hours=s.take("defer_quiet_hours", _boolean, False),
        dkim_selector=s.take("dkim_selector", _dkim_selector, None),
        dkim_domain=s.take("dkim_domain", _domain, None),
        dkim_key_file=s.take("dkim_key_file", _nonempty, None),
        dkim_key_env=s.take("dkim_key_env", _env_name, None),
    )
    s.done()
    if sender.dkim_selector and not (sender.dkim_key_file or sender.dkim_key_env):
        raise ConfigError(s.file, s.key("dkim_key_file"), "dkim_selector needs dkim_key_file or dkim_key_env")
    if (sender.dkim_key_file or sender.dkim_key_env) and not sender.dkim_selector:
        raise ConfigError(s.file, s.key("dkim_selector"), "required with a DKIM key")
    if sender.dkim_key_file and sender.dkim_key_env:
        raise ConfigError(s.file, s.key("dkim_key_env"), "give dkim_key_file or dkim_key_env, not both")
    if sender.dkim_selector and not sender.dkim_domain:
        if not settings.from_domains:
            raise ConfigError(s.file, s.key("dkim_domain"), "required when the sender has no from_domains")
        sender = replace(sender, dkim_domain=settings.from_domains[0])
    if sender.smtp_password_env and sender.smtp_password_hash:
        raise ConfigError(
            s.file, s.key("smtp_password_hash"), "give smtp_password_env or smtp_password_hash, not both"
        )
    if sender.api_key_env and sender.api_key_hash:
        raise ConfigError(s.file, s.key("api_key_hash"), "give api_key_env or api_key_hash, not both")
    secret = (sender.twilio_api_key_secret_env, sender.twilio_api_key_secret_hash)
    if sender.twilio_api_key_sid and (not sender.twilio_account_sid or secret.count(None) != 1):
        raise ConfigError(
            s.file,
            s.key("twilio_api_key_sid"),
            "needs twilio_account_sid and one of twilio_api_key_secret_env or twilio_api_key_secret_hash",
        )
    if any(secret) and not sender.twilio_api_key_sid:
        raise ConfigError(s.file, s.key("twilio_api_key_sid"), "required with a Twilio API key secret")
    if (sender.smtp_password_env or sender.smtp_password_hash) and not sender.smtp_username:
        raise ConfigError(s.file, s.key("smtp_username"), "required when an SMTP password is configured")
    if category not in settings.allowed_categories:
        raise ConfigError(s.file, s.key("category"), f"{category.value!r} is not in allowed_categories")
    return sender


def _unique(file: str, senders: list[Sender], attr: str) -> None:
    seen: dict[str, str] = {}
    for i, sender in enumerate(senders):
        value = sender.name if attr == "name" else getattr(sender, attr)
        for one in value if isinstance(value, tuple) else () if value is None else (value,):
            if one in seen:
                raise ConfigError(
                    file, f"sender[{i + 1}].{attr}", f"{one!r} is already used by sender {seen[one]!r}"
                )
            seen[one] = sender.name


def parse(data: dict, file: str) -> Config:
    root = _Section(file, "", data)
    g = root.table("gateway")
    mode = g.take("mode", _choice(Mode), Mode.ENFORCE)
    monitor_refuses = ALWAYS_REFUSED | frozenset(g.take("monitor_refuses", _list_of(_violation_code), ()))
    database = g.take("database", _database, "sqlite:///var/gateway.db")
    public_url = g.take("public_url", _url(("http", "https")), "http://127.0.0.1:8025")
    token_secret_env = g.take("token_secret_env", _env_name, "GATEWAY_TOKEN_SECRET")
    token_secret_file = g.take("token_secret_file", _nonempty, None)
    state_dir = g.take("state_dir", _nonempty, "var")
    retention_days = g.take("retention_days", _integer(1, 36_500), None)
    disk_reserve_mb = g.take("disk_reserve_mb", _integer(0, 1_000_000), 64)
    unsubscribe_link_days = g.take("unsubscribe_link_days", _integer(60, 36_500), 180)
    g.done()

    sm = root.table("smtp")
    smtp = SmtpConfig(
        listen=sm.take("listen", _listen, ("127.0.0.1", 2525)),
        smtps_listen=sm.take("smtps_listen", _listen, None),
        upstream=sm.take("upstream", _upstream, "maildir:var/outbox"),
        trusted_networks=sm.take("trusted_networks", _list_of(_cidr), ()),
        trusted_sender=sm.take("trusted_sender", _sender_name, None),
        add_list_unsubscribe=sm.take("add_list_unsubscribe", _boolean, True),
        repair_list_unsubscribe=sm.take("repair_list_unsubscribe", _boolean, True),
        hostname=sm.take("hostname", _domain_or_localhost, "localhost"),
        max_message_size=sm.take("max_message_size", _integer(1024, 1024 * 1024 * 1024), 25 * 1024 * 1024),
        tls_cert=sm.take("tls_cert", _nonempty, None),
        tls_key=sm.take("tls_key", _nonempty, None),
        allow_plaintext_auth=sm.take("allow_plaintext_auth", _boolean, None),
        upstream_password_env=sm.take("upstream_password_env", _env_name, None),
        upstream_timeout=float(sm.take("upstream_timeout", _integer(1, 3600), 30)),
        upstream_data_timeout=float(sm.take("upstream_data_timeout", _integer(1, 3600), 600)),
        upstream_pool_size=sm.take("upstream_pool_size", _integer(1, 1000), 20),
        upstream_verify_tls=sm.take("upstream_verify_tls", _boolean, True),
        unsubscribe_address=sm.take("unsubscribe_address", _mailbox, None),
        bounce_address=sm.take("bounce_address", _mailbox, None),
        workers=sm.take("workers", _integer(1, 64), 1),
        drain_seconds=float(sm.take("drain_seconds", _integer(0, 3600), 30)),
        bare_newlines=sm.take("bare_newlines", _choice_str(("refuse", "normalize")), "refuse"),
        banner=sm.take("banner", _banner, "ESMTP compliance gateway"),
        max_connections=sm.take("max_connections", _integer(1, 1_000_000), 1000),
        max_connections_per_client=sm.take("max_connections_per_client", _integer(1, 1_000_000), 100),
        session_timeout=float(sm.take("session_timeout", _integer(1, 86_400), 3600)),
        max_commands=sm.take("max_commands", _integer(10, 10_000_000), 10_000),
        idle_timeout=float(sm.take("idle_timeout", _integer(1, 3600), 300)),
        data_timeout=float(sm.take("data_timeout", _integer(1, 86_400), 600)),
        data_idle_timeout=float(sm.take("data_idle_timeout", _integer(1, 3600), 120)),
        max_recipients=sm.take("max_recipients", _integer(100, 1_000_000), 1000),
        upstream_hold_timeout=float(sm.take("upstream_hold_timeout", _integer(1, 3600), 10)),
        retry_window_hours=sm.take("retry_window_hours", _integer(0, 24 * 30), 24),
        queue=sm.take("queue", _boolean, False),
        queue_retry_seconds=sm.take("queue_retry_seconds", _integer(1, 3600), 60),
        queue_lifetime_hours=sm.take("queue_lifetime_hours", _integer(1, 24 * 30), 120),
        queue_max_messages=sm.take("queue_max_messages", _integer(1, 10_000_000), 10_000),
        bounce_domain=sm.take("bounce_domain", _domain_or_localhost, None),
        dns_resolver=sm.take("dns_resolver", _nameserver, None),
        trust_unauthenticated_opt_outs=sm.take("trust_unauthenticated_opt_outs", _boolean, False),
    )
    sm.done()
    if bool(smtp.tls_cert) != bool(smtp.tls_key):
        raise ConfigError(
            file, "smtp.tls_key" if smtp.tls_cert else "smtp.tls_cert", "tls_cert and tls_key go together"
        )
    if smtp.smtps_listen is not None and not smtp.tls_cert:
        raise ConfigError(file, "smtp.smtps_listen", "needs smtp.tls_cert and smtp.tls_key: implicit TLS")
    if smtp.allow_plaintext_auth is False and not smtp.tls_cert:
        raise ConfigError(
            file, "smtp.allow_plaintext_auth", "false needs smtp.tls_cert: no client could AUTH"
        )
    if "@" in urlsplit(smtp.upstream).netloc and urlsplit(smtp.upstream).password:
        raise ConfigError(file, "smtp.upstream", "holds a password: put it in upstream_password_env instead")
    h = root.table("http")
    http_listen = h.take("listen", _listen, ("127.0.0.1", 8025))
    h.done()
    sm = root.table("sms")
    sms = SmsConfig(
        provider=sm.take("provider", _choice_str(("outbox", "twilio")), "outbox"),
        account_sid=sm.take("account_sid", _account_sid, None),
        account_sid_env=sm.take("account_sid_env", _env_name, "TWILIO_ACCOUNT_SID"),
        auth_token_env=sm.take("auth_token_env", _env_name, "TWILIO_AUTH_TOKEN"),
        base_url=sm.take("base_url", _url(("http", "https")), "https://api.twilio.com"),
        timeout=float(sm.take("timeout", _integer(1, 300), 10)),
        retry_after=sm.take("retry_after", _integer(1, 86_400), 30),
        inbound_url=sm.take("inbound_url", _url(("http", "https")), None),
        status_url=sm.take("status_url", _url(("http", "https")), None),
        status_callbacks=sm.take("status_callbacks", _boolean, True),
    )
    sm.done()
    ops = root.table("ops")
    ops_env = ops.take("api_key_env", _env_name, None)
    ops_hash = ops.take("api_key_hash", _secret_hash, None)
    ops.done()
    if ops_env and ops_hash:
        raise ConfigError(file, "ops.api_key_hash", "give api_key_env or api_key_hash, not both")
    if not ops_env and not ops_hash:
        ops_env = "GATEWAY_OPS_KEY"

    a = root.table("auth")
    auth_limits = Limits(
        failure_delay=a.take("failure_delay_ms", _integer(0, 60_000), 250) / 1000,
        max_failure_delay=a.take("max_failure_delay_ms", _integer(0, 600_000), 4000) / 1000,
        block_after=a.take("block_after", _integer(1, 1_000_000), 10),
        block_after_per_user=a.take("block_after_per_user", _integer(1, 1_000_000), 30),
        block_minutes=float(a.take("block_minutes", _integer(1, 10_080), 15)),
    )
    a.done()
    policy = _policy(root.table("policy"), smtp.add_list_unsubscribe, smtp.repair_list_unsubscribe)
    senders = [
        _sender(_Section(file, f"sender[{i + 1}]", raw))
        for i, raw in enumerate(root.take("sender", _list_of(lambda v: v), ()))
    ]
    root.done()
    # one sender per number: a STOP texted to a number is that sender's opt-out (twilio_inbound.py), and
    # a number two senders shared would leave the other one sending to the person who said STOP
    for attr in ("name", "smtp_username", "twilio_account_sid", "twilio_api_key_sid", "sms_from"):
        _unique(file, senders, attr)
    names = [s.name for s in senders]
    if smtp.trusted_sender is not None and smtp.trusted_sender not in names:
        raise ConfigError(file, "smtp.trusted_sender", f"{smtp.trusted_sender!r} is not a configured sender")
    if smtp.trusted_networks and smtp.trusted_sender is None and len(names) != 1:
        raise ConfigError(
            file,
            "smtp.trusted_sender",
            "required with trusted_networks: name the sender that unauthenticated mail is sent as",
        )
    return Config(
        path=file,
        mode=mode,
        monitor_refuses=monitor_refuses,
        database=database,
        public_url=public_url,
        token_secret_env=token_secret_env,
        token_secret_file=token_secret_file,
        state_dir=state_dir,
        retention_days=retention_days,
        disk_reserve_mb=disk_reserve_mb,
        unsubscribe_link_days=unsubscribe_link_days,
        smtp=smtp,
        http_listen=http_listen,
        sms=sms,
        ops_api_key_env=ops_env,
        ops_api_key_hash=ops_hash,
        auth_limits=auth_limits,
        policy=policy,
        senders={s.name: s for s in senders},
    )


def config_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("GATEWAY_CONFIG") or DEFAULT_PATH


def load(path: str | None = None) -> Config:
    file = config_path(path)
    try:
        raw = Path(file).read_bytes()
    except FileNotFoundError:
        raise ConfigError(file, "", "no such file (give --config PATH or set GATEWAY_CONFIG)") from None
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(file, "", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"invalid TOML: {exc}") from None
    return parse(data, file)
