"""Who is calling: `Authorization: Bearer <api key>`, or Basic `account_sid:api key` on Twilio's paths."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web

from ..config import Sender
from ..credentials import OPS, Blocked, Credentials
from .errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gateway"'}
_BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="gateway"'}
_MAX_KEY = 512
T = TypeVar("T")


async def guarded(check: Awaitable[T], twilio_code: int | None = None) -> T:
    """A credential check; a client (or account) blocked for guessing gets 429 with Retry-After."""
    try:
        return await check
    except Blocked as exc:
        raise ApiError(
            429,
            "TOO_MANY_ATTEMPTS",
            f"too many failed attempts: try again in {exc.retry_after} s",
            twilio_code=twilio_code,
            headers={"Retry-After": str(exc.retry_after)},
        ) from None


async def bearer(request: web.Request, credentials: Credentials) -> str:
    """The sender name (or OPS) of the request's API key; 401 without a valid one."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiError(
            401, "UNAUTHORIZED", "send an API key: Authorization: Bearer <key>", headers=_CHALLENGE
        )
    if len(key) > _MAX_KEY or not key.isprintable():
        raise ApiError(401, "UNAUTHORIZED", "invalid API key", headers=_CHALLENGE)
    who = await guarded(credentials.api_key(key, request.remote))
    if who is None:
        raise ApiError(401, "UNAUTHORIZED", "invalid API key", headers=_CHALLENGE)
    return who


async def sender_key(request: web.Request, credentials: Credentials) -> str:
    who = await bearer(request, credentials)
    if who == OPS:
        raise ApiError(403, "FORBIDDEN", "ops keys read and manage; sending needs a sender's API key")
    return who


async def twilio_basic(request: web.Request, credentials: Credentials, account_sid: str) -> Sender:
    """The sender whose twilio_account_sid is both the Basic user name and the path's AccountSid."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise ApiError(
            401,
            "UNAUTHORIZED",
            "authenticate with HTTP Basic: your AccountSid and API key",
            twilio_code=20003,
            headers=_BASIC_CHALLENGE,
        )
    try:
        user, sep, key = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, sep, key = "", "", ""
    if not sep or not key or len(key) > _MAX_KEY:
        raise ApiError(
            401, "UNAUTHORIZED", "malformed Basic credentials", twilio_code=20003, headers=_BASIC_CHALLENGE
        )
    if user != account_sid and not user.startswith("SK"):  # an API key sid names its account by config
        raise ApiError(
            403, "FORBIDDEN", "the credentials are not for the account in the path", twilio_code=20003
        )
    sender = await guarded(credentials.twilio_basic(user, key, request.remote), twilio_code=20429)
    if sender is not None and sender.twilio_account_sid != account_sid:
        raise ApiError(
            403, "FORBIDDEN", "the credentials are not for the account in the path", twilio_code=20003
        )
    if sender is None:
        raise ApiError(
            401,
            "UNAUTHORIZED",
            "unknown account or wrong API key",
            twilio_code=20003,
            headers=_BASIC_CHALLENGE,
        )
    return sender
