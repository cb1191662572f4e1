"""The suppression list and the consent ledger over HTTP, as `gateway suppress` and `gateway consent` keep
them on the command line.

    POST   /v1/suppressions          {"address", "channel"?, "scope"?, "reason"?, "source"?, "expires_at"?}
    GET    /v1/suppressions          ?channel=&scope=&address=&limit=
    DELETE /v1/suppressions/{address} ?channel=&scope=&reason=
    POST   /v1/suppressions/import   CSV (as `gateway suppress import` reads; ?channel=&scope=&reason=&source=)
    POST   /v1/consents              {"address", "level", "channel"?, "scope"?, "source"?, "evidence"?,
                                      "obtained_at"?, "expires_at"?}
    GET    /v1/consents              ?address=&channel=&scope=
    DELETE /v1/consents/{address}    ?channel=&scope=   (revokes what is recorded; the ledger keeps it)

An ops key works in any scope (default `global`); a sender's key only in its own sender's scope, which is
then the default. Every change is audited (`api ops`, `api sender NAME`) in the same transaction.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

from aiohttp import web

from ..addresses import address_hash, channel_and_address
from ..credentials import OPS
from ..model import GLOBAL_SCOPE, Channel, Consent, ConsentLevel, Reason, Suppression
from ..policy.recipients import removal_refused
from ..store.base import AuditEntry, to_text
from ..suppression_csv import COLUMNS, ImportDefaults, read_suppressions, suppression_row
from .auth import bearer
from .errors import ApiError
from .fields import parse_time, read_json

MAX_IMPORT_BYTES = 256 * 1024 * 1024
MAX_LIST = 10_000
_REASONS = {r.value: r for r in Reason}


class _Caller:
    def __init__(self, who: str, config) -> None:
        self.who, self.config = who, config

    def scope(self, value: object) -> str:
        """The scope asked for, as this caller may use it."""
        if self.who != OPS:
            if value not in (None, self.who):
                raise ApiError(403, "FORBIDDEN", f"a sender's key manages its own scope only ({self.who!r})")
            return self.who
        if value is None:
            return GLOBAL_SCOPE
        if not isinstance(value, str) or (value != GLOBAL_SCOPE and value not in self.config.senders):
            raise ApiError(
                400, "BAD_SCOPE", f"scope must be 'global' or a sender ({', '.join(self.config.senders)})"
            )
        return value

    def audit(self, action: str, channel: Channel, address: str, scope: str, detail: str) -> AuditEntry:
        actor = "api ops" if self.who == OPS else f"api sender {self.who}"
        return AuditEntry(actor, action, channel, address, scope, detail, datetime.now(UTC))


def _channel(value: object) -> Channel | None:
    if value is None:
        return None
    if value not in ("email", "sms"):
        raise ApiError(400, "BAD_CHANNEL", "channel must be 'email' or 'sms'")
    return Channel(value)


def _address(text: object, channel: object) -> tuple[Channel, str]:
    if not isinstance(text, str) or not text.strip() or len(text) > 320:
        raise ApiError(400, "MISSING_ADDRESS", "'address' is required: an email address or an E.164 number")
    _channel(channel)
    try:
        return channel_and_address(text.strip(), channel)
    except ValueError as exc:
        raise ApiError(400, "INVALID_ADDRESS", str(exc)) from None


def _reason(value: object, default: Reason | None) -> Reason | None:
    if value is None:
        return default
    if value not in _REASONS:
        raise ApiError(400, "BAD_REASON", f"reason must be one of {', '.join(_REASONS)}")
    return _REASONS[value]


def _consent_json(c: Consent, at: datetime) -> dict:
    return {
        "id": c.id,
        "channel": c.channel.value,
        "address": c.address,
        "scope": c.scope,
        "level": c.level.label,
        "source": c.source,
        "evidence": c.evidence,
        "obtained_at": to_text(c.obtained_at),
        "expires_at": to_text(c.expires_at),
        "revoked_at": to_text(c.revoked_at),
        "counts_now": c.level_at(at).label,
    }


def add_routes(app: web.Application, ctx) -> None:
    store, config = ctx.store, ctx.config

    async def caller(request: web.Request) -> _Caller:
        return _Caller(await bearer(request, ctx.credentials), config)

    async def add_suppression(request: web.Request) -> web.Response:
        me = await caller(request)
        data = await read_json(request)
        channel, address = _address(data.get("address"), data.get("channel"))
        scope = me.scope(data.get("scope"))
        reason = _reason(data.get("reason"), Reason.MANUAL)
        source = data.get("source", "api")
        if not isinstance(source, str) or len(source) > 200:
            raise ApiError(400, "BAD_SOURCE", "source must be a short text")
        now = datetime.now(UTC)
        expires = parse_time(data.get("expires_at"), "expires_at")
        if expires is not None and expires <= now:
            raise ApiError(400, "BAD_TIME", "expires_at must be in the future")
        entry = Suppression(channel, address_hash(address), address, scope, reason, source, now, expires)
        added = await store.add_suppression(
            entry,
            me.audit("suppression.add", channel, address, scope, f"reason {reason.value}, source {source}"),
        )
        return web.json_response(
            {"suppressed": True, "added": added, **dict(zip(COLUMNS, suppression_row(entry)))},
            status=201 if added else 200,
        )

    async def list_suppressions(request: web.Request) -> web.Response:
        me = await caller(request)
        q = request.query
        channel = _channel(q.get("channel"))
        scope = me.scope(q.get("scope")) if "scope" in q or me.who != OPS else None
        address = _address(q["address"], q.get("channel"))[1] if "address" in q else None
        limit = q.get("limit", "1000")
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIST:
            raise ApiError(400, "BAD_LIMIT", f"limit must be 1 to {MAX_LIST}")
        rows = []
        async for s in store.suppressions(channel, scope, address):
            rows.append(dict(zip(COLUMNS, suppression_row(s))))
            if len(rows) >= int(limit):
                break
        return web.json_response({"suppressions": rows})

    async def remove_suppression(request: web.Request) -> web.Response:
        me = await caller(request)
        channel, address = _address(request.match_info["address"], request.query.get("channel"))
        scope = me.scope(request.query.get("scope"))
        reason = _reason(request.query.get("reason"), None)
        if refused := removal_refused([s async for s in store.suppressions(channel, scope, address)], reason):
            raise ApiError(409, "PERMANENT", refused)
        removed = await store.remove_suppressions(
            channel,
            address,
            scope,
            reason.value if reason else None,
            me.audit(
                "suppression.remove", channel, address, scope, f"reason {reason.value if reason else 'any'}"
            ),
        )
        if not removed:
            raise ApiError(404, "NOT_FOUND", f"no suppression of {address} in scope {scope}")
        return web.json_response(
            {"removed": removed, "channel": channel.value, "address": address, "scope": scope}
        )

    async def import_suppressions(request: web.Request) -> web.Response:
        me = await caller(request)
        if me.who != OPS:
            raise ApiError(403, "FORBIDDEN", "importing needs an ops key")
        if request.content_type not in ("text/csv", "text/plain"):
            raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send CSV (Content-Type: text/csv)")
        q = request.query
        channel = _channel(q.get("channel"))
        raw = await request.content.read(MAX_IMPORT_BYTES + 1)
        if len(raw) > MAX_IMPORT_BYTES:
            raise ApiError(413, "TOO_LARGE", f"at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB per import")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(400, "BAD_REQUEST", "the CSV is not UTF-8") from None
        defaults = ImportDefaults(
            channel,
            me.scope(q.get("scope")),
            _reason(q.get("reason"), Reason.UNSUBSCRIBE),
            q.get("source", "import"),
            datetime.now(UTC),
            frozenset(config.senders) | {GLOBAL_SCOPE},
        )
        result = await store.import_suppressions(read_suppressions(io.StringIO(text), defaults))
        return web.json_response(
            {
                "added": result.added,
                "skipped": result.skipped,
                "rejected": result.rejected,
                "errors": list(result.errors),
            }
        )

    async def add_consent(request: web.Request) -> web.Response:
        me = await caller(request)
        data = await read_json(request)
        channel, address = _address(data.get("address"), data.get("channel"))
        scope = me.scope(data.get("scope"))
        try:
            level = ConsentLevel.parse(data.get("level"))
        except (ValueError, TypeError, AttributeError):
            raise ApiError(
                400, "BAD_LEVEL", "level must be one of " + ", ".join(lv.label for lv in ConsentLevel)
            ) from None
        source, evidence = data.get("source", "api"), data.get("evidence", "")
        if (
            not isinstance(source, str)
            or not isinstance(evidence, str)
            or len(source) > 200
            or len(evidence) > 2000
        ):
            raise ApiError(
                400, "BAD_REQUEST", "source and evidence must be texts (200 and 2,000 characters at most)"
            )
        now = datetime.now(UTC)
        obtained = parse_time(data.get("obtained_at"), "obtained_at") or now
        expires = parse_time(data.get("expires_at"), "expires_at")
        if obtained > now:
            raise ApiError(400, "BAD_TIME", "obtained_at is in the future")
        if expires is not None and expires <= obtained:
            raise ApiError(400, "BAD_TIME", "expires_at must be after obtained_at")
        record = Consent(
            channel, address_hash(address), address, scope, level, source, evidence, obtained, expires
        )
        cid = await store.add_consent(
            record, me.audit("consent.add", channel, address, scope, f"level {level.label}, source {source}")
        )
        return web.json_response(_consent_json(replace(record, id=cid), now), status=201)

    async def list_consents(request: web.Request) -> web.Response:
        me = await caller(request)
        if "address" not in request.query:
            raise ApiError(400, "MISSING_ADDRESS", "name the address: ?address=")
        channel, address = _address(request.query["address"], request.query.get("channel"))
        scope = me.scope(request.query.get("scope")) if "scope" in request.query or me.who != OPS else None
        now = datetime.now(UTC)
        records = await store.consents(channel, address, scope)
        return web.json_response(
            {
                "channel": channel.value,
                "address": address,
                "consents": [_consent_json(c, now) for c in records],
            }
        )

    async def revoke_consent(request: web.Request) -> web.Response:
        me = await caller(request)
        channel, address = _address(request.match_info["address"], request.query.get("channel"))
        scope = me.scope(request.query.get("scope"))
        revoked = await store.revoke_consents(
            channel,
            address,
            scope,
            datetime.now(UTC),
            me.audit("consent.revoke", channel, address, scope, "revoked"),
        )
        if not revoked:
            raise ApiError(404, "NOT_FOUND", f"no consent in force for {address} in scope {scope}")
        return web.json_response(
            {"revoked": revoked, "channel": channel.value, "address": address, "scope": scope}
        )

    app.router.add_post("/v1/suppressions", add_suppression)
    app.router.add_get("/v1/suppressions", list_suppressions)
    app.router.add_post("/v1/suppressions/import", import_suppressions)
    app.router.add_delete("/v1/suppressions/{address}", remove_suppression)
    app.router.add_post("/v1/consents", add_consent)
    app.router.add_get("/v1/consents", list_consents)
    app.router.add_delete("/v1/consents/{address}", revoke_consent)
