"""Shapes of the decision log for people and programs, shared by the HTTP API and `gateway report`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .model import Decision
from .store.base import to_text

CSV_COLUMNS = [
    "id",
    "at",
    "channel",
    "sender",
    "recipient",
    "category",
    "verdict",
    "codes",
    "excerpt",
    "size",
    "upstream",
    "message_id",
]
_RELATIVE = re.compile(r"(\d{1,5})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime) -> datetime:
    """ISO 8601 (no offset: UTC), or a span back from now: 30m, 24h, 7d, 2w. ValueError otherwise."""
    if m := _RELATIVE.fullmatch(text.strip()):
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def decision_json(d: Decision) -> dict:
    return {
        "id": d.id,
        "at": d.at.isoformat(),
        "channel": d.channel.value,
        "sender": d.sender,
        "recipient": d.recipient,
        "category": d.category.value,
        "verdict": d.verdict.value,
        "violations": [{"code": v.code, "message": v.message} for v in d.violations],
        "excerpt": d.excerpt,
        "size": d.size,
        "upstream": d.upstream,
        "message_id": d.message_id,
    }


def csv_row(d: Decision) -> list:
    return [
        d.id,
        to_text(d.at),
        d.channel.value,
        d.sender,
        d.recipient,
        d.category.value,
        d.verdict.value,
        " ".join(dict.fromkeys(v.code for v in d.violations)),
        d.excerpt,
        d.size,
        d.upstream,
        d.message_id,
    ]
