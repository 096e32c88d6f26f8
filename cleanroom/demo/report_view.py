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

    @property
    def comparable(self) -> bool:
        # Non-finite values were turned into None when the cell was built.
        return None not in (self.noisy, self.exact, self.half_width)

    @property
    def within(self) -> bool:
        """True when the exact value lies in the released 95% interval."""
        if self.noisy is None or self.exact is None or self.half_width is None:
            return False
        slack = 1e-9 * max(1.0, abs(self.exact))  # float rounding of derived outputs
        return abs(self.noisy - self.exact) <= self.half_width + slack

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": list(self.keys),
            "column": self.column,
            "released": self.noisy,
            "exact": self.exact,
            "half_width": self.half_width,
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


def _key(value: Any) -> str:
    """A group key value as text that matches across JSON and engine types (12 vs 12.0)."""
    number = _number(value)
    return format(number, ".12g") if number is not None else str(value)


def compare_report(name: str, report: Mapping[str, Any], exact: ExactAnswer) -> ReportComparison:
    """Match the report's rows to the exact answer's on the group keys and check each cell."""
    layout = report_layout(report)
    keys, values, widths = layout.key_columns, layout.value_columns, layout.row_half_widths
    rows = list(report.get("rows") or [])
    truth = {tuple(_key(r.get(k)) for k in keys): r for r in exact.rows}
    cells = []
    for row, width in zip(rows, widths, strict=True):
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
        if cell.noisy is not None and cell.half_width is not None:
            low, high = cell.noisy - cell.half_width, cell.noisy + cell.half_width
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
