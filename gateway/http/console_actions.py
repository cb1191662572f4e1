"""Changes ops staff make from the console's address lookup: remove a suppression, record consent, revoke
consent. Each is a POST that must carry the form's CSRF token (bound to the signed-in credential) and, when
the browser names one, an Origin of this very host; each change is written with its audit entry in one
transaction, under the name "console" and the client's address."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from aiohttp import web

from ..addresses import address_hash, channel_and_address
from ..model import GLOBAL_SCOPE, Consent, ConsentLevel, Reason
from ..policy.recipients import lifting_refused
from ..store.base import AuditEntry, now
from .console import csrf_valid, page

_NOTE_MAX = 500


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
    scopes = {GLOBAL_SCOPE, *ctx.config.senders}

    async def checked(request: web.Request):
        if not same_origin(request):
            raise Refused("This form was sent from another site.", 403)
        form = await request.post()
        if not csrf_valid(ctx.signer, request["ops"], str(form.get("csrf", ""))):
            raise Refused("This form has expired or did not come from the console. Open the page again.", 403)
        try:
            channel, address = channel_and_address(str(form.get("address", ""))[:320])
        except ValueError as exc:
            raise Refused(str(exc)) from None
        scope = str(form.get("scope", ""))
        if scope not in scopes:
            raise Refused("Choose a configured sender or global.")
        return form, channel, address, scope

    def note_of(form, name: str, what: str) -> str:
        text = " ".join(str(form.get(name, "")).split())
        if not text:
            raise Refused(f"Say {what}: it goes into the audit trail.")
        if len(text) > _NOTE_MAX:
            raise Refused(f"Keep it under {_NOTE_MAX} characters.")
        return text

    def audit(
        request: web.Request, action: str, channel, address: str, scope: str, detail: str
    ) -> AuditEntry:
        return AuditEntry(f"console {request.remote or 'unknown'}", action, channel, address, scope, detail)

    def back(address: str, done: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther("/ops/lookup?" + urlencode({"address": address, "done": done}))

    def action(work):
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                address, changed, done = await work(request, *await checked(request))
            except Refused as exc:
                return page(
                    "notice.html", status=exc.status, title="Not done", signed_in=True, message=str(exc)
                )
            raise back(address, done if changed else "unchanged")

        return guarded(handler)

    async def remove_suppression(request, form, channel, address, scope):
        reason = str(form.get("reason", ""))
        if reason not in {r.value for r in Reason}:
            raise Refused("Unknown suppression reason.")
        if refusal := lifting_refused(Reason(reason)):
            raise Refused(refusal)
        note = note_of(form, "note", "why it is removed")
        removed = await ctx.store.remove_suppressions(
            channel,
            address,
            scope,
            reason,
            audit(request, "suppression.remove", channel, address, scope, f"reason {reason}; {note}"),
        )
        return address, removed, "removed"

    async def record_consent(request, form, channel, address, scope):
        try:
            level = ConsentLevel.parse(str(form.get("level", "")))
        except ValueError as exc:
            raise Refused(str(exc)) from None
        if level == ConsentLevel.NONE:
            raise Refused("Record a level of consent; to withdraw one, revoke it.")
        evidence = note_of(form, "evidence", "where the consent was given (the evidence)")
        record = Consent(
            channel, address_hash(address), address, scope, level, "ops console", evidence, now()
        )
        await ctx.store.add_consent(
            record, audit(request, "consent.add", channel, address, scope, f"level {level.label}; {evidence}")
        )
        return address, True, "recorded"

    async def revoke_consent(request, form, channel, address, scope):
        note = note_of(form, "note", "why it is revoked")
        count = await ctx.store.revoke_consents(
            channel, address, scope, now(), audit(request, "consent.revoke", channel, address, scope, note)
        )
        return address, count, "revoked"

    app.router.add_post("/ops/actions/remove-suppression", action(remove_suppression))
    app.router.add_post("/ops/actions/record-consent", action(record_consent))
    app.router.add_post("/ops/actions/revoke-consent", action(revoke_consent))
