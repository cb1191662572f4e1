"""`gateway serve`: the listeners, their shared parts, and an orderly stop.

SIGTERM (or SIGINT): stop accepting connections, let open transactions finish (up to
smtp.drain_seconds), tell idle clients 421, write the last decisions, close the store. With
smtp.workers > 1 the parent forks that many processes sharing the port (SO_REUSEPORT) and passes
signals on to them.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import os
import signal
import ssl
import sys
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import recovery
from .config import Config
from .content import scan
from .credentials import Credentials
from .decisions import DecisionLog
from .http import HttpContext, HttpDoor, twilio_inbound
from .lists import Lists
from .mail.engine import Delivery, EmailEngine
from .mail.queue import MailQueue, make_queue
from .mail.reserve import DiskReserve
from .mail.sending import Safekeeping
from .mail.signing import DkimError, DkimSigners
from .mail.spool import SpoolError
from .mail.upstream import MaildirRelay, Relay
from .metrics import Metrics
from .metrics import prepare as prepare_metrics
from .recovery import SETTLE_EVERY, RecoveryError, settle_stale_intents, settle_worker
from .secrets import verify_secret
from .sms import SmsService, make_provider
from .sms.held import HeldTexts
from .sms.providers import twilio_credentials
from .smtp import dots, private
from .smtp.auth import Collector
from .smtp.handler import GatewayHandler
from .smtp.limits import SessionLimits
from .smtp.protocol import GatewaySMTP
from .smtp.relay import SmtpRelay, UpstreamSettings
from .store import StoreError, open_store
from .store.sqlite_schema import sqlite_path
from .tokens import TokenSigner
from .workers import StateInUse, hold_sqlite_file, hold_state_dir, supervise

log = logging.getLogger("gateway")

DEMO_SECRETS = ("demo-smtp-password", "demo-api-key-0123456789", "demo-ops-key-0123456789")


class ServeError(Exception):
    """The gateway will not start as configured; the message says why and what to change."""


def check_exposure(config: Config) -> None:
    """Refuse set-ups that would expose credentials: demo secrets or plain-text AUTH beyond loopback."""
    smtp = config.smtp
    if smtp.listens_on_loopback and _loopback(config.http_listen[0]):
        return
    secrets = [("ops", config.ops_api_key_hash, config.ops_api_key_env)]
    for sender in config.senders.values():
        secrets.append((f"sender {sender.name!r}", sender.smtp_password_hash, sender.smtp_password_env))
        secrets.append((f"sender {sender.name!r}", sender.api_key_hash, sender.api_key_env))
    for who, stored, env in secrets:
        given = os.environ.get(env) if env else None
        if (stored and any(verify_secret(demo, stored) for demo in DEMO_SECRETS)) or given in DEMO_SECRETS:
            raise ServeError(
                f"{config.path}: {who} still has a demo credential; replace it (gateway hash-secret, or "
                "the environment variable it names) before listening beyond loopback"
            )
    if not smtp.listens_on_loopback and not smtp.tls_cert and not smtp.allow_plaintext_auth:
        raise ServeError(
            f"{config.path}: smtp.listen {smtp.listen[0]} is beyond loopback but no smtp.tls_cert is "
            "set: AUTH would cross the network in plain text (set tls_cert/tls_key, or "
            "allow_plaintext_auth = true behind a TLS-terminating proxy)"
        )


def warn_plain_links(config: Config) -> None:
    """Unsubscribe links over http reach people only on this machine, and mailbox providers want https
    for one-click (Gmail's and Yahoo's bulk-sender rules): said at start, once."""
    url = urlsplit(config.public_url)
    if url.scheme == "http" and not _loopback(url.hostname or ""):
        log.warning(
            "gateway.public_url %s is http: the unsubscribe links in relayed mail are not https, which Gmail "
            "and Yahoo require for one-click unsubscribe; put the gateway behind https and set public_url",
            config.public_url,
        )


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_relay(config: Config) -> Relay:
    upstream = config.smtp.upstream
    if upstream.startswith("maildir:"):
        return MaildirRelay(upstream[len("maildir:") :])
    password = (
        os.environ.get(config.smtp.upstream_password_env) if config.smtp.upstream_password_env else None
    )
    return SmtpRelay(
        UpstreamSettings.from_url(
            upstream,
            password=password,
            timeout=config.smtp.upstream_timeout,
            data_timeout=config.smtp.upstream_data_timeout,
            pool_size=config.smtp.upstream_pool_size,
            local_hostname=config.smtp.hostname,
            verify_tls=config.smtp.upstream_verify_tls,
        )
    )


def tls_context(config: Config) -> ssl.SSLContext | None:
    if not config.smtp.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.smtp.tls_cert, config.smtp.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ServeError(f"{config.path}: smtp.tls_cert/tls_key cannot be loaded: {exc}") from None
    return context


def recording_dirs(config: Config) -> list[str]:
    """Where decisions are written: state_dir (journals), and the SQLite file's directory."""
    found = [config.state_dir]
    if config.database.startswith("sqlite:///"):
        path = sqlite_path(config.database)
        if path != ":memory:":
            found.append(os.path.dirname(os.path.abspath(path)))
    return found


