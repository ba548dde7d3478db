"""Inline SVG charts for the report: no scripts, no network, readable when printed."""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

STRATEGY_COLOR = "#2457c5"
BUY_HOLD_COLOR = "#8a94a3"
SIDE_COLORS = {"BUY": "#1f8a4c", "SELL": "#c0392b"}


def _normalised(values: Sequence[float | None]) -> list[float | None]:
    """Each series rebased to 1.0 at its first value, so both curves start together."""
    first = next((v for v in values if v is not None and math.isfinite(v) and v != 0), None)
    if first is None:
        return [None] * len(values)
    return [v / first if v is not None and math.isfinite(v) else None for v in values]


def _thin(n: int, max_points: int) -> list[int]:
    if n <= max_points:
        return list(range(n))
    step = (n - 1) / (max_points - 1)
    return sorted({round(i * step) for i in range(max_points)})


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks, t = [], start
    while t <= hi + 1e-12:
        ticks.append(round(t, 10))
        t += step
    return ticks


def equity_svg(points: Sequence[tuple[str, float | None, float | None]], *, width: int = 860,
               height: int = 280, max_points: int = 600) -> str:
    """Strategy vs buy-and-hold growth of 1 over ``points`` = [(date, strategy, buy_hold), ...]."""
    if len(points) < 2:
        return '<p class="note">Not enough equity points to draw a curve.</p>'
    dates = [p[0] for p in points]
    strat = _normalised([p[1] for p in points])
    bh = _normalised([p[2] for p in points])
    idx = _thin(len(points), max_points)
    vals = [v for s in (strat, bh) for v in s if v is not None]
    if not vals:
        return '<p class="note">The equity curve has no values.</p>'
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.06 or 0.05
    lo, hi = lo - pad, hi + pad
    left, right, top, bottom = 56, 14, 14, 30
    pw, ph = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + pw * i / (len(points) - 1)

    def y(v: float) -> float:
        return top + ph * (1 - (v - lo) / (hi - lo))

    def path(series: list[float | None]) -> str:
        parts, pen_down = [], False
        for i in idx:
            v = series[i]
            if v is None:
                pen_down = False
                continue
            parts.append(f"{'L' if pen_down else 'M'}{x(i):.1f},{y(v):.1f}")
            pen_down = True
        return " ".join(parts)

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="eq-title eq-desc" xmlns="http://www.w3.org/2000/svg">',
           '<title id="eq-title">Equity curve: strategy against equal-weight buy-and-hold</title>',
           f'<desc id="eq-desc">Growth of 1 from {escape(dates[0])} to {escape(dates[-1])}: strategy '
           f'{_pct(strat[-1])}, buy-and-hold {_pct(bh[-1])}.</desc>']
    for t in _nice_ticks(lo, hi):
        yy = y(t)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e6e9ee"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{_pct(t)}</text>')
    if lo < 1 < hi:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(1):.1f}" y2="{y(1):.1f}" '
                   'stroke="#b8c0cc" stroke-dasharray="3 3"/>')
    for i in sorted({0, len(points) // 4, len(points) // 2, 3 * len(points) // 4, len(points) - 1}):
        anchor = "start" if i == 0 else "end" if i == len(points) - 1 else "middle"
        out.append(f'<text x="{x(i):.1f}" y="{height - 10}" text-anchor="{anchor}">{escape(dates[i])}</text>')
    out.append(f'<path d="{path(bh)}" fill="none" stroke="{BUY_HOLD_COLOR}" stroke-width="1.5"/>')
    out.append(f'<path d="{path(strat)}" fill="none" stroke="{STRATEGY_COLOR}" stroke-width="2"/>')
    lx = left + 10
    out.append(f'<rect x="{lx}" y="{top + 4}" width="12" height="3" fill="{STRATEGY_COLOR}"/>'
               f'<text x="{lx + 18}" y="{top + 9}">Strategy {_pct(strat[-1])}</text>')
    out.append(f'<rect x="{lx + 150}" y="{top + 4}" width="12" height="3" fill="{BUY_HOLD_COLOR}"/>'
               f'<text x="{lx + 168}" y="{top + 9}">Buy-and-hold {_pct(bh[-1])}</text>')
    out.append("</svg>")
    return "".join(out)


def _pct(growth: float | None) -> str:
    """A growth factor as a signed percent change (1.12 -> +12%)."""
    if growth is None:
        return "n/a"
    return f"{(growth - 1) * 100:+.0f}%" if abs(growth - 1) >= 0.1 else f"{(growth - 1) * 100:+.1f}%"


def reliability_svg(tables: dict[str, list[dict]], *, title: str, size: int = 300, ident: str = "rel") -> str:
    """A reliability diagram: per probability bin, the mean predicted P(side) (x) against the share of
    those rows whose side reached its target (y), BUY and SELL, dots sized by the rows in the bin; the
    diagonal is perfect calibration. ``tables``: side -> ml.metrics.reliability rows."""
    rows = {side: [b for b in bins if b.get("count")] for side, bins in tables.items() if bins}
    if not rows:
        return '<p class="note">No calibration table recorded.</p>'
    pts = [b for bins in rows.values() for b in bins]
    hi = min(1.0, max(0.2, math.ceil(max(max(b["predicted"], b["observed"]) for b in pts) * 10 + 0.5) / 10))
    left, right, top, bottom = 40, 12, 12, 34
    pw, ph = size - left - right, size - top - bottom
    biggest = max(b["count"] for b in pts)

    def x(v: float) -> float:
        return left + pw * min(v, hi) / hi

    def y(v: float) -> float:
        return top + ph * (1 - min(v, hi) / hi)

    tid = f"{ident}-title"
    out = [f'<svg class="chart reliability" viewBox="0 0 {size} {size}" style="max-width:{size + 60}px" role="img" aria-labelledby="{tid}" '
           f'xmlns="http://www.w3.org/2000/svg"><title id="{tid}">{escape(title)}</title>']
    for t in _nice_ticks(0.0, hi, 4):
        out.append(f'<line x1="{left}" x2="{size - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e6e9ee"/>'
                   f'<text x="{left - 5}" y="{y(t) + 4:.1f}" text-anchor="end">{t:.1f}</text>'
                   f'<text x="{x(t):.1f}" y="{size - bottom + 14}" text-anchor="middle">{t:.1f}</text>')
    out.append(f'<line x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(hi):.1f}" y2="{y(hi):.1f}" stroke="#b8c0cc" '
               'stroke-dasharray="3 3"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{size - 4}" text-anchor="middle">predicted P(side)</text>')
    for side, bins in rows.items():
        color = SIDE_COLORS.get(side, STRATEGY_COLOR)
        line = " ".join(f"{'L' if i else 'M'}{x(b['predicted']):.1f},{y(b['observed']):.1f}"
                        for i, b in enumerate(sorted(bins, key=lambda b: b["predicted"])))
        out.append(f'<path d="{line}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        for b in bins:
            r = 2 + 5 * math.sqrt(b["count"] / biggest)
            out.append(f'<circle cx="{x(b["predicted"]):.1f}" cy="{y(b["observed"]):.1f}" r="{r:.1f}" fill="{color}" '
                       f'fill-opacity="0.75"><title>{side}: predicted {b["predicted"]:.3f}, observed '
                       f'{b["observed"]:.3f}, {b["count"]:,} rows</title></circle>')
    lx = left + 8
    for i, side in enumerate(rows):
        color = SIDE_COLORS.get(side, STRATEGY_COLOR)
        out.append(f'<circle cx="{lx + 70 * i}" cy="{top + 8}" r="4" fill="{color}"/>'
                   f'<text x="{lx + 8 + 70 * i}" y="{top + 12}">{escape(side)}</text>')
    out.append("</svg>")
    return "".join(out)
