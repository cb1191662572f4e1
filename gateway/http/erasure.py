"""`POST /v1/forget` (ops keys only): `{"address", "channel"?}` -> what was erased. The same erasure as
`gateway forget`: personal data out of the store, the address kept suppressed by its hash."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..addresses import channel_and_address
from ..credentials import OPS
from .auth import bearer
from .errors import ApiError
from .fields import read_json


def make_handler(ctx):
    async def forget(request: web.Request) -> web.Response:
        if await bearer(request, ctx.credentials) != OPS:
            raise ApiError(403, "FORBIDDEN", "erasure needs an ops key")
        data = await read_json(request)
        address, channel = data.get("address"), data.get("channel")
        if not isinstance(address, str) or (channel is not None and channel not in ("email", "sms")):
            raise ApiError(
                400, "BAD_REQUEST", 'send {"address": "...", "channel": "email" | "sms" (optional)}'
            )
        try:
            chosen, normalized = channel_and_address(address, channel)
        except ValueError as exc:
            raise ApiError(400, "INVALID_ADDRESS", str(exc)) from None
        result = await ctx.store.forget(chosen, normalized, datetime.now(UTC))
        return web.json_response(
            {
                "channel": chosen.value,
                "erased": True,
                "decisions": result.decisions,
                "suppressions_hashed": result.suppressions,
                "consents": result.consents,
                "outbox": result.outbox,
                "held_texts": result.held,
            }
        )

    return forget