class Gateway:
    """Everything one serving process holds: store, decision log, relay, listeners."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = open_store(config.database)
        self.metrics = Metrics()
        self.decisions = DecisionLog(
            self.store,
            Path(config.state_dir) / f"decisions-{os.getpid()}.journal",
            on_record=self.metrics.decided,
        )
        self.relay = make_relay(config)
        self.signer = TokenSigner.from_config(
            config.token_secret_env, config.token_secret_file or f"{config.state_dir}/token-secret"
        )
        try:
            dkim_signers = DkimSigners(config)
        except DkimError as exc:
            raise ServeError(str(exc)) from None
        self.lists = Lists(self.store, config.senders, config.state_dir)
        keeping = Safekeeping(DiskReserve(recording_dirs(config), config.disk_reserve_mb))
        self.mail = EmailEngine(
            config,
            self.store,
            Delivery(self.relay, self.decisions, self.signer, self.lists, dkim_signers, keeping),
        )
        self.queue: MailQueue | None = None
        if config.smtp.queue:
            self.queue = make_queue(config, self.relay, self.store, self.decisions)
            self.mail.sending.queue = self.queue
            self.metrics.watch_queue(lambda: self.queue.waiting if self.queue else 0)
        self.credentials = Credentials(config, on_failure=self.metrics.auth_failed)
        self.handler = GatewayHandler(config, self.mail, self.credentials, self.metrics)
        try:
            self.provider = make_provider(config, self.store)
        except ValueError as exc:
            raise ServeError(f"{config.path}: {exc}") from None
        self.sms = SmsService(config, self.store, self.decisions, self.provider, self.metrics)
        self.held = HeldTexts(self.sms, self.store)
        self.http = HttpDoor(
            HttpContext(
                config,
                self.store,
                self.credentials,
                self.sms,
                self.metrics,
                self.signer,
                self.mail,
                self.lists,
            )
        )
        self.connections: weakref.WeakSet[GatewaySMTP] = weakref.WeakSet()
        self.server: asyncio.Server | None = None
        self.smtps: asyncio.Server | None = None
        self._retention: asyncio.Task | None = None
        self._snapshots: asyncio.Task | None = None
        self._settling: asyncio.Task | None = None

    def _protocol(self) -> GatewaySMTP:
        protocol = GatewaySMTP(self.handler, limits=self._limits, **self._smtp_options)
        self.connections.add(protocol)
        return protocol

    def _smtps_protocol(self) -> GatewaySMTP:
        """A connection to the implicit-TLS listener: encrypted from the first byte, so no STARTTLS, and
        AUTH at once."""
        options = {**self._smtp_options, "tls_context": None, "auth_require_tls": False}
        protocol = GatewaySMTP(self.handler, limits=self._limits, implicit_tls=True, **options)
        self.connections.add(protocol)
        return protocol

    async def start(self, *, reuse_port: bool = False) -> None:
        self._tls = tls_context(self.config)
        self._authenticator = Collector()
        smtp = self.config.smtp
        self._smtp_options: dict[str, Any] = {  # the same for every connection: worked out once
            "hostname": smtp.hostname,
            "data_size_limit": smtp.max_message_size,
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "tls_context": self._tls,
            "auth_required": False,
            "auth_require_tls": not smtp.plaintext_auth,
            "authenticator": self._authenticator,
            "auth_exclude_mechanism": [],
            "ident": smtp.banner,
        }
        self._limits = SessionLimits.from_config(smtp)  # one count of connections for this process
        host, port = self.config.smtp.listen
        try:
            self.server = await asyncio.get_running_loop().create_server(
                self._protocol, host=host, port=port, reuse_port=reuse_port or None, backlog=1024
            )
        except OSError as exc:
            raise ServeError(f"cannot listen for SMTP on {host}:{port}: {exc.strerror or exc}") from None
        log.info(
            "SMTP listening on %s:%d (upstream %s)", host, port, self.config.smtp.upstream.split("@")[-1]
        )
        if smtp.smtps_listen is not None and self._tls is not None:
            host, port = smtp.smtps_listen
            try:
                self.smtps = await asyncio.get_running_loop().create_server(
                    self._smtps_protocol, host=host, port=port, ssl=self._tls, reuse_port=reuse_port or None,
                    backlog=1024, ssl_handshake_timeout=10,
                )  # fmt: skip
            except OSError as exc:
                self.server.close()
                raise ServeError(f"cannot listen for SMTPS on {host}:{port}: {exc.strerror or exc}") from None
            log.info("SMTPS (implicit TLS) listening on %s:%d", host, port)
        try:
            await self.http.start(reuse_port=reuse_port)
        except OSError as exc:
            self.server.close()
            host, port = self.config.http_listen
            raise ServeError(f"cannot listen for HTTP on {host}:{port}: {exc.strerror or exc}") from None
        self.held.start()
        if self.queue is not None:
            await self._adopt()
        self._settling = asyncio.get_running_loop().create_task(self._settle_now_and_then())
        if self.metrics.directory is not None:  # several workers: each one's counts where the others read
            self._snapshots = asyncio.get_running_loop().create_task(self.metrics.snapshots())
        if self.config.retention_days:
            purging = self._purge_now_and_then(self.config.retention_days)
            self._retention = asyncio.get_running_loop().create_task(purging)

    async def _settle_now_and_then(self) -> None:
        """Intents older than any live relay can be (their process died) read `unknown` (recovery.py)."""
        while True:
            await asyncio.sleep(SETTLE_EVERY)
            await self._adopt()
            try:
                await settle_stale_intents(self.store, self.config)
                now = datetime.now(UTC)
                await self.store.forget_seen(
                    twilio_inbound.SEEN_KIND, now - timedelta(days=twilio_inbound.REPLAY_DAYS)
                )
            except StoreError as exc:
                log.debug("intents not settled now: %s", exc)

    async def _adopt(self) -> None:
        """Queued mail a stopped process left (mail/queue.py), taken over by this one."""
        if self.queue is None:
            return
        try:
            await self.queue.adopt()
        except (SpoolError, StoreError, OSError) as exc:
            log.error("queued mail left by a stopped process not taken over now: %s", exc)

    async def _purge_now_and_then(self, days: int, every: float = 3600.0) -> None:
        """gateway.retention_days: decisions older than that are deleted, at start and every hour."""
        while True:
            before = datetime.now(UTC) - timedelta(days=days)
            try:
                gone = await self.store.purge_before(before)
                if gone:
                    log.info("retention: %d decisions older than %d days deleted", gone, days)
            except StoreError as exc:
                log.warning("retention purge skipped: %s", exc)
            await asyncio.sleep(every)

    async def stop(self) -> None:
        for task in (self._retention, self._snapshots, self._settling):
            if task is not None:
                task.cancel()
        for server in (self.server, self.smtps):
            if server is not None:
                server.close()
        await self.http.stop()  # no new requests; those in flight finish
        await self.held.stop()
        deadline = asyncio.get_running_loop().time() + self.config.smtp.drain_seconds
        while self.handler.open_transactions > 0 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for protocol in list(self.connections):
            protocol.close_with("4.3.2 Service shutting down, try again later")
        await self.sms.close()
        await self.provider.close()
        if self.queue is not None:
            left = deadline - asyncio.get_running_loop().time()
            await self.queue.stop(max(left, 1.0))
        await self.mail.sending.flush()
        await self.decisions.flush()
        await self.relay.close()
        await self.store.close()
        self.metrics.snapshot()  # the last counts stay in the sum the other workers report


async def serve(config: Config, *, reuse_port: bool = False) -> None:
    check_exposure(config)
    gateway = Gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await gateway.start(reuse_port=reuse_port)
    (smtp_host, smtp_port), (http_host, http_port) = config.smtp.listen, config.http_listen
    print(
        f"gateway: serving SMTP on {smtp_host}:{smtp_port} and HTTP on {http_host}:{http_port} "
        f"(pid {os.getpid()})",
        file=sys.stderr,
        flush=True,
    )
    missing = [
        name
        for name, built in (
            ("gateway/content/_scan.c", scan.COMPILED),
            ("gateway/smtp/_dots.c", dots.COMPILED),
        )
        if not built
    ]
    if scan.WANTED and missing:
        log.warning(
            "the C scans of %s were not built at install (no C compiler or Python headers?): the "
            "slower regular expressions and bytes methods they stand for run instead",
            " and ".join(missing),
        )
    await stop.wait()
    log.info("stopping: draining %d open transactions", gateway.handler.open_transactions)
    await gateway.stop()


def run(main) -> None:
    """asyncio.run on uvloop (libuv: sockets, timers and polling in C) when it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


