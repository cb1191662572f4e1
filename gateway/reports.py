"""Shapes of the decision log for people and programs, shared by the HTTP API and `gateway report`."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from .model import Channel, Decision
from .store.base import to_text
from .times import YEARS, instant, within_years

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
    """ISO 8601 (no offset: UTC), or a span back from now: 30m, 24h, 7d, 2w. ValueError otherwise, and for
    a time outside the years 1000 to 9000 (9999-12-31T23:59-12:00 is past the last UTC year: the days
    counted from it, in a page's chart or a filter's end, would be too)."""
    if m := _RELATIVE.fullmatch(text.strip()):
        value = now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        if within_years(value):
            return value
        raise ValueError(f"{text.strip()!r} is outside {YEARS}")
    return instant(text)


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
        **email_detail(d),
    }


def email_detail(d: Decision) -> dict:
    """An email decision's campaign fields and evidence (gateway/mail/evidence.py), when it has them."""
    if d.channel is not Channel.EMAIL or not d.detail:
        return {}
    try:
        found = json.loads(d.detail)
    except ValueError:
        return {}
    return {k: found[k] for k in ("fields", "evidence") if isinstance(found, dict) and k in found}


_FORMULA = re.compile(r"[=+\-@\t\r\n\uff1d\uff0b\uff0d\uff20]")  # what a spreadsheet may read as a formula
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")  # E.164 numbers, sizes: left as they are


def cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run (CSV injection, OWASP): text that starts like a formula gets
    a leading apostrophe, which spreadsheets show as text; plain numbers (+13055550123) stay as they are."""
    if isinstance(value, str) and _escaped(value):
        return "'" + value
    return value


def _escaped(value: str) -> bool:
    """A value `cell` writes with an apostrophe first: formula-like, or starting with one already (so
    that `uncell` reads every cell back as it was)."""
    return value.startswith("'") or (bool(_FORMULA.match(value)) and not _NUMBER.fullmatch(value))


def uncell(value: str) -> str:
    """What `cell` was given, from what it wrote: an export read back in (suppression import)."""
    return value[1:] if value.startswith("'") and _escaped(value[1:]) else value


def csv_row(d: Decision) -> list:
    return [
        d.id,
        to_text(d.at),
        d.channel.value,
        cell(d.sender),
        cell(d.recipient),
        d.category.value,
        d.verdict.value,
        " ".join(dict.fromkeys(v.code for v in d.violations)),
        cell(d.excerpt),
        d.size,
        cell(d.upstream),
        cell(d.message_id),
    ]
