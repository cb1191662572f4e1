"""The one reader of times every door shares (gateway/times.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.times import instant


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-05-01T14:30:00-04:00", datetime(2026, 5, 1, 18, 30, tzinfo=UTC)),
        ("2026-05-01T14:30:00Z", datetime(2026, 5, 1, 14, 30, tzinfo=UTC)),
        (" 2026-05-01T14:30 ", datetime(2026, 5, 1, 14, 30, tzinfo=UTC)),  # no offset: UTC
        ("2026-05-01", datetime(2026, 5, 1, tzinfo=UTC)),
        ("8999-12-31T23:59:59+00:00", datetime(8999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_a_time_is_a_moment_in_utc(text, expected):
    at = instant(text)
    assert at == expected and at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "",
        "2026-13-01",
        "9999-12-31T23:59-05:00",  # past the last year in UTC: no arithmetic on it could be trusted
        "0001-01-01T00:00+05:00",
        "0999-12-31T23:59:59Z",
        "9000-01-01T00:00:01Z",
        "２０２６-05-01",  # full-width digits
    ],
)
def test_what_is_no_time_in_the_years_is_a_value_error(text):
    with pytest.raises(ValueError):
        instant(text)


def test_an_offset_may_be_required():
    with pytest.raises(ValueError, match="no offset"):
        instant("2026-05-01T14:30", offset_required=True)
    assert instant("2026-05-01T14:30+02:00", offset_required=True).hour == 12
