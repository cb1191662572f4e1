"""`POST /v1/forget` (ops keys only): `{"address", "channel"?}` -> what was erased. The same erasure as
`gateway forget`: personal data out of the store, the address kept suppressed by its hash."""

from __future__ import annotations

from aiohttp import web

from ..credentials import OPS
from .auth import bearer
from .errors import ApiError
from .fields import read_json


def make_handler(ctx):
    async def forget(request: web.Request) -> web.Response:
        if await bearer(request, ctx.credentials) != OPS:
            raise ApiError(403, "FORBIDDEN", "erasure needs an ops key")
        data = await read_json(request)
        return web.json_response(
            await ctx.lists.erase("api ops", data.get("address"), channel=data.get("channel"))
        )

    return forget
