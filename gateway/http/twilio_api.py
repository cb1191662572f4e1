"""Twilio-compatible `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, so an app keeps the official
`twilio` client and changes only its base URL.

Basic auth `AccountSid:API key` maps to the sender with that `twilio_account_sid`. Form fields as Twilio
takes them; the ones Twilio knows are passed to the provider untouched, unknown ones are dropped (Twilio
ignores them too). The gateway's own: `Category` (form) or `X-Gateway-Category` (header), else the
sender's category. Answers: Twilio's Message JSON (201; `status` "scheduled" for a held text), or
Twilio's error JSON with status 400 and the first violation's Twilio code (declared with the code in
policy/codes.py: Twilio's own where one means the same, else the gateway's 791xx).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, web

from ..policy.codes import twilio_code
from ..sms import SmsOutcome, SmsRequest
from ..sms.messages import held_sid
from ..sms.providers import message_json
from ..store.base import Fields
from .auth import twilio_basic
from .errors import ApiError, twilio_error_body, unreadable
from .fields import check_text, check_twilio_fields, parse_category, parse_send_at
from .sms_api import failure_error, violations_json

# The Messages fields of Twilio's API (CreateMessageRequest in its OpenAPI description, a copy of which is
# tests/twilio/messages_v2010.openapi.json), passed on as given.
TWILIO_FIELDS = frozenset(
    (
        "To",
        "From",
        "MessagingServiceSid",
        "Body",
        "StatusCallback",
        "ApplicationSid",
        "MaxPrice",
        "ProvideFeedback",
        "Attempt",
        "ValidityPeriod",
        "ForceDelivery",
        "ContentRetention",
        "AddressRetention",
        "SmartEncoded",
        "PersistentAction",
        "TrafficType",
        "ShortenUrls",
        "ScheduleType",
        "SendAt",
        "SendAsMms",
        "ContentVariables",
        "RiskCheck",
        "MediaUrl",
        "ContentSid",
    )
)
_FORM = ("application/x-www-form-urlencoded", "multipart/form-data")
_MAX_FIELD = 8192
_MAX_MEDIA = 10


async def read_form(request: web.Request) -> tuple[dict[str, str], list[str]]:
    """The form, strictly: UTF-8, each field once but `MediaUrl`, which an MMS may give up to ten times
    (Twilio's limit); (the other fields, the media URLs in their order)."""
    if request.content_type not in _FORM:
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "send a form (application/x-www-form-urlencoded)",
            twilio_code=79100,
        )
    pairs: list[tuple[str, str]] = []
    try:
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise ApiError(400, "BAD_REQUEST", "nested multipart is not a form", twilio_code=79100)
                if part.filename is not None:
                    raise ApiError(400, "BAD_REQUEST", "file uploads are not accepted", twilio_code=79100)
                pairs.append((part.name or "", (await part.read(decode=False)).decode("utf-8")))
        else:
            raw = await request.read()
            pairs = parse_qsl(
                raw.decode("ascii"),
                keep_blank_values=True,
                strict_parsing=False,
                encoding="utf-8",
                errors="strict",
            )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(
            400,
            "BAD_REQUEST",
            f"the form is not valid UTF-8 form data ({type(exc).__name__})",
            twilio_code=79100,
        ) from None
    form: dict[str, str] = {}
    media: list[str] = []
    for key, value in pairs:
        if len(value) > _MAX_FIELD and key != "Body":
            raise ApiError(400, "BAD_REQUEST", f"field {key!r} is too long", twilio_code=79100)
        if key == "MediaUrl" and not unreadable(value):
            media.append(value)
            if len(media) > _MAX_MEDIA:
                raise ApiError(
                    400, "TOO_MANY_MEDIA", f"at most {_MAX_MEDIA} MediaUrl values", twilio_code=21623
                )
            continue
        if key in form:
            raise ApiError(400, "BAD_REQUEST", f"field {key!r} given twice", twilio_code=79100)
        if unreadable(key) or unreadable(value):
            raise ApiError(400, "BAD_REQUEST", f"field {key[:40]!r} holds a NUL", twilio_code=79100)
        form[key] = value
    return form, media


