"""Holidays on which a state's law allows no telephone solicitation at all (texts included), by name.

A law file's rule lists them (`holidays = ["new_year", "christmas", "07-24"]`): a name from `NAMED`, or a
fixed date "MM-DD" for a state's own holiday. A holiday fixed on a date that falls on a Saturday or Sunday
is also kept on the weekday it is observed on (the Friday before, the Monday after: 5 U.S.C. 6103(b) and
most states' holiday laws), the stricter reading where a statute says only "legal holiday".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache


def _nth(weekday: int, n: int, month: int) -> Callable[[int], date]:
    """The n-th `weekday` (0 = Monday) of `month`; n = -1: the last one."""

    def day(year: int) -> date:
        if n > 0:
            first = date(year, month, 1)
            return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
        last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)

    return day


def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian computus, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    return date(year, month, (h + ell - 7 * m + 114) % 31 + 1)


def _monday_before_if_midweek(day: date) -> date:
    return day - timedelta(days=day.weekday()) if 1 <= day.weekday() <= 4 else day


def _fixed(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


# Movable ones are never on a weekend; fixed ones are observed on the nearest weekday too.
NAMED: dict[str, Callable[[int], date]] = {
    "new_year": _fixed(1, 1),
    "mlk": _nth(0, 3, 1),
    "washington": _nth(0, 3, 2),
    "mardi_gras": lambda year: _easter(year) - timedelta(days=47),
    "good_friday": lambda year: _easter(year) - timedelta(days=2),
    "memorial": _nth(0, -1, 5),
    "juneteenth": _fixed(6, 19),
    "independence": _fixed(7, 4),
    "labor": _nth(0, 1, 9),
    "columbus": _nth(0, 2, 10),
    "veterans": _fixed(11, 11),
    "thanksgiving": _nth(3, 4, 11),
    "day_after_thanksgiving": lambda year: _nth(3, 4, 11)(year) + timedelta(days=1),
    "christmas": _fixed(12, 25),
    # states' own movable holidays
    "confederate_memorial": _nth(0, 4, 4),  # Alabama, Ala. Code 1-3-8: the fourth Monday in April
    "jefferson_davis": _nth(0, 1, 6),  # Alabama, Ala. Code 1-3-8: the first Monday in June
    "victory_day": _nth(0, 2, 8),  # Rhode Island, R.I. Gen. Laws 25-1-1: the second Monday in August
    # Utah, Utah Code 63G-1-301(2)(c): Juneteenth falling Tuesday to Friday is kept on the Monday before
    "juneteenth_ut": lambda year: _monday_before_if_midweek(date(year, 6, 19)),
    # the Tuesday after the first Monday in November, kept every year (stricter than even years only)
    "election_day": lambda year: _nth(0, 1, 11)(year) + timedelta(days=1),
}
_FIXED = frozenset({"new_year", "juneteenth", "independence", "veterans", "christmas"})


_MONTH_DAY = re.compile(r"[0-9]{2}-[0-9]{2}", re.ASCII)


def valid_holiday(name: str) -> bool:
    """A catalogue name, or a real "MM-DD" date (02-29 included)."""
    if name in NAMED:
        return True
    if not _MONTH_DAY.fullmatch(name):
        return False
    try:
        date(2024, int(name[:2]), int(name[3:]))
    except ValueError:
        return False
    return True


def _dates(name: str, year: int) -> tuple[date, ...]:
    if name in NAMED:
        day, fixed = NAMED[name](year), name in _FIXED
    else:
        month, dom = int(name[:2]), int(name[3:])
        if month == 2 and dom == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
            return ()
        day, fixed = date(year, month, dom), True
    if fixed and day.weekday() == 5:
        return day, day - timedelta(days=1)
    if fixed and day.weekday() == 6:
        return day, day + timedelta(days=1)
    return (day,)


@lru_cache(maxsize=256)
def holidays_in(names: frozenset[str], year: int) -> frozenset[date]:
    """Every day of `year` (and the observed Friday of next year's New Year's Day) the names fall on."""
    days = {d for name in names for y in (year, year + 1) for d in _dates(name, y)}
    return frozenset(d for d in days if d.year == year)


def is_holiday(day: date, names: frozenset[str]) -> bool:
    return bool(names) and day in holidays_in(names, day.year)
