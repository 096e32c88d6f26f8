"""The date functions whose meaning differs between DuckDB and Spark give DuckDB's answers on
Spark after ``policy.spark_sql`` (boundary-counting DATE_DIFF, DOW 0 = Sunday, integer seconds,
epoch seconds, DATE_TRUNC of a date, INTERVAL (n)), over edge-case timestamps, in one query."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot

from cleanroom.config import Settings
from cleanroom.engine import DuckDBEngine, SparkEngine
from cleanroom.policy.spark_sql import spark_sql
from tests.spark.test_template_parity import rows

pytestmark = pytest.mark.spark

T = dt.datetime
PAIRS = [
    (T(2024, 1, 1, 23, 0), T(2024, 1, 2, 1, 0)),  # crosses midnight: 1 day, 2 hours
    (T(2024, 1, 6, 10, 0), T(2024, 1, 8, 9, 0)),  # Saturday -> Monday: 0 weeks
    (T(2024, 1, 3, 12, 0), T(2024, 1, 10, 11, 0)),  # 7 calendar days, under 7 x 24 hours
    (T(2024, 3, 31, 12, 0), T(2024, 4, 1, 0, 0)),  # month and quarter boundary
    (T(2024, 12, 31, 23, 59, 59, 900000), T(2025, 1, 1, 0, 0, 0, 100000)),  # every boundary
    (T(2024, 1, 3, 10, 59, 30), T(2024, 1, 3, 11, 0, 10)),  # hour and minute boundaries
    (T(2024, 5, 10), T(2024, 2, 29, 6)),  # backwards
    (T(1969, 12, 31, 23, 30), T(1970, 1, 1, 0, 30)),  # before the epoch
]
EXPRESSIONS = {
    **{
        f"diff_{unit}": f"DATE_DIFF('{unit}', a, b)"
        for unit in ("day", "week", "month", "quarter", "year", "hour", "minute", "second")
    },
    "diff_days_of_dates": "DATE_DIFF('day', CAST(a AS DATE), CAST(b AS DATE))",
    "dow": "DATE_PART('dow', a)",
    "isodow": "DATE_PART('isodow', b)",
    "extract_dow": "EXTRACT(dow FROM b)",
    "second": "EXTRACT(second FROM b)",
    "epoch": "DATE_PART('epoch', b)",
    "doy": "EXTRACT(doy FROM a)",
    "week": "DATE_PART('week', a)",
    "isoyear": "DATE_PART('isoyear', a)",
    "month_of_date": "DATE_TRUNC('month', CAST(a AS DATE))",
    "week_start": "DATE_TRUNC('week', a)",
    "plus_days": "a + INTERVAL (14) DAY",
    "minus_hours": "b - INTERVAL 3 HOUR",
    "plus_weeks": "a + INTERVAL 2 WEEK",
    "plus_n_days": "a + INTERVAL (n) DAY",
    "date_minus_days": "CAST(a AS DATE) - INTERVAL (90) DAY",
    "in_window": "b >= a AND b < a + INTERVAL (1) DAY",
}


@pytest.fixture(scope="module")
def edge_file(spark_settings: Settings) -> dict[str, str]:
    path = spark_settings.datasets_dir / "function-edges.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "id": pa.array(range(len(PAIRS)), pa.int64()),
            "a": pa.array([a for a, _ in PAIRS], pa.timestamp("us")),
            "b": pa.array([b for _, b in PAIRS], pa.timestamp("us")),
            "n": pa.array([i - 3 for i in range(len(PAIRS))], pa.int64()),
        }
    )
    pq.write_table(table, path)
    return {"cr_ds_edges": str(path)}


def test_date_functions_mean_the_same_on_both_engines(
    duck_engine: DuckDBEngine, spark_engine: SparkEngine, edge_file: dict[str, str]
) -> None:
    items = ", ".join(f"{sql} AS {name}" for name, sql in EXPRESSIONS.items())
    tree = sqlglot.parse_one(f"SELECT id, {items} FROM cr_ds_edges", read="duckdb")
    expected = duck_engine.execute(tree.sql("duckdb"), edge_file, [])
    got = spark_engine.execute(spark_sql(tree), edge_file, [])
    assert got.column_names == expected.column_names
    want, have = rows(expected, ["id"]), rows(got, ["id"])
    mismatches = [
        (w["id"], k, w[k], h[k])
        for w, h in zip(want, have, strict=True)
        for k in EXPRESSIONS
        if w[k] != h[k]
    ]
    assert mismatches == []
