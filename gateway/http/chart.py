"""Rejections per day per violation code as a stacked bar chart in SVG, drawn on the server: no script,
no external asset, nothing for the console's Content-Security-Policy to allow. A pure function of the
daily counts."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr

from ..store.base import SummaryRow

# Colour-blind-safe (Okabe-Ito, then Tol's muted), assigned to codes in order of their totals.
PALETTE = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#882255",
    "#AA4499",
    "#6699CC",
]
OTHER = "#888888"
WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
LEGEND_ROW = 20
LEGEND_COLUMNS = 3
GRID = 4  # steps on the y axis


def grid_step(value: int, lines: int = GRID) -> int:
    """The smallest whole 1, 2 or 5 times a power of ten such that `lines` steps reach `value`."""
    need = max(value / lines, 1)
    power = 10 ** math.floor(math.log10(need))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= need)


def rejections_per_day(
    rows: Iterable[SummaryRow], first: date, last: date, channel: str | None = None
) -> tuple[list[date], dict[str, dict[date, int]]]:
    """The days from `first` to `last` and, per code, the rejected decisions that day carrying it."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if row.verdict != "rejected" or not row.code or (channel and row.channel != channel):
            continue
        day = date.fromisoformat(row.day)
        if first <= day <= last:
            counts[row.code][day] += row.count
    return days, counts


def svg(days: list[date], counts: dict[str, dict[date, int]], max_codes: int = len(PALETTE)) -> str:
    codes = sorted(counts, key=lambda c: (-sum(counts[c].values()), c))
    if len(codes) > max_codes:  # the rarest codes share one colour
        shown, rest = codes[: max_codes - 1], codes[max_codes - 1 :]
        merged: dict[date, int] = defaultdict(int)
        for code in rest:
            for day, n in counts[code].items():
                merged[day] += n
        counts = {**{c: counts[c] for c in shown}, "other codes": merged}
        codes = [*shown, "other codes"]
    colour = {code: PALETTE[i] if code != "other codes" else OTHER for i, code in enumerate(codes)}
    per_day = [sum(counts[c].get(day, 0) for c in codes) for day in days]
    step = grid_step(max(per_day, default=0))
    top = step * GRID
    legend_rows = math.ceil(len(codes) / LEGEND_COLUMNS) if codes else 1
    height = HEIGHT + legend_rows * LEGEND_ROW
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8, 1)
    total = sum(per_day)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-title" class="chart">',
        f'<title id="chart-title">Rejections per day by violation code, {days[0]} to {days[-1]}: '
        f"{total} in all</title>"
        if days
        else '<title id="chart-title">Rejections per day</title>',
    ]
    for i in range(GRID + 1):
        y = TOP + plot_h - plot_h * i / GRID
        label = f"{step * i:,}"
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#555">{label}</text>'
        )
    every = max(1, math.ceil(len(days) / 10))
    for i, day in enumerate(days):
        x = LEFT + slot * i + (slot - bar) / 2
        y = TOP + plot_h
        for code in codes:
            n = counts[code].get(day, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour[code]}">'
                f"<title>{escape(f'{day} {code}: {n}')}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="11" '
                f'fill="#555">{day:%m-%d}</text>'
            )
    for i, code in enumerate(codes):
        x = LEFT + (i % LEGEND_COLUMNS) * (plot_w / LEGEND_COLUMNS)
        y = HEIGHT + (i // LEGEND_COLUMNS) * LEGEND_ROW
        n = sum(counts[code].values())
        out.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" fill="{colour[code]}"/>')
        out.append(
            f'<text x="{x + 18:.1f}" y="{y}" font-size="12" fill="#1d1d1f" data-code={quoteattr(code)}>'
            f"{escape(code)} ({n})</text>"
        )
    if not codes:
        out.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
            f'font-size="14" fill="#555">No rejections in this period.</text>'
        )
    out.append("</svg>")
    return "".join(out)
