"""The opt-out deadline clock in the console: requests waiting for a person, soonest due first, overdue
ones marked; a request found not to be genuine is dismissed (confirming one is done where it is shown:
the opt-out mail page or the address lookup, and closes it as honoured)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from .console import csrf_token, csrf_valid, page
from .console_actions import same_origin

_PAGE = 200


def make_deadline_routes(ctx, app: web.Application, guarded) -> None:
    async def deadlines(request: web.Request) -> web.Response:
        now = datetime.now(UTC)
        waiting = await ctx.store.optout_requests(True, _PAGE)
        recent = await ctx.store.optout_requests(False, 50)
        return page(
            "deadlines.html",
            title="Opt-out requests: due and overdue",
            signed_in=True,
            now=now,
            waiting=waiting,
            overdue=sum(1 for r in waiting if r.overdue(now)),
            recent=[r for r in recent if r.outcome],
            csrf=csrf_token(ctx.signer, request["ops"]),
        )

    async def dismiss(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if not same_origin(request) or not csrf_valid(ctx.signer, request["ops"], str(form.get("csrf", ""))):
            return page(
                "notice.html", status=403, title="Not done", signed_in=True,
                message="This form has expired or did not come from the console. Open the page again.",
            )  # fmt: skip
        try:
            request_id = int(str(form.get("id", "")))
        except ValueError:
            return page(
                "notice.html", status=400, title="Not done", signed_in=True, message="No such request."
            )
        await ctx.store.dismiss_optout_request(request_id, datetime.now(UTC))
        raise web.HTTPSeeOther("/ops/deadlines")

    app.router.add_get("/ops/deadlines", guarded(deadlines))
    app.router.add_post("/ops/actions/dismiss-request", guarded(dismiss))
