"""CSV report downloads neutralise spreadsheet formulas (OWASP CSV injection); JSON and Parquet
keep every value as released (issue 15, defect 3)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pyarrow.parquet as pq

from cleanroom.services.reports import render_report

HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(1+1)", "-2+3", '@HYPERLINK("http://x")', "\tx", "\rx"]
REPORT: dict[str, Any] = {
    "run_id": "run_1",
    "columns": ["brand", "buyers"],
    "rows": [{"brand": v, "buyers": -3 + i} for i, v in enumerate(HOSTILE)]
    + [{"brand": "acme", "buyers": 12.5}, {"brand": None, "buyers": 0}],
}


def test_csv_cells_that_start_a_formula_are_quoted_as_text() -> None:
    rows = list(csv.reader(io.StringIO(render_report(REPORT, "csv").decode(), newline="")))
    assert rows[0] == ["brand", "buyers"]
    brands = [r[0] for r in rows[1:]]
    assert brands[: len(HOSTILE)] == ["'" + v for v in HOSTILE]
    assert brands[len(HOSTILE) :] == ["acme", ""]
    # Numbers are not formulas: a negative noisy count stays a number.
    assert [r[1] for r in rows[1:4]] == ["-3", "-2", "-1"]


def test_a_hostile_column_name_is_neutralised_in_the_header_too() -> None:
    report = {"columns": ["=1+1"], "rows": [{"=1+1": "a"}]}
    assert render_report(report, "csv").decode().splitlines() == ["'=1+1", "a"]


def test_json_and_parquet_keep_the_values() -> None:
    assert json.loads(render_report(REPORT, "json"))["rows"] == REPORT["rows"]
    table = pq.read_table(io.BytesIO(render_report(REPORT, "parquet")))
    assert table.column("brand").to_pylist()[: len(HOSTILE)] == HOSTILE
