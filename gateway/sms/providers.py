"""Where texts that pass go: the local outbox (default) or Twilio (or anything that speaks its API).

A provider takes Twilio's Messages fields (`To`, `From`, `Body`, `MessagingServiceSid`, `StatusCallback`,
...) and answers with the provider's message id and its Message JSON, or raises:
`ProviderRefused` (the provider answered no: its status, code and message) or `ProviderUnavailable`
(unreachable, timed out, or a 5xx: worth retrying later).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import urlsplit

from ..config import Config
from ..model import Category
from ..store import Store
from ..store.base import Fields, OutboxMessage, field_text

log = logging.getLogger("gateway.sms")

STATUS_PATH = "/v1/webhooks/twilio/status"  # where Twilio's status callbacks for the gateway's texts go
_PROVIDER_SID = re.compile(r"[\x21-\x7e]{1,64}")  # Twilio's SM/MM + 32 hex, or another provider's own id
_STATE = re.compile(r"[a-z_]{1,24}")  # a MessageStatus (queued, accepted, sent...)


@dataclass(frozen=True)
class Sent:
    provider_id: str
    status: str = "queued"  # as Twilio reports it: queued, accepted, sent...
    message: dict = field(default_factory=dict)  # the provider's Message JSON, when it gave one
    outbox: OutboxMessage | None = (
        None  # outbox provider: the row to store with the decision (that is the send)
    )


class ProviderRefused(Exception):
    def __init__(self, status: int, code: int | None, message: str, body: dict | None = None) -> None:
        super().__init__(f"{status} {code or ''} {message}".strip())
        self.status, self.code, self.message, self.body = status, code, message, body or {}


class ProviderUnavailable(Exception):
    """Nothing was sent, as far as the gateway can tell; the client may retry. `status` is the provider's
    own 5xx/429 answer, None when it did not answer at all (unreachable, reset, timed out)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Provider(Protocol):
    name: str

    async def send(self, sender: str, category: Category, fields: Fields) -> Sent: ...

    async def close(self) -> None: ...


def new_message_sid() -> str:
    return "SM" + secrets.token_hex(16)


def rfc2822(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC), usegmt=True).replace("GMT", "+0000")


def message_json(
    *,
    sid: str,
    account_sid: str,
    fields: Fields,
    status: str,
    created: datetime,
    sent: datetime | None = None,
) -> dict:
    """Twilio's Message resource (API 2010-04-01) for a text the gateway answers for itself."""
    body = field_text(fields, "Body") or ""
    gsm = body.isascii()
    per_segment = (153 if len(body) > 160 else 160) if gsm else (67 if len(body) > 70 else 70)
    segments = max(1, -(-len(body) // per_segment))
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": rfc2822(created),
        "date_sent": rfc2822(sent) if sent else None,
        "date_updated": rfc2822(sent or created),
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": field_text(fields, "From"),
        "messaging_service_sid": field_text(fields, "MessagingServiceSid"),
        "num_media": str(len(media) if isinstance(media := fields.get("MediaUrl", []), list) else 1),
        "num_segments": str(segments),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "to": field_text(fields, "To"),
        "uri": uri,
    }


class OutboxProvider:
    """Stores each text in the database as sent. The row is written in the same transaction as the text's
    decision (one commit: stored and decided together, or neither), so `send` itself writes nothing."""

    name = "outbox"

    def __init__(self, store: Store | None = None) -> None:
        self.store = store

    async def send(self, sender: str, category: Category, fields: Fields) -> Sent:
        now = datetime.now(UTC)
        sid = new_message_sid()
        message = OutboxMessage(
            id=sid,
            at=now,
            sender=sender,
            recipient=field_text(fields, "To") or "",
            from_number=field_text(fields, "From"),
            body=field_text(fields, "Body") or "",
            category=category,
            fields=dict(fields),
        )
        return Sent(sid, "sent", outbox=message)

    async def close(self) -> None:
        return None


class TwilioProvider:
    """The official `twilio` package's async client, against `base_url` (Twilio, or anything speaking its
    API). Every call is bounded by its own timeout: the async HTTP client ignores the one it is given."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str,
        timeout: float,
        status_url: str | None = None,
    ) -> None:
        self.account_sid, self.base_url, self.timeout = account_sid, base_url.rstrip("/"), timeout
        self.status_url = status_url  # given as StatusCallback when the client gave none
        self._auth_token = auth_token
        self._client = None  # created inside the running loop (its aiohttp session binds to it)

    def _twilio(self):
        if self._client is None:
            from twilio.http.async_http_client import AsyncTwilioHttpClient
            from twilio.rest import Client

            self._client = Client(self.account_sid, self._auth_token, http_client=AsyncTwilioHttpClient())
        return self._client

    async def send(self, sender: str, category: Category, fields: Fields) -> Sent:
        import aiohttp

        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        try:
            async with asyncio.timeout(self.timeout):  # in this task: wait_for would start another
                form = [
                    (k, v)
                    for k, values in fields.items()
                    for v in (values if isinstance(values, list) else [values])
                ]
                if self.status_url and not fields.get("StatusCallback"):
                    form.append(("StatusCallback", self.status_url))
                response = await self._twilio().request_async("POST", url, data=form)  # MediaUrl repeats
        except TimeoutError:
            raise ProviderUnavailable(f"twilio: no answer within {self.timeout:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderUnavailable(f"twilio: {type(exc).__name__}: {exc}") from None
        try:
            body = json.loads(response.text) if response.text else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        status = response.status_code
        if 200 <= status < 300:  # taken: never "nothing was sent", which would have it sent again
            sid, state = body.get("sid"), body.get("status")
            state = state if isinstance(state, str) and _STATE.fullmatch(state) else "queued"
            if isinstance(sid, str) and _PROVIDER_SID.fullmatch(sid):
                return Sent(sid, state, body)
            log.warning("twilio: HTTP %d without a message sid: taken, under a sid of the gateway's", status)
            return Sent(new_message_sid(), state)
        if status >= 500 or status == 429 or not 400 <= status < 500:
            raise ProviderUnavailable(f"twilio: HTTP {status}: {_short(response.text)}", status)
        code = body.get("code") if isinstance(body.get("code"), int) else None
        raise ProviderRefused(status, code, str(body.get("message") or _short(response.text)), body)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()


def _short(text: str, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def twilio_credentials(config: Config) -> tuple[str, str]:
    """The provider account and auth token the twilio provider sends with; ValueError naming what is missing."""
    sms = config.sms
    account = sms.account_sid or os.environ.get(sms.account_sid_env)
    token = os.environ.get(sms.auth_token_env)
    if not account or not token:
        missing = "account_sid (or $" + sms.account_sid_env + ")" if not account else "$" + sms.auth_token_env
        raise ValueError(f'sms.provider = "twilio" needs {missing}')
    return account, token


def status_callback_url(config: Config) -> str | None:
    """The StatusCallback the gateway gives Twilio for texts whose client gave none: `sms.status_url`, else
    the public URL's path when Twilio can reach it (not a loopback address); None when not asked for."""
    if not config.sms.status_callbacks:
        return None
    if config.sms.status_url:
        return config.sms.status_url
    host = (urlsplit(config.public_url).hostname or "").lower()
    if host in ("localhost", "::1") or host.startswith("127."):
        return None
    return f"{config.public_url}{STATUS_PATH}"


def make_provider(config: Config, store: Store) -> Provider:
    if config.sms.provider == "outbox":
        return OutboxProvider(store)
    account, token = twilio_credentials(config)
    return TwilioProvider(
        account, token, config.sms.base_url, config.sms.timeout, status_callback_url(config)
    )
