"""The suppression list and the consent ledger over HTTP, as `gateway suppress` and `gateway consent` keep
them on the command line; every change goes through the lists service (gateway/lists/), which checks and
audits it (`api ops`, `api sender NAME`) whichever door it came through.

    POST   /v1/suppressions          {"address", "channel"?, "scope"?, "reason"?, "source"?, "expires_at"?,
                                      "received_at"?}
    GET    /v1/suppressions          ?channel=&scope=&address=&limit=
    DELETE /v1/suppressions/{address} ?channel=&scope=&reason=&note=
    POST   /v1/suppressions/import   CSV (as `gateway suppress import` reads; ?channel=&scope=&reason=&source=)
    POST   /v1/consents              {"address", "level", "channel"?, "scope"?, "source"?, "evidence"?,
                                      "obtained_at"?, "expires_at"?, "basis"?}
    GET    /v1/consents              ?address=&channel=&scope=
    DELETE /v1/consents/{address}    ?channel=&scope=&note=   (revokes what is recorded, in every scope when
                                      an ops key names none; the ledger keeps it)

An ops key works in any scope (default `global`); a sender's key only in its own sender's scope, which is
then the default. Refusals of the lists service are 400 (409 for an erasure, which is permanent).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from aiohttp import web

from ..credentials import OPS
from ..lists import checks
from ..lists.csvfile import COLUMNS, suppression_row
from ..model import GLOBAL_SCOPE, Consent
from ..store.base import to_text
from .auth import bearer
from .errors import ApiError
from .fields import read_body, read_json

MAX_IMPORT_BYTES = 256 * 1024 * 1024
MAX_LIST = 10_000


class _Caller:
    def __init__(self, who: str, senders: frozenset[str]) -> None:
        self.who, self.senders = who, senders
        self.actor = "api ops" if who == OPS else f"api sender {who}"

    def scope(self, value: object) -> object:
        """The scope asked for, as this caller may use it (the lists service checks it is one)."""
        if self.who != OPS:
            if value not in (None, self.who):
                raise ApiError(403, "FORBIDDEN", f"a sender's key manages its own scope only ({self.who!r})")
            return self.who
        return GLOBAL_SCOPE if value is None else value

    def filter_scope(self, query) -> str | None:
        """For reading: the scope named, the caller's own for a sender's key, or every scope for ops."""
        if "scope" in query or self.who != OPS:
            return checks.scope(self.scope(query.get("scope")), self.senders)
        return None


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
        "basis": c.basis.value or "given",
        "counts_now": c.level_at(at).label,
    }


def add_routes(app: web.Application, ctx) -> None:
    store, lists = ctx.store, ctx.lists

    async def caller(request: web.Request) -> _Caller:
        return _Caller(await bearer(request, ctx.credentials), lists.senders)

    async def add_suppression(request: web.Request) -> web.Response:
        me = await caller(request)
        data = await read_json(request)
        entry, added = await lists.suppress(
            me.actor,
            data.get("address"),
            channel=data.get("channel"),
            scope=me.scope(data.get("scope")),
            reason=data.get("reason"),
            source=data.get("source", "api"),
            expires_at=data.get("expires_at"),
            received_at=data.get("received_at"),
        )
        return web.json_response(
            {"suppressed": True, "added": added, **dict(zip(COLUMNS, suppression_row(entry), strict=True))},
            status=201 if added else 200,
        )

    async def list_suppressions(request: web.Request) -> web.Response:
        me = await caller(request)
        q = request.query
        channel = checks.channel(q.get("channel"))
        scope = me.filter_scope(q)
        address = checks.address(q["address"], channel)[1] if "address" in q else None
        limit = q.get("limit", "1000")
        if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_LIST:
            raise ApiError(400, "BAD_LIMIT", f"limit must be 1 to {MAX_LIST}")
        rows = []
        async for s in store.suppressions(channel, scope, address):
            rows.append(dict(zip(COLUMNS, suppression_row(s), strict=True)))
            if len(rows) >= int(limit):
                break
        return web.json_response({"suppressions": rows})

    async def remove_suppression(request: web.Request) -> web.Response:
        me = await caller(request)
        q = request.query
        channel, address = checks.address(request.match_info["address"], q.get("channel"))
        scope = me.scope(q.get("scope"))
        removed = await lists.lift(
            me.actor, address, channel=channel, scope=scope, reason=q.get("reason"), note=q.get("note")
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
        raw = await read_body(
            request, MAX_IMPORT_BYTES, f"at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB per import"
        )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(400, "BAD_REQUEST", "the CSV is not UTF-8") from None
        q = request.query
        result = await lists.import_csv(
            me.actor,
            io.StringIO(text),
            channel=q.get("channel"),
            scope=me.scope(q.get("scope")),
            reason=q.get("reason"),
            source=q.get("source", "import"),
        )
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
        now = datetime.now(UTC)
        record = await lists.record_consent(
            me.actor,
            data.get("address"),
            channel=data.get("channel"),
            scope=me.scope(data.get("scope")),
            level=data.get("level"),
            source=data.get("source", "api"),
            evidence=data.get("evidence"),
            obtained_at=data.get("obtained_at"),
            expires_at=data.get("expires_at"),
            basis=data.get("basis"),
            now=now,
        )
        return web.json_response(_consent_json(record, now), status=201)

    async def list_consents(request: web.Request) -> web.Response:
        me = await caller(request)
        if "address" not in request.query:
            raise ApiError(400, "MISSING_ADDRESS", "name the address: ?address=")
        channel, address = checks.address(request.query["address"], request.query.get("channel"))
        scope = me.filter_scope(request.query)
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
        q = request.query
        channel, address = checks.address(request.match_info["address"], q.get("channel"))
        # no scope named: every scope for an ops key, as `gateway consent revoke` without --sender
        scope = None if me.who == OPS and "scope" not in q else me.scope(q.get("scope"))
        revoked = await lists.revoke_consent(
            me.actor, address, channel=channel, scope=scope, note=q.get("note")
        )
        if not revoked:
            where = f"scope {scope}" if scope else "any scope"
            raise ApiError(404, "NOT_FOUND", f"no consent in force for {address} in {where}")
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
