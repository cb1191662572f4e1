"""Changes ops staff make from the console's address lookup: remove a suppression, record consent, revoke
consent. Each is a POST that must carry the form's CSRF token (bound to the signed-in credential) and, when
the browser names one, an Origin of this very host. Each goes through the lists service, which checks it
as it checks the same change from the command line or the API, and audits it under the name "console" and
the client's address."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from aiohttp import web

from ..lists import ListsError, OptOut, checks
from ..model import Channel, Reason
from .console import csrf_valid, page
from .fields import posted_form


class Refused(Exception):
    """A form the console will not act on; the message is shown as is, with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != request.host):
        return False
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def make_action_routes(ctx, app: web.Application, guarded) -> None:
    lists = ctx.lists

    async def checked(request: web.Request):
        if not same_origin(request):
            raise Refused("This form was sent from another site.", 403)
        form = await posted_form(request)
        if not csrf_valid(ctx.signer, request["ops"], str(form.get("csrf", ""))):
            raise Refused("This form has expired or did not come from the console. Open the page again.", 403)
        return form

    def back(address: str, done: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther("/ops/lookup?" + urlencode({"address": address, "done": done}))

    def action(work):
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                form = await checked(request)
                address, changed, done = await work(f"console {request.remote or 'unknown'}", form)
            except Refused as exc:
                return page(
                    "notice.html", status=exc.status, title="Not done", signed_in=True, message=str(exc)
                )
            except ListsError as exc:
                return page("notice.html", status=400, title="Not done", signed_in=True, message=exc.message)
            raise back(address, done if changed else "unchanged")

        return guarded(handler)

    def address_of(form) -> tuple[str, str]:
        channel, address = checks.address(str(form.get("address", "")))
        return channel.value, address

    async def remove_suppression(actor: str, form):
        channel, address = address_of(form)
        removed = await lists.lift(
            actor,
            address,
            channel=channel,
            scope=str(form.get("scope", "")),
            reason=str(form.get("reason", "")),
            note=form.get("note"),
        )
        return address, removed, "removed"

    async def record_consent(actor: str, form):
        channel, address = address_of(form)
        await lists.record_consent(
            actor,
            address,
            channel=channel,
            scope=str(form.get("scope", "")),
            level=str(form.get("level", "")),
            source="ops console",
            evidence=str(form.get("evidence", "")),
            basis=str(form.get("basis", "given")),
        )
        return address, True, "recorded"

    async def revoke_consent(actor: str, form):
        channel, address = address_of(form)
        count = await lists.revoke_consent(
            actor, address, channel=channel, scope=str(form.get("scope", "")), note=form.get("note")
        )
        return address, count, "revoked"

    async def confirm_request(actor: str, form):
        """A person's opt-out by mail that nothing authenticated, confirmed by ops (mail/optouts.py)."""
        _, address = address_of(form)
        source = "request by mail, confirmed in the console"
        request = OptOut(
            Channel.EMAIL, lists.scope(form.get("scope", "")), Reason.UNSUBSCRIBE, source, address
        )
        return address, await lists.opt_out(actor, request), "confirmed"

    app.router.add_post("/ops/actions/remove-suppression", action(remove_suppression))
    app.router.add_post("/ops/actions/confirm-request", action(confirm_request))
    app.router.add_post("/ops/actions/record-consent", action(record_consent))
    app.router.add_post("/ops/actions/revoke-consent", action(revoke_consent))
