"""What the HTTP APIs read from a request, and the 400/415 errors for what they cannot: JSON bodies,
ISO 8601 times, message categories, and the shape of an SMS request (to, body, from, send_at) that
`/v1/sms`, the Twilio-compatible API and `/v1/check` share."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web

from ..config import Sender
from ..model import Category
from ..sms import MAX_BODY
from ..times import YEARS, instant
from .errors import ApiError, unreadable

MAX_SCHEDULE = timedelta(days=35)  # as far ahead as Twilio schedules
_CATEGORIES = {c.value: c for c in Category}


def check_text(
    sender: Sender, to: object, body: object, from_number: object, *, body_required: bool = True
) -> None:
    """What makes a request malformed (400), whatever the API; whether the text may go is the rules' call."""
    if not isinstance(to, str) or not to.strip():
        raise ApiError(
            400,
            "MISSING_TO",
            "'to' is required: the recipient's number in E.164 (+15551234567)",
            twilio_code=21604,
        )
    if len(to) > 64:
        raise ApiError(400, "BAD_REQUEST", "'to' is too long to be a phone number", twilio_code=21211)
    if body_required and (not isinstance(body, str) or not body.strip()):
        raise ApiError(400, "MISSING_BODY", "'body' is required and may not be empty", twilio_code=21602)
    if isinstance(body, str) and len(body) > MAX_BODY:
        raise ApiError(
            400, "BODY_TOO_LONG", f"'body' has {len(body)} characters; at most {MAX_BODY}", twilio_code=21617
        )
    if from_number is not None and from_number not in sender.sms_from:
        allowed = ", ".join(sender.sms_from) or "none configured"
        raise ApiError(
            400,
            "FROM_NOT_ALLOWED",
            f"'from' {from_number!r} is not one of sender {sender.name}'s numbers ({allowed})",
            twilio_code=21606,
        )


def parse_category(value: object) -> Category | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.strip().lower() not in _CATEGORIES:
        raise ApiError(
            400, "BAD_CATEGORY", f"category must be one of {', '.join(_CATEGORIES)}", twilio_code=79100
        )
    return _CATEGORIES[value.strip().lower()]


def parse_time(value: object, name: str, code: str = "BAD_TIME", **extra) -> datetime | None:
    """An ISO 8601 time with its offset, in UTC; None when absent; 400 `code` when it is not one."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return instant(value, offset_required=True)
    except ValueError:
        pass
    raise ApiError(
        400,
        code,
        f"{name} must be an ISO 8601 time with its offset in {YEARS}, e.g. 2026-05-05T14:00:00-04:00",
        **extra,
    )


def parse_send_at(value: object, now: datetime) -> datetime | None:
    at = parse_time(value, "send_at", "BAD_SEND_AT", twilio_code=79100)
    if at is None:
        return None
    if at - now > MAX_SCHEDULE:
        raise ApiError(400, "BAD_SEND_AT", "send_at may be at most 35 days ahead", twilio_code=79100)
    return at  # parse_time answers in UTC already


def _strings(data: object):
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield key
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


async def read_body(request: web.Request, limit: int, too_large: str) -> bytes:
    """The whole body, up to `limit` bytes (413 `too_large` past it). Not `request.content.read(n)`:
    that answers with what has arrived so far, and a big upload would be taken cut short."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "TOO_LARGE", too_large)
    chunks, size = [], 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "TOO_LARGE", too_large)
        chunks.append(chunk)
    return b"".join(chunks)


async def posted_form(request: web.Request):
    """`request.post()`, its failures on a body nobody should send a 400: a charset no codec has
    (LookupError), a Content-Transfer-Encoding aiohttp does not know (RuntimeError), bytes that are not
    the charset's (ValueError)."""
    try:
        return await request.post()
    except (ValueError, LookupError, RuntimeError) as exc:
        raise ApiError(400, "BAD_REQUEST", f"the form cannot be read ({type(exc).__name__})") from None


async def read_json(request: web.Request) -> dict:
    if request.content_type != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send JSON (Content-Type: application/json)")
    raw = await request.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "BAD_REQUEST", "request body is not UTF-8") from None
    except ValueError as exc:
        raise ApiError(400, "BAD_REQUEST", f"request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "BAD_REQUEST", "request body must be a JSON object")
    if any(unreadable(text) for text in _strings(data)):  # JSON's \u escapes can spell either
        raise ApiError(
            400, "BAD_REQUEST", "a string in the request holds a NUL or a lone surrogate (\\ud800-\\udfff)"
        )
    return data


def check_twilio_fields(sender: Sender, form: Mapping[str, str], own: tuple[str | None, ...]) -> None:
    """Twilio fields that name things of the gateway's Twilio account, which every sender shares: a sender
    may name only its own messaging service, and status callbacks only to a public http(s) URL (on one of its
    `status_callback_hosts` when it has them), never to the gateway itself. Twilio's error codes."""
    service = form.get("MessagingServiceSid")
    if service and service != sender.messaging_service_sid:
        raise ApiError(
            400,
            "BAD_MESSAGING_SERVICE",
            "MessagingServiceSid is not one of this account's",
            twilio_code=21701,
        )
    if form.get("ApplicationSid"):
        raise ApiError(
            400,
            "BAD_APPLICATION",
            "ApplicationSid is not accepted here: use StatusCallback",
            twilio_code=21609,
        )
    callback = form.get("StatusCallback")
    if callback and not _callback_ok(callback, sender.status_callback_hosts, own):
        raise ApiError(
            400,
            "BAD_STATUS_CALLBACK",
            "StatusCallback must be an http(s) URL on a public host of this account's",
            twilio_code=21609,
        )


def _callback_ok(url: str, hosts: tuple[str, ...], own: tuple[str | None, ...]) -> bool:
    if len(url) > 2048 or not url.isprintable():
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        return False
    gateway = {(urlsplit(u).hostname or "").rstrip(".").lower() for u in own if u}
    if host in gateway or not _public_host(host):
        return False
    return not hosts or any(host == h or host.endswith("." + h) for h in hosts)


_PRIVATE_SUFFIXES = (".local", ".localhost", ".internal", ".invalid", ".test", ".home.arpa", ".lan", ".corp")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _public_host(host: str) -> bool:
    """A name or an address anyone on the internet reaches: not loopback, private, link-local, a
    special-use name, nor an address written in a form only C libraries read (127.1, 0x7f.0.0.1)."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            address = None
    if address is not None:
        return _global(address)
    if "." not in host or host == "localhost" or host.endswith(_PRIVATE_SUFFIXES):
        return False
    return not host.rsplit(".", 1)[-1].isdigit()


def _global(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _global(embedded)
    return address.is_global
