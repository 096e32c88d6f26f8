"""A released report beside the exact answer: which cells fall within their 95% interval.

Cells are matched on the report's group keys; only non-key outputs with a finite interval are
compared (measurements and outputs derived from them). Rows the release dropped (under the
policy's minimum) or that the exact answer lacks are not compared.

>>> report = {"columns": ["campaign_id", "buyers"],
...           "rows": [{"campaign_id": "c1", "buyers": 104.0},
...                    {"campaign_id": "c2", "buyers": 60.0}],
...           "accuracy": {"row_half_widths": [{"buyers": 8.0}, {"buyers": 8.0}]}}
>>> exact = ExactAnswer(("campaign_id", "buyers"),
...                     ({"campaign_id": "c1", "buyers": 100}, {"campaign_id": "c2", "buyers": 70}))
>>> comparison = compare_report("exposed", report, exact)
>>> (comparison.within, comparison.compared)
(1, 2)
>>> summary_line(comparison.within, comparison.compared)
'cells within their 95% interval: 1/2 (50.0%)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cleanroom.report_rows import row_intervals
from cleanroom.services.exact import ExactAnswer
from cleanroom.services.reports import report_layout


@dataclass(frozen=True)
class CellCheck:
    """One released cell: its row's key values, output column, noisy and exact values."""

    keys: tuple[str, ...]
    column: str
    noisy: float | None
    exact: float | None
    half_width: float | None
    # The released 95% interval (accuracy.row_intervals: clipped where post-processing clipped
    # the value); None: released without one.
    interval: tuple[float, float] | None = None

    @property
    def comparable(self) -> bool:
        # Non-finite values were turned into None when the cell was built.
        return None not in (self.noisy, self.exact, self.bounds)

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The interval, or (a cell built without one) the value plus or minus its half-width."""
        if self.interval is not None:
            return self.interval
        if self.noisy is None or self.half_width is None:
            return None
        return (self.noisy - self.half_width, self.noisy + self.half_width)

    @property
    def within(self) -> bool:
        """True when the exact value lies in the released 95% interval."""
        bounds = self.bounds
        if self.noisy is None or self.exact is None or bounds is None:
            return False
        slack = 1e-9 * max(1.0, abs(self.exact))  # float rounding of derived outputs
        return bounds[0] - slack <= self.exact <= bounds[1] + slack

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": list(self.keys),
            "column": self.column,
            "released": self.noisy,
            "exact": self.exact,
            "half_width": self.half_width,
            "interval": list(self.bounds) if self.bounds is not None else None,
            "within": self.within if self.comparable else None,
        }


@dataclass(frozen=True)
class ReportComparison:
    """Every released cell of one report next to the truth."""

    name: str
    key_columns: tuple[str, ...]
    value_columns: tuple[str, ...]
    cells: tuple[CellCheck, ...]

    @property
    def compared(self) -> int:
        return sum(c.comparable for c in self.cells)

    @property
    def within(self) -> int:
        return sum(c.within for c in self.cells)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key_columns": list(self.key_columns),
            "value_columns": list(self.value_columns),
            "compared": self.compared,
            "within": self.within,
            "cells": [c.to_dict() for c in self.cells],
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _span(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    lo, hi = _number(value[0]), _number(value[1])
    return None if lo is None or hi is None else (lo, hi)


def _key(value: Any) -> str:
    """A group key value as text that matches across JSON and engine types (12 vs 12.0)."""
    number = _number(value)
    return format(number, ".12g") if number is not None else str(value)


def compare_report(name: str, report: Mapping[str, Any], exact: ExactAnswer) -> ReportComparison:
    """Match the report's rows to the exact answer's on the group keys and check each cell."""
    layout = report_layout(report)
    keys, values, widths = layout.key_columns, layout.value_columns, layout.row_half_widths
    rows = list(report.get("rows") or [])
    intervals = row_intervals(dict(report))
    truth = {tuple(_key(r.get(k)) for k in keys): r for r in exact.rows}
    cells = []
    for row, width, spans in zip(rows, widths, intervals, strict=True):
        key = tuple(_key(row.get(k)) for k in keys)
        exact_row = truth.get(key)
        for column in values:
            cells.append(
                CellCheck(
                    keys=key,
                    column=column,
                    noisy=_number(row.get(column)),
                    exact=None if exact_row is None else _number(exact_row.get(column)),
                    half_width=_number(width.get(column)),
                    interval=_span(spans.get(column)),
                )
            )
    return ReportComparison(name, keys, values, tuple(cells))


def format_number(value: float | None) -> str:
    """Counts and cents with thousands separators, ratios with four significant digits.

    >>> format_number(123456.7), format_number(1.23456), format_number(None)
    ('123,457', '1.235', '-')
    """
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(line[i]) for line in lines)]) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
            for line in lines]  # fmt: skip
    return "\n".join(out)


def comparison_table(comparison: ReportComparison) -> str:
    """One line per released cell: keys, output, released value, exact value, 95% interval."""
    header = [*comparison.key_columns, "output", "released", "exact", "95% interval", "within"]
    lines = []
    for cell in comparison.cells:
        if cell.noisy is not None and cell.bounds is not None:
            low, high = cell.bounds
            interval = f"[{format_number(low)}, {format_number(high)}]"
        else:
            interval = "-"
        verdict = ("yes" if cell.within else "NO") if cell.comparable else "n/a"
        lines.append([*cell.keys, cell.column, format_number(cell.noisy),
                      format_number(cell.exact), interval, verdict])  # fmt: skip
    if not lines:
        return "(no rows released)"
    return _table(header, lines)


def summary_line(within: int, compared: int) -> str:
    """The demo's headline: how many released cells cover the exact answer."""
    share = 100.0 * within / compared if compared else 0.0
    return f"cells within their 95% interval: {within}/{compared} ({share:.1f}%)"
