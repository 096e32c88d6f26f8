"""A run's report: each cell with its 95% interval, a chart per output, how each number was
made, and the downloads (the API's own renderings, audited as the API audits them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import Response
from markupsafe import Markup

from cleanroom.report_rows import row_intervals
from cleanroom.services import collaborations, reports, runs
from cleanroom.services.reports import report_explanations, report_layout
from cleanroom.web.console.blueprint import bp, page, svc, who
from cleanroom.web.console.charts import interval_chart
from cleanroom.web.console.session import signed_in


@dataclass(frozen=True)
class Cell:
    value: Any
    interval: tuple[float, float] | None = None  # the stored 95% interval (row_intervals)
    notes: tuple[int, ...] = ()  # footnote numbers of what happened to this cell


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _interval(pair: Any) -> tuple[float, float] | None:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return None
    lo, hi = _number(pair[0]), _number(pair[1])
    return None if lo is None or hi is None else (lo, hi)


def report_view(report: dict[str, Any]) -> dict[str, Any]:
    """Keys, outputs, the cells of each row with their intervals (the report's own, through
    :func:`~cleanroom.report_rows.row_intervals`, as every download shows them) and
    footnotes, one chart per output, and the explanations."""
    layout = report_layout(report)
    explained = report_explanations(report)
    rows = list(report.get("rows") or [])
    footnotes: dict[str, int] = {}  # note text -> its number, in order of first use
    table = []
    for r, (row, intervals) in enumerate(zip(rows, row_intervals(report), strict=True)):
        keys = [Cell(row.get(k)) for k in layout.key_columns]
        values = []
        for c in layout.value_columns:
            texts = explained.cells.get((r, c), ())
            numbers = tuple(footnotes.setdefault(t, len(footnotes) + 1) for t in texts)
            values.append(Cell(row.get(c), _interval(intervals.get(c)), numbers))
        table.append((keys, values))
    charts: list[tuple[str, Markup]] = []
    for i, column in enumerate(layout.value_columns):
        bars = [
            (" / ".join(str(k.value) for k in keys) or "all", _number(v[i].value), v[i].interval)
            for keys, v in table
        ]
        if any(value is not None for _, value, _ in bars):
            charts.append((column, interval_chart(column, bars)))
    notes = [(number, text) for text, number in footnotes.items()]
    return {
        "layout": layout, "table": table, "charts": charts, "explained": explained,
        "footnotes": notes,
    }  # fmt: skip


@bp.get("/c/<cid>/runs/<rid>/report")
@signed_in
def report_page(cid: str, rid: str) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    run = runs.get_run(services, principal, cid, rid)
    report = reports.get_report(services, principal, cid, rid)
    return page(
        "report.html", collab=collab, run=run, report=report, formats=reports.FORMATS,
        **report_view(report),
    )  # fmt: skip


@bp.get("/c/<cid>/runs/<rid>/report.<fmt>")
@signed_in
def report_download(cid: str, rid: str, fmt: str) -> Response:
    download = reports.download_report(svc(), who(), cid, rid, fmt)
    response = Response(download.body, content_type=download.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response
