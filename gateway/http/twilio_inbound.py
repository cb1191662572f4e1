"""`POST /v1/webhooks/twilio/inbound`: texts people send to a sender's number (Twilio's incoming-message
webhook). STOP and its kin suppress at once, START lifts that STOP, HELP answers with the sender's help
text; free-text revocations count as STOP (`gateway/policy/replies.py`).

Twilio signs each webhook: `X-Twilio-Signature` is checked (twilio_signature.py) against the URL Twilio
was given (`sms.inbound_url`, by default `gateway.public_url` + this path). A missing or wrong signature
is a 403 and changes nothing.

Each webhook acts once: its `MessageSid` is remembered for `REPLAY_DAYS` (in the store, so on every
instance), and a webhook whose MessageSid was seen (a captured, correctly signed START replayed after the
person texted STOP) changes nothing. Twilio's webhook carries no time of sending, so a person's keywords
take effect in the order they arrive, each once. A START without a well-formed MessageSid changes nothing
(Twilio always sends one); a STOP without one is still honoured (an opt-out is never refused).

The answer is TwiML: after an opt-out, one confirmation text with no marketing in it (47 CFR
64.1200(a)(12)); after START, the resubscription notice; after HELP, the help text; otherwise nothing.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from aiohttp import web

from ..addresses import phone_info
from ..lists import OptOut
from ..model import GLOBAL_SCOPE, Channel, Reason
from ..policy.replies import Intent, reply_intent, reply_language
from .twilio_signature import signed_form

log = logging.getLogger("gateway.inbound")

PATH = "/v1/webhooks/twilio/inbound"
REPLAY_DAYS = 730  # how long a webhook's MessageSid is remembered (a replay older than this acts again)
SEEN_KIND = "twilio-sid"
_SID = re.compile(r"(?:SM|MM)[0-9a-f]{32}")


# The one confirmation after an opt-out (no marketing in it: 47 CFR 64.1200(a)(12)), in the language the
# person wrote in; and the default HELP answer
_UNSUBSCRIBED = {
    "en": "{brand}: you are unsubscribed and will receive no more messages from us. Reply START to resubscribe.",
    "es": "{brand}: se ha dado de baja y no recibirá más mensajes nuestros. Responda START para volver a "
    "suscribirse.",
    "fr": "{brand} : vous êtes désabonné et ne recevrez plus de messages de notre part. Répondez START pour "
    "vous réabonner.",
}
_HELP = {
    "en": "{brand}: reply STOP to opt out.",
    "es": "{brand}: responda STOP o BAJA para darse de baja.",
    "fr": "{brand} : répondez STOP ou ARRET pour vous désabonner.",
}


def twiml(message: str | None = None) -> web.Response:
    body = "<Response/>" if not message else f"<Response><Message>{escape(message)}</Message></Response>"
    return web.Response(text='<?xml version="1.0" encoding="UTF-8"?>' + body, content_type="text/xml")


def make_handler(ctx):
    config = ctx.config
    by_number = {number: sender for sender in config.senders.values() for number in sender.sms_from}
    url = config.sms.inbound_url or f"{config.public_url}{PATH}"

    async def inbound(request: web.Request) -> web.Response:
        form = await signed_form(request, config, url, "inbound webhook")
        sid = str(form.get("MessageSid", ""))
        sid = sid if _SID.fullmatch(sid) else ""
        if sid and await ctx.store.seen(SEEN_KIND, sid):
            log.warning("inbound webhook %s seen before (a replay?) from %s: ignored", sid, request.remote)
            return twiml()
        answer = await act(str(form.get("From", "")), str(form.get("To", "")), str(form.get("Body", "")), sid)
        if sid:  # after it took effect: a failure before here is retried by Twilio and acts then
            await ctx.store.first_time(SEEN_KIND, sid, datetime.now(UTC))
        return answer

    async def act(from_number: str, our_number: str, body: str, sid: str) -> web.Response:
        phone = phone_info(from_number.strip())
        if phone is None:
            return twiml()
        number = phone.e164
        sender = by_number.get(our_number.strip())
        brand = sender.settings.brand if sender else "This number"
        intent = reply_intent(body, config.policy.revocation_keywords(datetime.now(UTC).date()))
        if intent in (Intent.STOP, Intent.STOP_ALL):
            scope = sender.name if sender is not None and intent is Intent.STOP else GLOBAL_SCOPE
            added = await ctx.lists.opt_out(
                "sms reply",
                OptOut(Channel.SMS, scope, Reason.STOP, f"sms reply: {body.strip()[:40]}", address=number),
            )
            log.info("opt-out by text reply, scope %s (%s)", scope, "new" if added else "already")
            if not added:
                return twiml()  # one confirmation, not one per repeated STOP
            return twiml(_UNSUBSCRIBED[reply_language(body)].format(brand=brand))
        if intent is Intent.START:
            if sender is None or not sid:
                return twiml()
            lifted = await ctx.lists.opt_back_in("sms reply", Channel.SMS, number, sender.name, Reason.STOP)
            log.info("opt-in by START: %d stop entries lifted, scope %s", lifted, sender.name)
            return twiml(f"{brand}: you are resubscribed. Reply HELP for help, STOP to opt out.")
        if intent is Intent.HELP:
            text = (
                sender.settings.help_text
                if sender and sender.settings.help_text
                else _HELP[reply_language(body)].format(brand=brand)
            )
            return twiml(text)
        return twiml()

    return inbound
