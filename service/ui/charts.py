"""Stacked bar charts as plain geometry for an inline SVG template (no chart library, nothing downloaded)."""

from __future__ import annotations

import math
from typing import Any

# Tableau 10: distinguishable, and readable for the commonest colour-vision deficiencies.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


OTHER = "#c3c9d1"  # 'Other' is grey: it is not one thing


def nice_max(value: int) -> int:
    """A round axis maximum at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def tick_step(y_max: int) -> int:
    """Whole-number gridlines, four or five of them: 10 -> 2, 20 -> 5, 50 -> 10."""
    power = 10 ** math.floor(math.log10(y_max))
    return max(1, {1: power // 5, 2: power // 2, 5: power}.get(y_max // power, power))


def month_label(key: str) -> str:
    """'2026-01' -> 'Jan 2026'."""
    year, month = key.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def stacked_bars(mix: dict[str, Any], width: int = 760, height: int = 280) -> dict[str, Any]:
    """Bars per month, one segment per series, in SVG user units; also the numbers for the table beside it.

    Args:
        mix: `months` (YYYY-MM keys) and `series` (each a `name` and `counts` per month), as
            `service.ui.views.month_mix` returns.
    """
    months, series = mix["months"], mix["series"]
    left, right, top, bottom = 48, 8, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s["counts"][i] for s in series) for i in range(len(months))]
    y_max = nice_max(max(totals, default=0))
    slot = plot_w / max(len(months), 1)
    bar_w = min(56.0, slot * 0.7)
    colours = {s["name"]: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)} | {"Other": OTHER}
    bars = []
    for i, key in enumerate(months):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        segments = []
        for s in series:
            n = s["counts"][i]
            if n:
                h = plot_h * n / y_max
                y -= h
                title = f"{month_label(key)}: {s['name']}, {n} contacts ({n / totals[i]:.0%})"
                colour = colours[s["name"]]
                segments.append({"y": round(y, 1), "h": round(h, 1), "colour": colour, "title": title})
        bars.append(
            {
                "x": round(x, 1),
                "w": round(bar_w, 1),
                "label": month_label(key),
                "label_x": round(x + bar_w / 2, 1),
                "total": totals[i],
                "segments": segments,
            }
        )
    values = range(0, y_max + 1, tick_step(y_max))
    ticks = [{"y": round(top + plot_h - plot_h * v / y_max, 1), "label": f"{v:,}"} for v in values]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right_edge": width - right,
        "baseline": top + plot_h,
        "label_y": height - 8,
        "bars": bars,
        "ticks": ticks,
        "legend": [{"name": s["name"], "colour": colours[s["name"]]} for s in series],
        "months": [month_label(k) for k in months],
        "series": series,
        "totals": totals,
        "empty": not months,
    }
