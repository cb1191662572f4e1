"""The configuration as the rest of the gateway reads it: plain frozen values, made by `gateway.config.parse`
from TOML (every key checked there)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..model import Mode
from ..policy.disposition import ALWAYS_REFUSED, Disposition
from ..policy.settings import Policy, SenderSettings
from ..throttle import Limits


@dataclass(frozen=True)
class SmtpConfig:
    listen: tuple[str, int] = ("127.0.0.1", 2525)
    smtps_listen: tuple[str, int] | None = None  # implicit TLS (RFC 8314, port 465); needs tls_cert
    upstream: str = "maildir:var/outbox"
    trusted_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    trusted_sender: str | None = None
    add_list_unsubscribe: bool = True
    repair_list_unsubscribe: bool = True  # a client's incomplete List-Unsubscribe completed (False: refused)
    hostname: str = "localhost"
    max_message_size: int = 25 * 1024 * 1024
    tls_cert: str | None = None
    tls_key: str | None = None
    allow_plaintext_auth: bool | None = None  # None: only on loopback
    upstream_password_env: str | None = None
    upstream_timeout: float = 30.0
    upstream_data_timeout: float = 600.0  # the final dot's answer: RFC 5321 4.5.3.2.6
    upstream_pool_size: int = 20
    upstream_verify_tls: bool = True
    unsubscribe_address: str | None = None
    bounce_address: str | None = None
    workers: int = 1
    drain_seconds: float = 30.0
    bare_newlines: str = "refuse"  # or "normalize": bare CR / LF in DATA made CRLF before judging
    banner: str = "ESMTP compliance gateway"  # the greeting's text after the host name
    # limits on what one client may use (docs/smtp.md#limits); connections per worker process are these
    # divided by `workers`, rounded up
    max_connections: int = 1000
    max_connections_per_client: int = 100
    session_timeout: float = 3600.0  # a whole session, seconds
    max_commands: int = 10_000  # per session
    idle_timeout: float = 300.0  # waiting for a command; NOOP, RSET, HELP, VRFY and EXPN do not reset it
    data_timeout: float = 600.0  # a whole DATA section
    data_idle_timeout: float = 120.0  # no DATA bytes for this long
    max_recipients: int = 1000  # per message
    upstream_hold_timeout: float = 10.0  # a pooled upstream connection held for a slow client
    queue: bool = False  # 250 once a message is on the queue's disk, relayed after it (mail/queue.py)
    queue_retry_seconds: int = 60  # the first retry of a deferred message; then as long as it has waited
    queue_lifetime_hours: int = 120  # a message not taken by then is returned to its sender (a DSN)
    queue_max_messages: int = 10_000  # per process; beyond it, mail is relayed as without the queue
    retry_window_hours: int = 24  # a message (by Message-ID) relayed within it is not relayed again; 0: off
    # mail to the gateway's own addresses (docs/optouts.md)
    bounce_domain: str | None = None  # set: marketing mail leaves with a signed per-recipient return path
    dns_resolver: tuple[str, int] | None = None  # for DKIM and SPF; None: the system's resolver
    trust_unauthenticated_opt_outs: bool = False  # an unsubscribe mail whose From is not authenticated

    @property
    def plaintext_auth(self) -> bool:
        """Whether AUTH may be used before STARTTLS."""
        return self.listens_on_loopback if self.allow_plaintext_auth is None else self.allow_plaintext_auth

    @property
    def listens_on_loopback(self) -> bool:
        host = self.listen[0]
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class SmsConfig:
    provider: str = "outbox"  # or "twilio"
    account_sid: str | None = None  # the gateway's own Twilio account (the provider's, not a sender's)
    account_sid_env: str = "TWILIO_ACCOUNT_SID"
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    base_url: str = "https://api.twilio.com"
    timeout: float = 10.0
    retry_after: int = 30  # seconds a client is told to wait when the provider fails
    inbound_url: str | None = None  # the webhook URL Twilio signs; default: public_url + the path
    status_url: str | None = None  # the status callback URL given to Twilio; default: public_url + the path
    status_callbacks: bool = True  # ask the provider for status callbacks on texts whose client asked none


@dataclass(frozen=True)
class Sender:
    settings: SenderSettings
    smtp_username: str | None = None
    smtp_password_env: str | None = None
    smtp_password_hash: str | None = None
    api_key_env: str | None = None
    api_key_hash: str | None = None
    sms_from: tuple[str, ...] = ()
    twilio_account_sid: str | None = None
    # a Twilio API key (Client(api_key_sid, api_key_secret, account_sid), as Twilio recommends)
    twilio_api_key_sid: str | None = None
    twilio_api_key_secret_env: str | None = None
    twilio_api_key_secret_hash: str | None = None
    messaging_service_sid: str | None = None
    status_callback_hosts: tuple[str, ...] = ()  # hosts its StatusCallback URLs may name; () any public one
    defer_quiet_hours: bool = False
    dkim_selector: str | None = None
    dkim_domain: str | None = None  # default: the first of from_domains
    dkim_key_file: str | None = None  # PEM private key (a file: keys never live in this config)
    dkim_key_env: str | None = None  # or the PEM itself in this environment variable

    @property
    def name(self) -> str:
        return self.settings.name


@dataclass(frozen=True)
class Config:
    path: str
    mode: Mode = Mode.ENFORCE
    monitor_refuses: frozenset[str] = ALWAYS_REFUSED  # codes refused even in monitor mode
    database: str = "sqlite:///var/gateway.db"
    public_url: str = "http://127.0.0.1:8025"
    token_secret_env: str = "GATEWAY_TOKEN_SECRET"
    token_secret_file: str | None = None
    state_dir: str = "var"
    retention_days: int | None = None  # decisions older than this are deleted; None: kept
    unsubscribe_link_days: int = 180  # a token older than this asks the person to type their address
    disk_reserve_mb: int = 64  # under this free in state_dir or the SQLite file's directory: no relaying
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    http_listen: tuple[str, int] = ("127.0.0.1", 8025)
    sms: SmsConfig = field(default_factory=SmsConfig)
    ops_api_key_env: str | None = "GATEWAY_OPS_KEY"
    ops_api_key_hash: str | None = None
    auth_limits: Limits = field(default_factory=Limits)  # guessing credentials ([auth], throttle.py)
    policy: Policy = field(default_factory=Policy)
    senders: dict[str, Sender] = field(default_factory=dict)

    def sender(self, name: str) -> Sender:
        try:
            return self.senders[name]
        except KeyError:
            known = ", ".join(self.senders) or "none configured"
            raise KeyError(f"unknown sender {name!r} (known: {known})") from None

    def mode_for(self, sender: str) -> Mode:
        own = self.senders[sender].settings.mode if sender in self.senders else None
        return own or self.mode

    def disposition(self, sender: str) -> Disposition:
        """What becomes of this sender's messages that break a rule (the same for mail and texts)."""
        return Disposition(self.mode_for(sender), self.monitor_refuses)
