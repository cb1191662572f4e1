"""`POST /v1/sms`: `{"to", "body", "category"?, "from"?, "send_at"?}` with a sender's Bearer key.

201 relayed, 422 rejected with the violations, 202 held (quiet hours with deferral on, or `send_at`),
502/503 with Retry-After when the provider fails (the decision says `failed`; nothing is reported sent).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..sms import ProviderRefused, SmsOutcome, SmsRequest
from .auth import sender_key
from .errors import ApiError
from .fields import check_text, parse_category, parse_send_at, read_json

_FIELDS = {"to", "body", "category", "from", "send_at"}


def failure_error(outcome: SmsOutcome, retry_after: int, *, twilio: bool = False) -> ApiError:
    """502 when the provider answered with an error, 503 when it could not be reached in time."""
    failure = outcome.failure
    if isinstance(failure, ProviderRefused):
        return ApiError(
            502,
            "PROVIDER_REFUSED",
            f"the SMS provider refused the text: {failure.message}",
            twilio_code=failure.code or 20500,
            extra={"id": outcome.id, "status": "failed", "provider_code": failure.code},
        )
    answered = getattr(failure, "status", None)
    status = 502 if answered else 503
    return ApiError(
        status,
        "PROVIDER_UNAVAILABLE",
        # its own words stay in the log: they may name the gateway's provider account
        "the SMS provider failed, nothing was sent: "
        + (f"it answered HTTP {answered}" if answered else "it could not take the text now"),
        twilio_code=20500 if status == 502 else 20503,
        headers={"Retry-After": str(retry_after)},
        extra={} if twilio else {"id": outcome.id, "status": "failed"},
    )


def violations_json(outcome: SmsOutcome) -> list[dict]:
    return [{"code": v.code, "message": v.message} for v in outcome.violations]


def make_handler(ctx):
    async def post_sms(request: web.Request) -> web.Response:
        name = await sender_key(request, ctx.credentials)
        sender = ctx.config.sender(name)
        data = await read_json(request)
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise ApiError(
                400,
                "BAD_REQUEST",
                f"unknown field {unknown[0]!r} (fields: to, body, category, from, send_at)",
            )
        check_text(sender, data.get("to"), data.get("body"), data.get("from"))
        now = datetime.now(UTC)
        outcome = await ctx.sms.send(
            SmsRequest(
                sender=name,
                to=data["to"],
                body=data["body"],
                category=parse_category(data.get("category")),
                from_number=data.get("from"),
                send_at=parse_send_at(data.get("send_at"), now),
                api="v1",
            ),
            now,
        )
        headers = {"X-Gateway-Decision": outcome.id}
        if outcome.status == "rejected":
            return web.json_response(
                {"id": outcome.id, "status": "rejected", "violations": violations_json(outcome)},
                status=422,
                headers=headers,
            )
        if outcome.status == "deferred":
            return web.json_response(
                {"id": outcome.id, "status": "deferred", "send_at": outcome.send_at.isoformat()},
                status=202,
                headers=headers,
            )
        if outcome.status == "failed":
            error = failure_error(outcome, ctx.config.sms.retry_after)
            error.headers.update(headers)
            raise error
        body = {"id": outcome.id, "status": "relayed", "provider_id": outcome.sent.provider_id}
        if outcome.violations:  # monitor mode: sent, and what enforcement would have refused
            body["violations"] = violations_json(outcome)
        return web.json_response(body, status=201, headers=headers)

    return post_sms
