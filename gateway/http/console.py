"""The ops console (`/ops/`): recent rejections with filters, a detail page per decision with what each
violation means, the law behind it and how to fix the message, and an address lookup.

Server-rendered with jinja2 (autoescaping: every message-derived string is shown as text), no script at
all, one bundled stylesheet; the Content-Security-Policy allows nothing else. Sign-in with an ops key
gives a session cookie (HttpOnly, SameSite=Strict, Secure when the public URL is https) sealed with the
gateway's token secret, so every worker and instance accepts it; HTTP Basic `ops:KEY` works too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web
from markupsafe import Markup

from ..addresses import address_hash, channel_and_address
from ..credentials import OPS, Blocked
from ..lists import PERMANENT_REASONS
from ..model import GLOBAL_SCOPE, Channel, ConsentBasis, ConsentLevel, Verdict
from ..policy.codes import REGISTRY, explain
from ..reports import email_detail, parse_when
from ..store.base import DecisionQuery
from . import chart
from .auth import guarded
from .fields import posted_form

HERE = Path(__file__).parent
COOKIE = "gw_ops"
SESSION_SECONDS = 8 * 3600
CHART_DAYS = 92  # the longest period the chart draws, a day a bar
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
_DIRECTION = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _shown(value: object) -> object:
    """Direction overrides in what senders wrote, made visible (<U+202E>) rather than obeyed: a subject
    "Invoice \u202eFDP.exe" would read "Invoice exe.PDF", a From line would read backwards."""
    if isinstance(value, str) and not isinstance(value, Markup) and _DIRECTION.search(value):
        return _DIRECTION.sub(lambda m: f"<U+{ord(m.group()):04X}>", value)
    return value


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    finalize=_shown,
)


# What the lookup page says after an action (keyed, so no text from the query is ever shown).
DONE = {
    "removed": "Suppression removed.",
    "recorded": "Consent recorded.",
    "revoked": "Consent revoked.",
    "unchanged": "Nothing matched: nothing was changed.",
    "confirmed": "Request confirmed: the address is unsubscribed.",
}
_OPTOUTS_PAGE = 100


def session_cookie(signer, now: float | None = None) -> str:
    """Expiry and a random nonce, sealed: every sign-in is its own session (and has its own form tokens)."""
    expires = int((now or time.time()) + SESSION_SECONDS)
    return signer.seal("ops-session", expires.to_bytes(8, "big") + secrets.token_bytes(8))


SIGNED_OUT = "signed-out"  # the store's `seen` kind for sessions ended by Sign out


def _session(signer, value: str | None) -> bytes | None:
    """The session's nonce when the cookie is one the gateway sealed and it has not expired."""
    payload = signer.unseal("ops-session", value) if value else None
    if payload is None or len(payload) != 16 or int.from_bytes(payload[:8], "big") <= time.time():
        return None
    return payload[8:]


async def session_valid(ctx, value: str | None) -> bool:
    """A sealed, unexpired session that was not signed out (on any instance: the store remembers)."""
    nonce = _session(ctx.signer, value)
    return nonce is not None and not await ctx.store.seen(SIGNED_OUT, nonce.hex())


async def ops_credential(request: web.Request, ctx) -> str | None:
    """The credential that makes this request an ops one (a valid session cookie, or Basic ops:KEY, or
    Bearer KEY of an ops key), or None. Forms are bound to it (see `csrf_token`)."""
    cookie = request.cookies.get(COOKIE)
    if await session_valid(ctx, cookie):
        return cookie
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    key = None
    if scheme.lower() == "basic":
        try:
            _user, _, key = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            key = None
    elif scheme.lower() == "bearer":
        key = value.strip()
    if (
        key
        and len(key) <= 512
        and await guarded(ctx.credentials.api_key(key, request.remote, "console")) == OPS
    ):
        return header
    return None


def csrf_token(signer, credential: str) -> str:
    """A form token bound to the signed-in credential: another site can make the browser send the cookie
    (or cached Basic credentials) but cannot read a page to learn this."""
    return signer.seal("ops-csrf", hashlib.sha256(credential.encode()).digest()[:16])


def csrf_valid(signer, credential: str, token: str) -> bool:
    return signer.unseal("ops-csrf", token) == hashlib.sha256(credential.encode()).digest()[:16]