async def prepare_store(config: Config) -> None:
    """recovery.prepare_store, its failures a reason not to start."""
    try:
        await recovery.prepare_store(config)
    except StoreError as exc:
        raise ServeError(f"{config.path}: gateway.database: {exc}") from None
    except RecoveryError as exc:
        raise ServeError(str(exc)) from None


def tune_gc() -> None:
    """Each message allocates thousands of short-lived containers, nearly all freed by reference counting:
    the cycle collector looks at the young ones every 20,000 allocations rather than every 700, and
    never at what start-up built (modules, configuration, compiled rules), which lives as long as the
    process (docs/performance.md has what collections cost a serving process without this)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def serve_forever(config: Config) -> int:
    """Run `serve` in this process, or in smtp.workers forked processes sharing the port."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    logging.getLogger("mail.log").addFilter(lambda r: "login_data is deprecated" not in r.getMessage())
    logging.getLogger("twilio").setLevel(logging.WARNING)  # its INFO lines carry numbers and message bodies
    check_exposure(config)
    warn_plain_links(config)
    missing = private.missing()
    if missing:
        raise ServeError(
            "the installed aiosmtpd or aiosmtplib lacks what the gateway relies on: "
            + ", ".join(missing)
            + " (install the versions pyproject.toml allows)"
        )
    try:
        if config.sms.provider == "twilio":
            twilio_credentials(config)  # present? (before any worker starts)
        DkimSigners(config)  # keys readable and usable?
    except (ValueError, DkimError) as exc:
        raise ServeError(str(exc) if isinstance(exc, DkimError) else f"{config.path}: {exc}") from None
    workers = config.smtp.workers
    try:
        hold_state_dir(config.state_dir)  # before anything of the state is read: journals, metrics
        if config.database.startswith("sqlite:///") and sqlite_path(config.database) != ":memory:":
            hold_sqlite_file(os.path.abspath(sqlite_path(config.database)))
    except StateInUse as exc:
        raise ServeError(str(exc)) from None
    prepare_metrics(config.state_dir, workers)
    TokenSigner.from_config(
        config.token_secret_env,  # created once here, not raced for by the workers
        config.token_secret_file or f"{config.state_dir}/token-secret",
    )
    asyncio.run(prepare_store(config))
    tune_gc()
    if workers == 1:
        run(serve(config))
        return 0
    return supervise(
        workers,
        lambda: run(serve(config, reuse_port=True)),
        lambda pid: asyncio.run(settle_worker(config, pid)),
    )
