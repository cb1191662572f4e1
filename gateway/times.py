"""Times as every door reads them (API fields, CLI flags, CSV cells, report filters, Twilio's DateSent):
ISO 8601, as a moment in UTC, within the years 1000 to 9000. Each door turns the ValueError into its own
kind of refusal (a 400, a usage error, a line of an import's report)."""

from __future__ import annotations

from datetime import UTC, datetime

_EARLIEST, _LATEST = datetime(1000, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
YEARS = "the years 1000 to 8999"


def within_years(value: datetime) -> bool:
    """Between the years 1000 and 9000 in UTC: the days counted from it (a chart, a filter's end, a quiet
    hour's next morning, a day's last moment) stay within the calendar (9999-12-31T23:59-12:00 is already
    past it)."""
    try:
        return _EARLIEST <= value.astimezone(UTC) <= _LATEST
    except OverflowError:
        return False


def instant(text: str, *, offset_required: bool = False) -> datetime:
    """An ISO 8601 time as a moment in UTC; without an offset it is UTC, unless one is required.
    ValueError when it is none, or outside the years 1000 to 9000."""
    at = datetime.fromisoformat(text.strip())  # 3.11: a trailing Z too
    if at.tzinfo is None:
        if offset_required:
            raise ValueError(f"{text.strip()!r} has no offset")
        at = at.replace(tzinfo=UTC)
    if not within_years(at):
        raise ValueError(f"{text.strip()!r} is outside {YEARS}")
    return at.astimezone(UTC)
