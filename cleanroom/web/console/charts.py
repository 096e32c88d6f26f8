"""One chart per released output, drawn on the server as inline SVG: a bar per row for the
released value and a whisker for its 95% interval. Only attributes style it (the console's
content security policy allows no inline styles) and every chart has a title and description.

>>> svg = interval_chart("sales", [("c1", 10.0, (8.0, 12.0)), ("c2", 5.0, None)])
>>> svg.count("<rect"), "<title" in svg, "95% interval" in svg
(2, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, LABEL, ROW, PAD = 640, 140, 26, 12
BAR, WHISKER, AXIS = "#4c78a8", "#1b1b1b", "#767676"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


Bar = tuple[str, float | None, tuple[float, float] | None]


def interval_chart(output: str, bars: Sequence[Bar]) -> Markup:
    """``bars``: (row label, released value, its 95% interval ``(lo, hi)`` as the report stores
    it, which need not be symmetric); values that are not numbers are left out of the chart (the
    table still shows them)."""
    shown = [(label, v, i) for label, v, i in bars if v is not None and math.isfinite(v)]
    lows = [i[0] if i else v for _, v, i in shown]
    highs = [i[1] if i else v for _, v, i in shown]
    lo, hi = min([0.0, *lows]), max([0.0, *highs])
    span = (hi - lo) or 1.0
    plot = WIDTH - LABEL - 2 * PAD
    height = PAD * 2 + ROW * max(1, len(shown)) + 18

    def x(value: float) -> float:
        return LABEL + PAD + (value - lo) / span * plot

    title = f"{output}: released value per row with its 95% interval"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="t-{escape(output)}">',
        f'<title id="t-{escape(output)}">{escape(title)}</title>',
        f'<line x1="{x(0):.1f}" y1="{PAD}" x2="{x(0):.1f}" y2="{height - 18}" '
        f'stroke="{AXIS}" stroke-width="1"/>',
    ]
    for i, (label, value, bounds) in enumerate(shown):
        top = PAD + i * ROW
        left, right = sorted((x(0), x(value)))
        parts.append(
            f'<text x="{LABEL}" y="{top + 17}" text-anchor="end" font-size="12" '
            f'font-family="sans-serif" fill="{WHISKER}">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{left:.1f}" y="{top + 5}" width="{max(right - left, 1):.1f}" height="14" '
            f'fill="{BAR}"><title>{escape(label)}: {_fmt(value)}</title></rect>'
        )
        if bounds is not None and all(math.isfinite(end) for end in bounds):
            a, b, mid = x(bounds[0]), x(bounds[1]), top + 12
            parts.append(
                f'<path d="M{a:.1f} {mid}H{b:.1f}M{a:.1f} {mid - 6}V{mid + 6}'
                f'M{b:.1f} {mid - 6}V{mid + 6}" stroke="{WHISKER}" stroke-width="1.5" '
                f'fill="none"><title>95% interval [{_fmt(bounds[0])}, '
                f"{_fmt(bounds[1])}]</title></path>"
            )
    parts.append(
        f'<text x="{LABEL + PAD}" y="{height - 4}" font-size="11" font-family="sans-serif" '
        f'fill="{AXIS}">{_fmt(lo)}</text>'
        f'<text x="{WIDTH - PAD}" y="{height - 4}" text-anchor="end" font-size="11" '
        f'font-family="sans-serif" fill="{AXIS}">{_fmt(hi)} (bars: released value; '
        f"whiskers: 95% interval)</text></svg>"
    )
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
