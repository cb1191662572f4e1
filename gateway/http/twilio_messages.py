"""Twilio's Messages API beyond create, answered from the decision log (gateway/sms/messages.py):

- `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`: one of the sender's texts
  (`client.messages(sid).fetch()`); 404 with Twilio's 20404 for a sid the sender was not given.
- `GET /2010-04-01/Accounts/{AccountSid}/Messages.json`: the sender's texts, newest first
  (`client.messages.list()` / `.stream()`), filtered by `To`, `From`, `DateSent`, `DateSent<`,
  `DateSent>` and paged as Twilio pages: `PageSize` (1-1000, 50), `Page`, and an opaque `PageToken` in
  each `next_page_uri`.
- `POST /v1/webhooks/twilio/status`: the provider's status callbacks for the texts it took (signed, like
  the inbound webhook), so a fetch reports `delivered` or `undelivered` as Twilio would.

Only the texts a client was given a sid for are there: relayed, held ("scheduled") and held texts that
failed or were refused when their time came ("failed", "canceled"); a create that was refused at once
answered an error and made no message, as on Twilio.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web

from ..addresses import phone_info
from ..sms.messages import RANK, message_resource
from ..sms.providers import STATUS_PATH
from ..store.base import TextQuery
from ..times import YEARS, instant
from .auth import twilio_basic
from .errors import ApiError
from .twilio_signature import signed_form

log = logging.getLogger("gateway.sms")

_SID = re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}")
_TOKEN = re.compile(r"PA([0-9a-f]{13,40})")
_FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")
_MAX_PAGE = 1000


def _bad(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message, twilio_code=20001)


def _number(name: str, value: str) -> str:
    phone = phone_info(value.strip())
    if phone is None:
        raise _bad(f"{name} is not a valid phone number")
    return phone.e164


def _when(name: str, value: str) -> tuple[datetime, bool]:
    """A DateSent value (a date, or a time in ISO 8601 as the twilio clients send it): the moment, and
    whether it names a whole day."""
    try:
        return instant(value), len(value.strip()) == 10  # a date alone reads as its midnight in UTC
    except ValueError:
        raise _bad(f"{name} is not a date (YYYY-MM-DD) or an ISO 8601 time in {YEARS}") from None


def text_query(params) -> TextQuery:
    """The list's filters, as Twilio reads them: `DateSent` a day (or an instant), `DateSent<` on or
    before, `DateSent>` on or after (a date: that whole day included)."""
    since = until = None
    if "DateSent" in params:
        at, whole_day = _when("DateSent", params["DateSent"])
        since, until = at, at + (timedelta(days=1) if whole_day else timedelta(seconds=1))
    if "DateSent>" in params:
        at, _ = _when("DateSent>", params["DateSent>"])
        since = max(since, at) if since else at
    if "DateSent<" in params:
        at, whole_day = _when("DateSent<", params["DateSent<"])
        end = at + (timedelta(days=1) if whole_day else timedelta(microseconds=1))
        until = min(until, end) if until else end
    return TextQuery(
        to=_number("To", params["To"]) if params.get("To") else None,
        origin=_number("From", params["From"]) if params.get("From") else None,
        since=since,
        until=until,
    )


def _integer(params, name: str, low: int, high: int, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:  # (not "²", not "٣")
        raise _bad(f"{name} must be an integer from {low} to {high}")
    return int(text)


def make_handlers(ctx):
    async def fetch(request: web.Request) -> web.Response:
        account_sid = request.match_info["account_sid"]
        sender = await twilio_basic(request, ctx.credentials, account_sid)
        sid = request.match_info["sid"]
        record = await ctx.store.text(sender.name, sid) if _SID.fullmatch(sid) else None
        if record is None:
            raise ApiError(404, "NOT_FOUND", f"The requested resource {request.path} was not found")
        return web.json_response(message_resource(record, account_sid))

    async def listing(request: web.Request) -> web.Response:
        account_sid = request.match_info["account_sid"]
        sender = await twilio_basic(request, ctx.credentials, account_sid)
        params = request.query
        query = text_query(params)
        size = _integer(params, "PageSize", 1, _MAX_PAGE, 50)
        page = _integer(params, "Page", 0, 10**6, 0)
        token = params.get("PageToken")
        found = _TOKEN.fullmatch(token) if token else None
        if token and not found:
            raise _bad("PageToken is not one this API gave")
        rows = await ctx.store.list_texts(sender.name, query, size + 1, found.group(1) if found else None)
        more, rows = len(rows) > size, rows[:size]
        base = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        kept = [(k, params[k]) for k in _FILTERS if k in params]

        def uri(*extra: tuple[str, object]) -> str:
            return base + "?" + urlencode([*kept, ("PageSize", size), *extra])

        start = page * size
        body = {
            "messages": [message_resource(r, account_sid) for r in rows],
            "page": page,
            "page_size": size,
            "start": start,
            "end": start + max(len(rows) - 1, 0),
            "uri": uri(("Page", page), *((("PageToken", token),) if token else ())),
            "first_page_uri": uri(("Page", 0)),
            "next_page_uri": (
                uri(("Page", page + 1), ("PageToken", "PA" + rows[-1].decision.id)) if more else None
            ),
            "previous_page_uri": None,  # Twilio's clients page forward only
        }
        return web.json_response(body)

    return fetch, listing


def make_status_handler(ctx):
    url = ctx.config.sms.status_url or f"{ctx.config.public_url}{STATUS_PATH}"

    async def status(request: web.Request) -> web.Response:
        form = await signed_form(request, ctx.config, url, "status callback")
        sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
        state = str(form.get("MessageStatus") or form.get("SmsStatus") or "")
        if not _SID.fullmatch(sid) or state not in RANK:
            raise ApiError(400, "BAD_REQUEST", "a status callback names a MessageSid and a MessageStatus")
        error = str(form.get("ErrorCode") or "")
        code = int(error) if error.isascii() and error.isdigit() and len(error) <= 6 else None
        await ctx.store.record_text_status(sid, state, RANK[state], code, datetime.now(UTC))
        return web.Response(status=204)

    return status
