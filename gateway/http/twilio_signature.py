"""The webhooks Twilio posts to the gateway (incoming texts, status callbacks) are signed: each is read here
and checked with the `twilio` package's RequestValidator, over every parameter received, against the URL
Twilio was given (behind a TLS-terminating proxy the URL the gateway sees is not the one Twilio signed).
A missing or wrong signature, or no auth token to check it with, is a 403 and the webhook changes nothing.
"""

from __future__ import annotations

import logging
import os

from aiohttp import web
from multidict import MultiDictProxy

from ..config import Config
from .errors import ApiError
from .fields import posted_form

log = logging.getLogger("gateway.inbound")


async def signed_form(request: web.Request, config: Config, url: str, what: str) -> MultiDictProxy:
    """The webhook's form, once its X-Twilio-Signature is found good for `url`; `what` names it in logs."""
    token = os.environ.get(config.sms.auth_token_env)
    if not token:
        log.warning(
            "%s refused: $%s is not set, signatures cannot be checked", what, config.sms.auth_token_env
        )
        raise ApiError(
            403, "FORBIDDEN", "webhook signatures cannot be checked: no Twilio auth token configured"
        )
    if request.content_type != "application/x-www-form-urlencoded":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Twilio posts application/x-www-form-urlencoded")
    form = await posted_form(request)
    from twilio.request_validator import RequestValidator

    signed_url = url + (f"?{request.query_string}" if request.query_string else "")
    if not RequestValidator(token).validate(signed_url, form, request.headers.get("X-Twilio-Signature", "")):
        log.warning("%s with a bad signature from %s", what, request.remote)
        raise ApiError(403, "FORBIDDEN", "X-Twilio-Signature does not match")
    return form
