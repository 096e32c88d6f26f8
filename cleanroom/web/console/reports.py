"""A run's report: each cell with its 95% interval, a chart per output, how each number was
made, and the downloads (the API's own renderings, audited as the API audits them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import Response
from markupsafe import Markup

from cleanroom.services import collaborations, reports, runs
from cleanroom.services.reports import report_layout
from cleanroom.web.console.blueprint import bp, page, svc, who
from cleanroom.web.console.charts import interval_chart
from cleanroom.web.console.session import signed_in


@dataclass(frozen=True)
class Cell:
    value: Any
    half_width: float | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        number = _number(self.value)
        if number is None or self.half_width is None:
            return None
        return number - self.half_width, number + self.half_width


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def report_view(report: dict[str, Any]) -> dict[str, Any]:
    """Keys, outputs, the cells of each row with their intervals and one chart per output."""
    layout = report_layout(report)
    rows = list(report.get("rows") or [])
    table = []
    for row, widths in zip(rows, layout.row_half_widths, strict=True):
        keys = [Cell(row.get(k)) for k in layout.key_columns]
        values = [Cell(row.get(c), _number(widths.get(c))) for c in layout.value_columns]
        table.append((keys, values))
    charts: list[tuple[str, Markup]] = []
    for i, column in enumerate(layout.value_columns):
        bars = [
            (" / ".join(str(k.value) for k in keys) or "all", _number(v[i].value), v[i].half_width)
            for keys, v in table
        ]
        if any(value is not None for _, value, _ in bars):
            charts.append((column, interval_chart(column, bars)))
    return {"layout": layout, "table": table, "charts": charts}


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