def _message(outcome: SmsOutcome, account_sid: str, now: datetime) -> dict:
    if outcome.status == "deferred":
        return message_json(
            sid=held_sid(outcome.id),
            account_sid=account_sid,
            fields=outcome.fields,
            status="scheduled",
            created=now,
        )
    sent = outcome.sent
    assert sent is not None, "a relayed outcome carries what the provider answered"
    message = (
        dict(sent.message)
        if sent.message
        else message_json(
            sid=sent.provider_id,
            account_sid=account_sid,
            fields=outcome.fields,
            status=sent.status,
            created=now,
            sent=now if sent.status == "sent" else None,
        )
    )
    sid = message.get("sid") or sent.provider_id
    message["account_sid"] = account_sid  # the client's account, as Twilio would answer it
    message["uri"] = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"
    if isinstance(message.get("subresource_uris"), dict):
        message["subresource_uris"] = {"media": message["uri"].replace(".json", "/Media.json")}
    return message


def make_handler(ctx):
    async def create_message(request: web.Request) -> web.Response:
        account_sid = request.match_info["account_sid"]
        sender = await twilio_basic(request, ctx.credentials, account_sid)
        form, media = await read_form(request)
        to, body = form.get("To"), form.get("Body")
        from_number = form.get("From") or None
        if (
            not from_number
            and not form.get("MessagingServiceSid")
            and not sender.sms_from
            and not sender.messaging_service_sid
        ):
            raise ApiError(
                400,
                "MISSING_FROM",
                "A 'From' phone number or MessagingServiceSid is required",
                twilio_code=21603,
            )
        check_text(
            sender,
            to,
            body,
            from_number,
            body_required=not media and not form.get("ContentSid"),
        )
        check_twilio_fields(sender, form, (ctx.config.public_url, ctx.config.sms.inbound_url))
        category = parse_category(form.get("Category") or request.headers.get("X-Gateway-Category"))
        now = datetime.now(UTC)
        send_at = (
            parse_send_at(form["SendAt"].replace("Z", "+00:00"), now)
            if form.get("SendAt") and form.get("ScheduleType") == "fixed"
            else None
        )
        fields: Fields = {
            k: v for k, v in form.items() if k in TWILIO_FIELDS and k not in ("To", "Body", "From")
        }
        if media:  # one as Twilio's client sends one, several as a list (sent on as the field repeated)
            fields["MediaUrl"] = media[0] if len(media) == 1 else media
        if send_at is not None:  # the gateway holds it and sends it then, judged at that time
            fields.pop("SendAt", None)
            fields.pop("ScheduleType", None)
        outcome = await ctx.sms.send(
            SmsRequest(
                sender=sender.name,
                to=str(to),  # check_text made sure it is there
                body=body or "",
                category=category,
                from_number=from_number,
                fields=fields,
                send_at=send_at,
                api="twilio",
            ),
            now,
        )
        headers = {"X-Gateway-Decision": outcome.id}
        if outcome.status == "rejected":
            first = outcome.violations[0].code if outcome.violations else "REJECTED"
            message = "; ".join(f"{v.code}: {v.message}" for v in outcome.violations)
            return web.json_response(
                twilio_error_body(400, twilio_code(first), message, violations=violations_json(outcome)),
                status=400,
                headers=headers,
            )
        if outcome.status == "failed":
            error = failure_error(outcome, ctx.config.sms.retry_after, twilio=True)
            if (
                error.code == "PROVIDER_REFUSED" and outcome.failure.body
            ):  # Twilio's own answer, as it gave it
                return web.json_response(outcome.failure.body, status=outcome.failure.status, headers=headers)
            error.headers.update(headers)
            raise error
        return web.json_response(_message(outcome, account_sid, now), status=201, headers=headers)

    return create_message
