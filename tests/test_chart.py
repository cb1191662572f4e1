"""The console's chart, a pure function of the daily counts: days without rejections still get their place,
the axis steps are whole round numbers, rare codes share a colour, and text is escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from gateway.http.chart import PALETTE, grid_step, rejections_per_day, svg
from gateway.store.base import SummaryRow

D1, D3 = date(2026, 5, 1), date(2026, 5, 3)


def rows(*items):
    return [SummaryRow(day, "acme", channel, verdict, code, n) for day, channel, verdict, code, n in items]


def test_grid_steps_are_whole_round_numbers():
    assert [grid_step(v) for v in (0, 1, 4, 5, 7, 9, 21, 399, 401, 12_345)] == [
        1,
        1,
        1,
        2,
        2,
        5,
        10,
        100,
        200,
        5000,
    ]


def test_rejected_counts_per_code_per_day_in_the_window():
    days, counts = rejections_per_day(
        rows(
            ("2026-04-30", "email", "rejected", "SUPPRESSED", 9),  # before the window
            ("2026-05-01", "email", "rejected", "SUPPRESSED", 2),
            ("2026-05-01", "sms", "rejected", "SUPPRESSED", 1),
            ("2026-05-01", "email", "relayed", "", 50),
            ("2026-05-03", "sms", "rejected", "QUIET_HOURS", 4),
        ),
        D1,
        D3,
    )
    assert days == [D1, date(2026, 5, 2), D3]
    assert {c: dict(v) for c, v in counts.items()} == {"SUPPRESSED": {D1: 3}, "QUIET_HOURS": {D3: 4}}
    _, sms_only = rejections_per_day(
        rows(("2026-05-01", "email", "rejected", "SUPPRESSED", 2)), D1, D3, "sms"
    )
    assert sms_only == {}


def test_svg_is_well_formed_with_a_bar_per_code_and_day_and_escaped_text():
    days, counts = rejections_per_day(
        rows(
            ("2026-05-01", "email", "rejected", '<b>&"', 3),
            ("2026-05-03", "email", "rejected", "SUPPRESSED", 5),
        ),
        D1,
        D3,
    )
    drawing = svg(days, counts)
    root = ET.fromstring(drawing)  # parses: nothing unescaped
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in root.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert sorted(r.find(f"{ns}title").text for r in bars) == [
        '2026-05-01 <b>&": 3',
        "2026-05-03 SUPPRESSED: 5",
    ]
    assert "<b>" not in drawing and "8 in all" in drawing
    assert [t.text for t in root.iter(f"{ns}text")][:5] == ["0", "2", "4", "6", "8"]


def test_rare_codes_share_one_colour_past_the_palette():
    many = rows(
        *[("2026-05-01", "email", "rejected", f"CODE_{i:02}", 100 - i) for i in range(len(PALETTE) + 3)]
    )
    days, counts = rejections_per_day(many, D1, D1)
    drawing = svg(days, counts)
    assert "CODE_00 (100)" in drawing and "other codes (" in drawing and "CODE_18" not in drawing
    assert "No rejections in this period." in svg(days, {})
