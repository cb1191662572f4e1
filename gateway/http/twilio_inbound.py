"""`POST /v1/webhooks/twilio/inbound`: texts people send to a sender's number (Twilio's incoming-message
webhook). STOP and its kin suppress at once, START lifts that STOP, HELP answers with the sender's help
text; free-text revocations count as STOP (`gateway/policy/replies.py`).

Twilio signs each webhook: `X-Twilio-Signature` is checked with the `twilio` package's RequestValidator
against the URL Twilio was given (`sms.inbound_url`, by default `gateway.public_url` + this path: behind
a TLS-terminating proxy the URL the gateway sees is not the one Twilio signed) and every parameter
received. A missing or wrong signature is a 403 and changes nothing.

The answer is TwiML: after an opt-out, one confirmation text with no marketing in it (47 CFR
64.1200(a)(12)); after START, the resubscription notice; after HELP, the help text; otherwise nothing.
"""

from __future__ import annotations

import logging
import os
from xml.sax.saxutils import escape

from aiohttp import web

from ..addresses import phone_info
from ..lists import OptOut
from ..model import GLOBAL_SCOPE, Channel, Reason
from ..policy.replies import Intent, reply_intent
from .errors import ApiError

log = logging.getLogger("gateway.inbound")

PATH = "/v1/webhooks/twilio/inbound"


def twiml(message: str | None = None) -> web.Response:
    body = "<Response/>" if not message else f"<Response><Message>{escape(message)}</Message></Response>"
    return web.Response(text='<?xml version="1.0" encoding="UTF-8"?>' + body, content_type="text/xml")


def make_handler(ctx):
    config = ctx.config
    by_number = {number: sender for sender in config.senders.values() for number in sender.sms_from}
    url = config.sms.inbound_url or f"{config.public_url}{PATH}"

    def validator():
        token = os.environ.get(config.sms.auth_token_env)
        if not token:
            return None
        from twilio.request_validator import RequestValidator

        return RequestValidator(token)

    async def inbound(request: web.Request) -> web.Response:
        check = validator()
        if check is None:
            log.warning(
                "inbound webhook refused: $%s is not set, signatures cannot be checked",
                config.sms.auth_token_env,
            )
            raise ApiError(
                403, "FORBIDDEN", "webhook signatures cannot be checked: no Twilio auth token configured"
            )
        if request.content_type != "application/x-www-form-urlencoded":
            raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Twilio posts application/x-www-form-urlencoded")
        try:
            form = await request.post()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "BAD_REQUEST", "the form is not valid UTF-8 form data") from None
        signed_url = url + (f"?{request.query_string}" if request.query_string else "")
        if not check.validate(
            signed_url, form, request.headers.get("X-Twilio-Signature", "")
        ):  # every parameter
            log.warning("inbound webhook with a bad signature from %s", request.remote)
            raise ApiError(403, "FORBIDDEN", "X-Twilio-Signature does not match")
        return await act(str(form.get("From", "")), str(form.get("To", "")), str(form.get("Body", "")))

    async def act(from_number: str, our_number: str, body: str) -> web.Response:
        phone = phone_info(from_number.strip())
        if phone is None:
            return twiml()
        number = phone.e164
        sender = by_number.get(our_number.strip())
        brand = sender.settings.brand if sender else "This number"
        intent = reply_intent(body)
        if intent in (Intent.STOP, Intent.STOP_ALL):
            scope = sender.name if sender is not None and intent is Intent.STOP else GLOBAL_SCOPE
            added = await ctx.lists.opt_out(
                "sms reply",
                OptOut(Channel.SMS, scope, Reason.STOP, f"sms reply: {body.strip()[:40]}", address=number),
            )
            log.info("opt-out by text reply, scope %s (%s)", scope, "new" if added else "already")
            if not added:
                return twiml()  # one confirmation, not one per repeated STOP
            return twiml(
                f"{brand}: you are unsubscribed and will receive no more messages from us. "
                "Reply START to resubscribe."
            )
        if intent is Intent.START:
            if sender is None:
                return twiml()
            lifted = await ctx.lists.opt_back_in("sms reply", Channel.SMS, number, sender.name, Reason.STOP)
            log.info("opt-in by START: %d stop entries lifted, scope %s", lifted, sender.name)
            return twiml(f"{brand}: you are resubscribed. Reply HELP for help, STOP to opt out.")
        if intent is Intent.HELP:
            text = (
                sender.settings.help_text
                if sender and sender.settings.help_text
                else f"{brand}: reply STOP to opt out."
            )
            return twiml(text)
        return twiml()

    return inbound
