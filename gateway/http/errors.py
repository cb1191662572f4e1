"""Every HTTP error as JSON, never a traceback: `{"error": {"code", "message"}}`, or Twilio's error JSON
`{"code", "message", "more_info", "status"}` on the Twilio-compatible paths."""

from __future__ import annotations

import logging
import re
import time

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..lists import ListsError
from ..store import StoreError

log = logging.getLogger("gateway.http")

TWILIO_PREFIX = "/2010-04-01/"
_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL",
    502: "BAD_GATEWAY",
    503: "UNAVAILABLE",
}
# Twilio's own codes for the HTTP-level failures (https://www.twilio.com/docs/api/errors)
_TWILIO_BY_STATUS = {
    401: 20003,
    403: 20003,
    404: 20404,
    405: 20004,
    413: 21617,
    429: 20429,
    500: 20500,
    502: 20500,
    503: 20503,
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        twilio_code: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.twilio_code = twilio_code
        self.headers = headers or {}
        self.extra = extra or {}


def twilio_error_body(status: int, code: int, message: str, **extra) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
        **extra,
    }


def error_response(request: web.Request, error: ApiError) -> web.Response:
    if request.path.startswith(TWILIO_PREFIX):
        code = error.twilio_code or _TWILIO_BY_STATUS.get(
            error.status, 20001 if error.status < 500 else 20500
        )
        body = twilio_error_body(error.status, code, error.message, **error.extra)
    else:
        body = {"error": {"code": error.code, "message": error.message}, **error.extra}
    return web.json_response(body, status=error.status, headers=error.headers)


def _from_http(exc: web.HTTPException) -> ApiError:
    status = exc.status
    message = {404: "no such endpoint", 405: "method not allowed here", 413: "request body too large"}.get(
        status, exc.reason or "error"
    )
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    return ApiError(status, _BY_STATUS.get(status, f"HTTP_{status}"), message, headers=headers)


_UNREADABLE = re.compile("[\x00\ud800-\udfff]")


def unreadable(value: str) -> bool:
    """A NUL or a lone surrogate: not text any store, provider or reader should be handed."""
    return _UNREADABLE.search(value) is not None


def _check_address(request: web.Request) -> None:
    """The path's parts and the query, decoded, hold no NUL or lone surrogate (no store takes them)."""
    for text in (*request.match_info.values(), *request.query.keys(), *request.query.values()):
        if unreadable(text):
            raise ApiError(
                400, "BAD_REQUEST", "the path or query holds a NUL or a character that is not text"
            )


def make_middleware(metrics, retry_after: int):
    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        start = time.perf_counter()
        try:
            _check_address(request)
            response = await handler(request)
        except ApiError as exc:
            response = error_response(request, exc)
        except ListsError as exc:  # the lists service refused a change: the input's fault
            status = 409 if exc.kind == "permanent" else 400
            response = error_response(request, ApiError(status, exc.code, exc.message))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = error_response(request, _from_http(exc))
        except HttpProcessingError as exc:  # a body aiohttp cannot parse (a multipart part's bad header)
            response = error_response(
                request,
                ApiError(
                    400, "BAD_REQUEST", f"malformed request body: {str(exc.message)[:200]}", twilio_code=79100
                ),
            )
        except StoreError as exc:
            log.warning("store unavailable for %s %s: %s", request.method, request.path, exc)
            response = error_response(
                request,
                ApiError(
                    503,
                    "STORE_UNAVAILABLE",
                    "compliance store unavailable, try again later",
                    headers={"Retry-After": str(retry_after)},
                ),
            )
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = error_response(
                request, ApiError(500, "INTERNAL", "internal error; it has been logged")
            )
        route = (
            request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        )
        metrics.http_seconds.labels(route, str(response.status)).observe(time.perf_counter() - start)
        return response

    return middleware
