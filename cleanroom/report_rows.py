"""A report as flat rows: the report's columns, then ``<column>_lo`` and ``<column>_hi`` (the 95%
interval) for each non-key column. The one rule for that layout, shared by the CSV download
(:func:`cleanroom.services.reports.report_csv`) and the client's ``Report.to_pandas()``; standard
library only, so the slim client can use it.

>>> report = {"columns": ["brand", "buyers"], "rows": [{"brand": "a", "buyers": 120}],
...           "accuracy": {"half_widths": {"buyers": 9.5},
...                        "row_intervals": [{"buyers": [110.5, 129.5]}]}}
>>> flat_rows(report)
(['brand', 'buyers', 'buyers_lo', 'buyers_hi'], [{'brand': 'a', 'buyers': 120, 'buyers_lo': 110.5, 'buyers_hi': 129.5}])
"""  # noqa: E501

from __future__ import annotations

from typing import Any

INTERVAL_ENDS = ("lo", "hi")


def interval_columns(report: dict[str, Any]) -> list[str]:
    """The report's non-key columns, which carry intervals, in column order."""
    accuracy = report.get("accuracy") or {}
    named: set[str] = set(accuracy.get("half_widths") or {})
    for cells in accuracy.get("row_half_widths") or []:
        named |= set(cells)
    return [c for c in report.get("columns") or [] if c in named]


def row_intervals(report: dict[str, Any]) -> list[dict[str, list[float] | None]]:
    """Per row, ``[lo, hi]`` per non-key column: the stored intervals, or (reports written before
    they were stored) the released value plus or minus its half-width."""
    accuracy = report.get("accuracy") or {}
    rows = report.get("rows") or []
    stored = accuracy.get("row_intervals")
    if stored is not None and len(stored) == len(rows):
        return [dict(r) for r in stored]
    widths = accuracy.get("row_half_widths") or [{} for _ in rows]
    out: list[dict[str, list[float] | None]] = []
    for row, cells in zip(rows, widths, strict=False):
        entry: dict[str, list[float] | None] = {}
        for column, width in cells.items():
            value = row.get(column)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            entry[column] = [value - width, value + width] if ok and width is not None else None
        out.append(entry)
    return out


def flat_rows(report: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The field names and one dict per released row, interval ends included (None for a cell
    without an interval)."""
    columns = list(report.get("columns") or [])
    bounded = interval_columns(report)
    fields = columns + [f"{c}_{end}" for c in bounded for end in INTERVAL_ENDS]
    out: list[dict[str, Any]] = []
    for row, cells in zip(report.get("rows") or [], row_intervals(report), strict=True):
        line = {c: row.get(c) for c in columns}
        for c in bounded:
            pair = cells.get(c)
            for index, end in enumerate(INTERVAL_ENDS):
                line[f"{c}_{end}"] = pair[index] if pair else None
        out.append(line)
    return fields, out
