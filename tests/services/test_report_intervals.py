"""CSV reports carry each non-key column's 95% interval; the CLI shows ± for every such cell."""

from __future__ import annotations

import csv
import io

from cleanroom.cli.reports import report_text
from cleanroom.services.reports import report_csv

REPORT = {
    "run_id": "r1",
    "columns": ["campaign_id", "spend_cents", "attributed_sales", "roas"],
    "rows": [
        {"campaign_id": "c1", "spend_cents": 1000, "attributed_sales": 5000, "roas": 5.0},
        {"campaign_id": "c2", "spend_cents": 1000, "attributed_sales": 0, "roas": None},
    ],
    "accuracy": {
        "half_widths": {"attributed_sales": 300.0},
        "row_half_widths": [
            {"spend_cents": 0.0, "attributed_sales": 300.0, "roas": 0.3},
            {"spend_cents": 0.0, "attributed_sales": 300.0, "roas": None},
        ],
        "row_intervals": [
            {"spend_cents": [1000, 1000], "attributed_sales": [4700, 5300], "roas": [4.7, 5.3]},
            {"spend_cents": [1000, 1000], "attributed_sales": [0, 300], "roas": None},
        ],
    },
}


def test_csv_appends_lo_and_hi_for_every_non_key_column() -> None:
    rows = list(csv.DictReader(io.StringIO(report_csv(REPORT))))
    assert list(rows[0])[:4] == REPORT["columns"]
    assert rows[0]["attributed_sales_lo"] == "4700"
    assert rows[0]["attributed_sales_hi"] == "5300"
    assert rows[0]["roas_lo"] == "4.7"
    assert rows[1]["roas_lo"] == ""
    assert "campaign_id_lo" not in rows[0]


def test_csv_of_a_report_without_stored_intervals_uses_the_half_widths() -> None:
    old = {
        **REPORT,
        "accuracy": {k: v for k, v in REPORT["accuracy"].items() if k != "row_intervals"},
    }
    rows = list(csv.DictReader(io.StringIO(report_csv(old))))
    assert rows[0]["attributed_sales_lo"] == "4700.0"


def test_cli_table_shows_plus_minus_for_derived_columns_and_units() -> None:
    text = report_text(REPORT)
    assert "±0.3" in text
    assert "±?" in text
    assert "±300" in text
    assert "cents" in text
    assert "sampling" in text
