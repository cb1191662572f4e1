"""The decision log over HTTP: `GET /v1/decisions` (filters, cursor pages), `/v1/decisions/{id}`,
`/v1/decisions.csv` (streamed, any size) and `/v1/reports/summary` (counts per day, sender and code).

Ops keys read everything; a sender's key reads only its own sender's decisions.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from aiohttp import web

from ..credentials import OPS
from ..model import Channel, Verdict
from ..reports import CSV_COLUMNS, csv_row, decision_json, parse_when
from ..store.base import DecisionQuery
from .auth import bearer
from .console import COOKIE, session_valid
from .errors import ApiError

_CODE = re.compile(r"[A-Z][A-Z_]{1,40}")
_ID = re.compile(r"[0-9a-f]{1,32}")


def _when(text: str, name: str, now: datetime) -> datetime:
    try:
        return parse_when(text, now)
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", f"{name} must be ISO 8601 or a span such as 7d or 24h") from None


async def _reader(request: web.Request, ctx) -> str | None:
    """None for an ops key or an ops console session (every sender), else the one sender this key may read."""
    if await session_valid(ctx, request.cookies.get(COOKIE)):
        return None
    who = await bearer(request, ctx.credentials)
    return None if who == OPS else who


def query_from(request: web.Request, own_sender: str | None) -> DecisionQuery:
    q = request.query
    now = datetime.now(UTC)
    verdict, channel, code = q.get("verdict") or None, q.get("channel") or None, q.get("code") or None
    if verdict is not None and verdict not in {v.value for v in Verdict}:
        raise ApiError(400, "BAD_REQUEST", f"verdict must be one of {', '.join(v.value for v in Verdict)}")
    if channel is not None and channel not in {c.value for c in Channel}:
        raise ApiError(400, "BAD_REQUEST", "channel must be email or sms")
    if code is not None and not _CODE.fullmatch(code):
        raise ApiError(400, "BAD_REQUEST", "code must be a violation code such as SUPPRESSED")
    sender = q.get("sender") or None
    if own_sender is not None:
        if sender not in (None, own_sender):
            raise ApiError(403, "FORBIDDEN", "a sender's key reads only that sender's decisions")
        sender = own_sender
    text = q.get("q") or None
    if text is not None and len(text) > 200:
        raise ApiError(400, "BAD_REQUEST", "q is at most 200 characters")
    return DecisionQuery(
        verdict=verdict,
        channel=channel,
        code=code,
        sender=sender,
        since=_when(q["since"], "since", now) if q.get("since") else None,
        until=_when(q["until"], "until", now) if q.get("until") else None,
        text=text,
    )


def make_handlers(ctx):
    async def listing(request: web.Request) -> web.Response:
        query = query_from(request, await _reader(request, ctx))
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 500:
            raise ApiError(400, "BAD_REQUEST", "limit must be a number from 1 to 500")
        cursor = request.query.get("cursor") or None
        if cursor is not None and not _ID.fullmatch(cursor):
            raise ApiError(400, "BAD_REQUEST", "cursor is the next_cursor of a previous page")
        page = await ctx.store.decisions(limit + 1, query, cursor)
        more = len(page) > limit
        page = page[:limit]
        return web.json_response(
            {
                "decisions": [decision_json(d) for d in page],
                "next_cursor": page[-1].id if more and page else None,
            }
        )

    async def one(request: web.Request) -> web.Response:
        own = await _reader(request, ctx)
        decision_id = request.match_info["id"]
        found = await ctx.store.decision(decision_id) if _ID.fullmatch(decision_id) else None
        if found is None or (own is not None and found.sender != own):
            raise ApiError(404, "NOT_FOUND", "no such decision")
        return web.json_response(decision_json(found))

    async def export(request: web.Request) -> web.StreamResponse:
        query = query_from(request, await _reader(request, ctx))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="decisions.csv"',
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        count = 0
        async for decision in ctx.store.iter_decisions(query):
            writer.writerow(csv_row(decision))
            count += 1
            if count % 500 == 0:  # chunks of a few hundred rows: flat memory, few writes
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
        await response.write(buffer.getvalue().encode())
        await response.write_eof()
        return response

    async def summary(request: web.Request) -> web.Response:
        own = await _reader(request, ctx)
        now = datetime.now(UTC)
        since = _when(request.query.get("since", "30d"), "since", now)
        rows = await ctx.store.summary(since, own)
        return web.json_response(
            {
                "since": since.isoformat(),
                "rows": [
                    {
                        "day": r.day,
                        "sender": r.sender,
                        "channel": r.channel,
                        "verdict": r.verdict,
                        "code": r.code,
                        "count": r.count,
                    }
                    for r in rows
                ],
            }
        )

    return listing, one, export, summary
