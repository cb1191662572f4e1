"""The HTTP door (aiohttp): the SMS APIs, one-click unsubscribe, health and metrics. Later issues add
the decisions API and the ops console to the same application."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..config import Config
from ..credentials import Credentials
from ..lists import Lists
from ..mail.engine import EmailEngine
from ..metrics import Metrics, deadline_lines
from ..sms import SmsService
from ..sms.providers import STATUS_PATH
from ..store import Store, StoreError
from ..tokens import TokenSigner
from . import (
    check_api,
    console,
    console_actions,
    console_deadlines,
    decisions_api,
    erasure,
    lists_api,
    sms_api,
    twilio_api,
    twilio_inbound,
    twilio_messages,
    unsubscribe,
)
from .errors import make_middleware

log = logging.getLogger("gateway.http")

MAX_REQUEST = 64 * 1024  # an SMS request is a few hundred bytes; 64 KiB leaves room and refuses floods


@dataclass
class HttpContext:
    config: Config
    store: Store
    credentials: Credentials
    sms: SmsService
    metrics: Metrics
    signer: TokenSigner
    mail: EmailEngine
    lists: Lists


def build_app(ctx: HttpContext) -> web.Application:
    app = web.Application(
        middlewares=[make_middleware(ctx.metrics, ctx.config.sms.retry_after)], client_max_size=MAX_REQUEST
    )

    async def healthz(request: web.Request) -> web.Response:
        try:
            version = await ctx.store.schema_version()
        except StoreError as exc:
            log.warning("health check: store unavailable: %s", exc)
            return web.json_response(
                {"status": "unavailable", "store": "unavailable"},
                status=503,
                headers={"Retry-After": str(ctx.config.sms.retry_after)},
            )
        return web.json_response({"status": "ok", "store": "ok", "schema_version": version})

    clock: dict = {"until": 0.0, "text": b""}

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = ctx.metrics.exposition()
        try:
            now = time.monotonic()
            if clock["until"] < now:  # two small aggregates, at most once in a few seconds
                clock["text"] = deadline_lines(
                    await ctx.store.optout_request_stats(datetime.now(UTC))
                ).encode()
                clock["until"] = now + 5.0
            body += clock["text"]
        except StoreError as exc:
            log.warning("metrics: the opt-out deadline clock left out: store unavailable: %s", exc)
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/v1/sms", sms_api.make_handler(ctx))
    app.router.add_post("/2010-04-01/Accounts/{account_sid}/Messages.json", twilio_api.make_handler(ctx))
    fetch_message, list_messages = twilio_messages.make_handlers(ctx)
    app.router.add_get("/2010-04-01/Accounts/{account_sid}/Messages.json", list_messages)
    app.router.add_get("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json", fetch_message)
    app.router.add_post(STATUS_PATH, twilio_messages.make_status_handler(ctx))
    confirm, unsubscribe_now = unsubscribe.make_handlers(ctx.config, ctx.lists, ctx.signer)
    app.router.add_get("/unsubscribe/{token}", confirm)  # HEAD too: a GET without the body
    app.router.add_post("/unsubscribe/{token}", unsubscribe_now)
    app.router.add_post(twilio_inbound.PATH, twilio_inbound.make_handler(ctx))
    app.router.add_post("/v1/forget", erasure.make_handler(ctx))
    app.router.add_post("/v1/check", check_api.make_handler(ctx))
    lists_api.add_routes(app, ctx)
    listing, one, export, summary = decisions_api.make_handlers(ctx)
    app.router.add_get("/v1/decisions", listing)
    app.router.add_get("/v1/decisions.csv", export)
    app.router.add_get("/v1/decisions/{id}", one)
    app.router.add_get("/v1/reports/summary", summary)
    guarded = console.make_routes(ctx, app)
    console_actions.make_action_routes(ctx, app, guarded)
    console_deadlines.make_deadline_routes(ctx, app, guarded)
    return app


class _UnparseableRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a bad chunk size, a control character in a header, an
    overlong line) at ERROR with a traceback that quotes the request's bytes: anyone who can reach the
    port could fill the log and set off alerts. Such a request is the client's fault: one short warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "unknown"
            record.msg, record.args = (
                "unparseable HTTP request from %s: %s: %.120r",
                (
                    remote,
                    type(exc).__name__,
                    str(exc.message),
                ),
            )
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


PROTOCOL_LOG = logging.getLogger("gateway.http.protocol")  # aiohttp's server protocol logs here
PROTOCOL_LOG.addFilter(_UnparseableRequests())


class HttpDoor:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx
        self._runner: web.AppRunner | None = None

    async def start(self, *, reuse_port: bool = False) -> None:
        self._runner = web.AppRunner(
            build_app(self.ctx),
            access_log=None,
            shutdown_timeout=10.0,
            handle_signals=False,
            logger=PROTOCOL_LOG,
        )
        await self._runner.setup()
        host, port = self.ctx.config.http_listen
        site = web.TCPSite(self._runner, host, port, reuse_port=reuse_port or None, backlog=1024)
        await site.start()
        log.info("HTTP listening on %s:%d (SMS provider %s)", host, port, self.ctx.sms.provider.name)

    async def stop(self) -> None:
        """Stop listening, let requests in flight finish (up to the shutdown timeout)."""
        if self._runner is not None:
            await self._runner.cleanup()
