"""`POST /v1/check`: the rules' verdict on an email or a text, sent nowhere and logged nowhere.

Email: the raw RFC 822 message (`Content-Type: message/rfc822`); recipients are its To and Cc unless
`?to=` names them (repeatable). Text: JSON `{"to", "body", "category"?, "from"?}`. A sender's key checks
as that sender; an ops key names one with `?sender=`. The facts are the store's, as for a real send.
Answer: `200 {"channel", "verdict": "pass" | "reject", "violations", "category", "mode", "recipients"}`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..content.mime import Unparseable
from ..credentials import OPS
from ..pipeline import Pipeline
from .auth import bearer
from .errors import ApiError
from .fields import check_text, parse_category, read_body, read_json

_EMAIL_TYPES = ("message/rfc822", "text/plain")
_TEXT_FIELDS = {"to", "body", "category", "from"}


def make_handler(ctx):
    pipeline = Pipeline(ctx.config, ctx.store)  # texts; mail goes through the email engine

    async def check(request: web.Request) -> web.Response:
        sender = await _sender(request)
        at = datetime.now(UTC)
        if request.content_type in _EMAIL_TYPES:
            raw = await _message(request)
            recipients = request.query.getall("to", []) or None
            try:
                result = await ctx.mail.check(sender, raw, at, recipients)
            except Unparseable as exc:
                raise ApiError(400, "UNPARSEABLE", f"the message cannot be parsed: {exc}") from None
            if not result.message.recipients:
                raise ApiError(400, "NO_RECIPIENTS", "the message has no To or Cc: name recipients with ?to=")
            evaluation, channel, recipients = result.evaluation, "email", list(result.message.recipients)
        else:
            data = await read_json(request)  # 415 for anything but JSON
            unknown = set(data) - _TEXT_FIELDS
            if unknown:
                raise ApiError(400, "BAD_REQUEST", f"unknown field(s): {', '.join(sorted(unknown))}")
            check_text(ctx.config.senders[sender], data.get("to"), data.get("body"), data.get("from"))
            sms = await pipeline.check_sms(
                sender, data["to"], data["body"], parse_category(data.get("category")), at, data.get("from")
            )
            evaluation, channel, recipients = sms.evaluation, "sms", [sms.message.to]
        return web.json_response(
            {
                "channel": channel,
                "verdict": "pass" if evaluation.passed else "reject",
                "violations": [v.as_dict() for v in evaluation.violations],
                "category": evaluation.category.value,
                "mode": ctx.config.mode_for(sender).value,
                "recipients": recipients,
            }
        )

    async def _sender(request: web.Request) -> str:
        who = await bearer(request, ctx.credentials)
        named = request.query.get("sender")
        if who != OPS:
            if named is not None and named != who:
                raise ApiError(403, "FORBIDDEN", "a sender's key checks as that sender only")
            return who
        if named is None:
            raise ApiError(400, "MISSING_SENDER", "with an ops key, name the sender: ?sender=NAME")
        if named not in ctx.config.senders:
            raise ApiError(400, "UNKNOWN_SENDER", f"no sender named {named!r}")
        return named

    async def _message(request: web.Request) -> bytes:
        limit = ctx.config.smtp.max_message_size
        raw = await read_body(request, limit, f"the message is over the size limit ({limit} bytes)")
        if not raw.strip():
            raise ApiError(400, "EMPTY_MESSAGE", "send the message itself as the request body")
        return raw

    return check
