"""The opt-out deadline clock in the console: requests waiting for a person, soonest due first, overdue
ones marked; a request found not to be genuine is dismissed, audited (confirming one is done where it is
shown: the opt-out mail page or the address lookup, and closes it as honoured)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..lists import ListsError
from .console import csrf_token, csrf_valid, page
from .console_actions import same_origin
from .fields import posted_form

_PAGE = 200


def make_deadline_routes(ctx, app: web.Application, guarded) -> None:
    async def deadlines(request: web.Request) -> web.Response:
        return page(
            "deadlines.html",
            title="Opt-out requests: due and overdue",
            signed_in=True,
            now=datetime.now(UTC),
            waiting=await ctx.store.optout_requests("open", _PAGE),
            stats=await ctx.store.optout_request_stats(datetime.now(UTC)),
            recent=await ctx.store.optout_requests("closed", 50),
            csrf=csrf_token(ctx.signer, request["ops"]),
        )

    def refused(status: int, message: str) -> web.Response:
        return page("notice.html", status=status, title="Not done", signed_in=True, message=message)

    async def dismiss(request: web.Request) -> web.StreamResponse:
        form = await posted_form(request)
        if not same_origin(request) or not csrf_valid(ctx.signer, request["ops"], str(form.get("csrf", ""))):
            return refused(
                403, "This form has expired or did not come from the console. Open the page again."
            )
        text = str(form.get("id", ""))
        try:
            await ctx.lists.dismiss_request(
                f"console {request.remote or 'unknown'}",
                int(text) if text.isascii() and text.isdigit() and len(text) < 20 else -1,
            )
        except ListsError as exc:
            return refused(400, exc.message)
        raise web.HTTPSeeOther("/ops/deadlines")

    app.router.add_get("/ops/deadlines", guarded(deadlines))
    app.router.add_post("/ops/actions/dismiss-request", guarded(dismiss))