def page(template: str, status: int = 200, **values: Any) -> web.Response:
    html = _ENV.get_template(template).render(**values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


def make_routes(ctx, app: web.Application):
    """The pages; returns the sign-in guard for the actions' routes."""
    secure = ctx.config.public_url.startswith("https://")
    senders = sorted(ctx.config.senders)

    def guarded(handler):
        async def wrapper(request: web.Request) -> web.StreamResponse:
            credential = await ops_credential(request, ctx)
            if credential is None:
                raise web.HTTPFound("/ops/login")
            request["ops"] = credential
            return await handler(request)

        return wrapper

    async def login_form(request: web.Request) -> web.Response:
        return page("login.html", title="Sign in", signed_in=False, error=None)

    async def login(request: web.Request) -> web.Response:
        form = await posted_form(request)
        key = str(form.get("key", ""))
        try:
            who = (
                await ctx.credentials.api_key(key, request.remote, "console") if 0 < len(key) <= 512 else None
            )
        except Blocked as exc:
            response = page(
                "login.html",
                status=429,
                title="Sign in",
                signed_in=False,
                error=f"Too many failed attempts: try again in {exc.retry_after} seconds.",
            )
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        if who != OPS:
            return page(
                "login.html", status=401, title="Sign in", signed_in=False, error="That is not an ops key."
            )
        response = web.HTTPFound("/ops/")
        response.set_cookie(
            COOKIE,
            session_cookie(ctx.signer),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="Strict",
            secure=secure,
            path="/",
        )
        raise response

    async def logout(request: web.Request) -> web.Response:
        nonce = _session(ctx.signer, request.cookies.get(COOKIE))
        if nonce is not None:  # the cookie stops working everywhere, not just in this browser
            await ctx.store.first_time(SIGNED_OUT, nonce.hex(), datetime.now(UTC))
        response = web.HTTPFound("/ops/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    async def listing(request: web.Request) -> web.Response:
        q = request.query
        now = datetime.now(UTC)
        verdict = q.get("verdict", "rejected") or None
        error = None
        values = {k: q.get(k) or None for k in ("channel", "code", "sender", "q")}
        since_text, until_text = q.get("since", ""), q.get("until", "")
        try:
            since = parse_when(since_text, now) if since_text else None
            until = parse_when(until_text, now) if until_text else None
        except ValueError:
            since = until = None
            error = "Since and until take ISO 8601 times or spans such as 7d."
        query = DecisionQuery(
            verdict=verdict if verdict in {v.value for v in Verdict} else None,
            channel=values["channel"] if values["channel"] in ("email", "sms") else None,
            code=values["code"] if values["code"] in REGISTRY else None,
            sender=values["sender"] if values["sender"] in ctx.config.senders else None,
            since=since,
            until=until,
            text=(values["q"] or "")[:200] or None,
        )
        cursor = q.get("cursor")
        cursor = cursor if cursor and cursor.isalnum() and len(cursor) <= 32 else None
        found = await ctx.store.decisions(51, query, cursor)
        kept = {
            "verdict": verdict or "",
            "channel": query.channel or "",
            "code": query.code or "",
            "sender": query.sender or "",
            "since": since_text,
            "until": until_text,
            "q": query.text or "",
        }
        shown = {k: v for k, v in kept.items() if v}
        filters = {
            "verdict": query.verdict,
            "channel": query.channel,
            "code": query.code,
            "sender": query.sender,
            "text": query.text,
            "since_text": since_text,
            "until_text": until_text,
        }
        last = (until - timedelta(microseconds=1) if until else now).date()
        first = max(
            since.date() if since else last - timedelta(days=29), last - timedelta(days=CHART_DAYS - 1)
        )
        days, counts = chart.rejections_per_day(
            await ctx.store.summary(datetime.combine(first, dt_time(), UTC), query.sender),
            first,
            last,
            query.channel,
        )
        if query.code:
            counts = {query.code: counts[query.code]} if query.code in counts else {}
        return page(
            "list.html",
            title="Rejected messages" if query.verdict == "rejected" else "Decisions",
            chart=Markup(chart.svg(days, counts)) if days else None,
            signed_in=True,
            decisions=found[:50],
            next_cursor=found[49].id if len(found) > 50 else None,
            f=filters,
            query=urlencode(shown),
            verdicts=[v.value for v in Verdict],
            channels=[c.value for c in Channel],
            codes=list(REGISTRY),
            senders=senders,
            error=error,
        )

    async def detail(request: web.Request) -> web.Response:
        decision_id = request.match_info["id"]
        found = (
            await ctx.store.decision(decision_id)
            if decision_id.isalnum() and len(decision_id) <= 32
            else None
        )
        if found is None:
            return page("base.html", status=404, title="No such decision", signed_in=True)
        return page(
            "detail.html",
            title=f"Decision {found.id}",
            signed_in=True,
            d=found,
            violations=[(v, explain(v.code)) for v in found.violations],
            about=email_detail(found),
        )

    async def lookup(request: web.Request) -> web.Response:
        text = request.query.get("address", "").strip()
        blank: dict[str, Any] = {
            "title": "Address lookup",
            "signed_in": True,
            "address": text,
            "error": None,
            "shown": False,
            "done": None,
        }
        if not text:
            return page("lookup.html", **blank)
        try:
            channel, address = channel_and_address(text[:320])
        except ValueError as exc:
            return page("lookup.html", **{**blank, "error": str(exc)})
        suppressions = [s async for s in ctx.store.suppressions(channel=channel, address=address)]
        consents = await ctx.store.consents(channel, address)
        decisions = await ctx.store.decisions(50, DecisionQuery(recipient_hash=address_hash(address)))
        audit = await ctx.store.audit_log(channel, address, 50)
        return page(
            "lookup.html",
            title=f"Address lookup: {address}",
            signed_in=True,
            address=address,
            error=None,
            shown=True,
            suppressions=suppressions,
            consents=consents,
            decisions=decisions,
            audit=audit,
            done=DONE.get(request.query.get("done", "")),
            csrf=csrf_token(ctx.signer, request["ops"]),
            scopes=[GLOBAL_SCOPE, *senders],
            # weakest first, `none` (a refusal recorded, e.g. unticked on an order form) last; none chosen ahead
            levels=[level.label for level in (*sorted(ConsentLevel)[1:], ConsentLevel.NONE)],
            permanent=PERMANENT_REASONS,
            bases=[b.value or "given" for b in ConsentBasis],
        )

    async def optouts(request: web.Request) -> web.Response:
        """Opt-out mail nothing vouched for: requests to confirm, and reports that changed nothing."""
        kind = "report" if request.query.get("kind") == "report" else "request"
        try:
            number = min(max(int(request.query.get("page", "1")), 1), 10_000)
        except ValueError:
            number = 1
        entries = await ctx.store.audit_log(
            limit=_OPTOUTS_PAGE + 1, actions=[f"{kind}.unverified"], offset=(number - 1) * _OPTOUTS_PAGE
        )
        return page(
            "optouts.html",
            title="Opt-out mail not verified",
            signed_in=True,
            kind=kind,
            entries=entries[:_OPTOUTS_PAGE],
            page_number=number,
            more=len(entries) > _OPTOUTS_PAGE,
            csrf=csrf_token(ctx.signer, request["ops"]),
        )

    async def law(request: web.Request) -> web.Response:
        """The calling-hours and cap laws in force on a date (`?at=YYYY-MM-DD`, default today), as
        `gateway rules` prints them."""
        try:
            day = (
                date.fromisoformat(request.query["at"])
                if request.query.get("at")
                else datetime.now(UTC).date()
            )
        except ValueError:
            day = datetime.now(UTC).date()
        policy = ctx.config.policy
        rules = [r for r in policy.hours if r.in_force(day)]
        duties = [d for d in policy.duties if d.in_force(day)]
        blackouts = [b for b in policy.blackouts if b.end.date() >= day]  # on that day, or declared for later
        return page(
            "law.html", title=f"The law in force on {day}", signed_in=True, day=day, rules=rules, duties=duties,
            blackouts=blackouts,
        )  # fmt: skip

    static = {"console.css": "text/css", "favicon.svg": "image/svg+xml"}

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in static:
            raise web.HTTPNotFound()
        return web.Response(
            body=(HERE / "static" / name).read_bytes(),
            content_type=static[name],
            headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    app.router.add_get("/ops/login", login_form)
    app.router.add_post("/ops/login", login)
    app.router.add_post("/ops/logout", logout)
    app.router.add_get("/ops/", guarded(listing))
    app.router.add_get("/ops/decisions/{id}", guarded(detail))
    app.router.add_get("/ops/lookup", guarded(lookup))
    app.router.add_get("/ops/optouts", guarded(optouts))
    app.router.add_get("/ops/law", guarded(law))
    app.router.add_get("/ops/static/{name}", asset)
    return guarded
