"""Issue 7 parity: every shipped template, compiled for both engines with its default
parameters against the demo collaboration, gives identical exact (pre-noise) aggregates on
DuckDB and on Spark local[2] over the same ingested Parquet. The release on top is shared code."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from cleanroom.demo.specs import DEMO_POLICY, demo_dataset_specs
from cleanroom.engine import DuckDBEngine, SparkEngine
from cleanroom.policy import compile_template, parse_template_file
from cleanroom.types import Col, CollaborationPolicy, CompiledQuery, DatasetSpec, dataset_view
from tests.demo.demo_exact import SHIPPED, bind_parameters

pytestmark = pytest.mark.spark

QUERIES = Path(__file__).resolve().parents[2] / "queries"
TEMPLATES = sorted(p.stem for p in QUERIES.glob("*.sql"))
POLICY = CollaborationPolicy.from_dict(DEMO_POLICY)
SPECS = {name: DatasetSpec.from_dict(spec) for name, spec in demo_dataset_specs().items()}


def value(v: Any) -> Any:
    """One engine-neutral representation: numbers as floats (DuckDB sums are DECIMAL(38,0),
    Spark's BIGINT), timestamps naive UTC (Spark's DATE_TRUNC is zoned), dates as midnight."""
    if isinstance(v, bool) or v is None or isinstance(v, str | bytes):
        return v
    if isinstance(v, decimal.Decimal | int | float):
        return float(v)
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).replace(tzinfo=None) if v.tzinfo is not None else v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    return v


def rows(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    """Normalized rows sorted by the group keys."""
    out = [{k: value(v) for k, v in row.items()} for row in table.to_pylist()]
    return sorted(out, key=lambda row: tuple(repr(row[k]) for k in keys))


def compiled(name: str) -> tuple[CompiledQuery, str]:
    source = parse_template_file((QUERIES / f"{name}.sql").read_text(encoding="utf-8"))
    assert source.purpose is not None
    query = compile_template(
        source.sql, source.parameters, {}, source.purpose, POLICY, SPECS, source.bounds,
        line_offset=source.line_offset, engines=("duckdb", "spark"), consent=source.consent,
    )  # fmt: skip
    # A consent analysis's plain SQL runs on its own view of the data (tests/spark/conftest.py).
    view = (
        source.purpose if source.consent is None else f"{source.purpose}/consent:{source.consent}"
    )
    return query, view


def test_every_shipped_template_is_covered() -> None:
    assert sorted(SHIPPED) == TEMPLATES


def no_cap_binds(
    name: str,
    query: CompiledQuery,
    purpose: str,
    result: pa.Table,
    exact: duckdb.DuckDBPyConnection,
) -> None:
    """The precondition of exact parity: the bounded rewrite equals the plain (unbounded) SQL
    answer, so no row, count, sum or group cap chose among a person's rows or groups."""
    source = parse_template_file((QUERIES / f"{name}.sql").read_text(encoding="utf-8"))
    defaults = {p.name: p.default for p in source.parameters}
    cursor = exact.execute(bind_parameters(source.sql, source.parameters, defaults))
    names = [d[0] for d in cursor.description]
    plain = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    keys = {k.name for k in query.plan.group_keys}
    measures = {m.column for m in query.plan.measurements}
    pairs = {
        o.name: o.expr.name
        for o in query.plan.outputs
        if isinstance(o.expr, Col) and (o.expr.name in keys or o.expr.name in measures)
    }
    key_outputs = [o for o, c in pairs.items() if c in keys]
    got = {
        tuple(value(r[pairs[o]]) for o in key_outputs): {o: value(r[c]) for o, c in pairs.items()}
        for r in result.to_pylist()
    }
    want = {tuple(value(r[o]) for o in key_outputs): {o: value(r[o]) for o in pairs} for r in plain}
    assert got == want, f"a cap binds for {name} ({purpose}); choose another world"


@pytest.mark.parametrize("name", TEMPLATES)
def test_duckdb_and_spark_give_identical_exact_aggregates(
    name: str,
    duck_engine: DuckDBEngine,
    spark_engine: SparkEngine,
    ingested: dict[str, str],
    exact_connections: dict[str, duckdb.DuckDBPyConnection],
) -> None:
    query, purpose = compiled(name)
    assert query.duckdb_sql
    assert query.spark_sql
    files = {dataset_view(d): ingested[dataset_view(d)] for d in query.datasets}
    expected = duck_engine.execute(query.duckdb_sql, files, [])
    no_cap_binds(name, query, purpose, expected, exact_connections[purpose])
    got = spark_engine.execute(query.spark_sql, files, [])
    assert got.column_names == expected.column_names
    assert expected.num_rows > 0
    keys = [k.name for k in query.plan.group_keys]
    assert rows(got, keys) == rows(expected, keys)
