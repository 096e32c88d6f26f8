"""The adversarial corpus (``adversarial_corpus.py``): rejections with their codes, and accepted
templates whose compiled DuckDB SQL runs on adversarial data, stays within its claimed
sensitivity when one person is added, and feeds ``dp.release`` without error."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cleanroom.dp import PrivacyLoss, release
from cleanroom.dp.candidates import json_value
from cleanroom.errors import DatasetInvalid, TemplateRejected
from cleanroom.names import SUPPRESSION_VIEW, dataset_view
from cleanroom.plan import CompiledQuery, ReleasePlan
from cleanroom.policy import compile_template, parse_template_file
from cleanroom.specs import DatasetSpec
from tests.policy.adversarial_corpus import (
    ADDED_PID,
    ADDED_ROWS,
    ALL_DATASETS,
    BASE_ROWS,
    BREAKS_UNREWRITTEN,
    CASES,
    SPEC_CASES,
    Case,
    Rows,
    SpecCase,
)
from tests.policy.collab import POLICY, SQL_TYPES, pid

REJECTED = [c for c in CASES if c.rejected]
ACCEPTED = [c for c in CASES if not c.rejected]
BREAKING = [c for c in ACCEPTED if c.id in BREAKS_UNREWRITTEN]


def _compile(case: Case) -> CompiledQuery:
    sql, params, bounds, offset = case.sql, list(case.params), dict(case.bounds), 0
    if case.header:
        source = parse_template_file(case.header + sql)
        sql, offset = source.sql, source.line_offset
        params = params or list(source.parameters)
        bounds = {**source.bounds, **bounds}
    return compile_template(
        sql,
        params,
        case.values,
        "measurement",
        POLICY,
        ALL_DATASETS,
        bounds,
        line_offset=offset,
        engines=("duckdb",),
    )


def _connect(rows: Rows) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with the engine views of every dataset of ``ALL_DATASETS``."""
    con = duckdb.connect(":memory:")
    for name, spec in ALL_DATASETS.items():
        cols = ([("pid", "BLOB")] if spec.is_personal else []) + [
            (c.name, SQL_TYPES[c.role]) for c in spec.stored_columns()
        ]
        table = dataset_view(name)
        con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in cols)})")
        for row in rows.get(name, ()):
            values: list[Any] = []
            for col, _ in cols:
                value = row.get(col)
                if col == "pid" and value is not None:
                    value = pid(value)
                column = spec.column(col)
                if value is None and column is not None and column.role == "consent":
                    value = True
                values.append(value)
            marks = ", ".join("?" for _ in cols)
            con.execute(f"INSERT INTO {table} VALUES ({marks})", values)
    con.execute(f"CREATE TABLE {SUPPRESSION_VIEW} (pid BLOB)")
    return con


def _merge(*parts: Rows) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for part in parts:
        for name, rows in part.items():
            out.setdefault(name, []).extend(rows)
    return out


def _as_added(rows: Rows) -> Rows:
    return {name: [{**r, "pid": ADDED_PID} for r in rs] for name, rs in rows.items()}


def _run(compiled: CompiledQuery, rows: Rows) -> pa.Table:
    con = _connect(rows)
    try:
        return con.sql(compiled.duckdb_sql).to_arrow_table()
    finally:
        con.close()


def _released_groups(plan: ReleasePlan, table: pa.Table) -> dict[str, dict[str, float]]:
    """Measurements per engine group, keeping only groups a public-domain release could show.

    Groups are told apart by the text of their keys (Arrow's own rendering: NaN, infinities and
    times outside Python's range are fine), not by Python values."""
    names = [k.name for k in plan.group_keys]
    texts = [pc.cast(table.column(n), pa.string()).to_pylist() for n in names]
    keep = [True] * table.num_rows
    for key in plan.group_keys:
        if key.public_domain is not None:
            domain = {json_value(v) for v in key.public_domain}
            values = table.column(key.name).to_pylist()
            keep = [k and json_value(v) in domain for k, v in zip(keep, values, strict=True)]
    measures = {m.column: table.column(m.column).to_pylist() for m in plan.measurements}
    out: dict[str, dict[str, float]] = {}
    for row in range(table.num_rows):
        if keep[row]:
            group = repr([t[row] for t in texts])
            out[group] = {
                c: float(v[row]) if v[row] is not None else 0.0 for c, v in measures.items()
            }
    return out


def _check_sensitivity(case: Case, plan: ReleasePlan, before: pa.Table, after: pa.Table) -> None:
    a, b = _released_groups(plan, before), _released_groups(plan, after)
    for m in plan.measurements:
        change = sum(
            abs(b.get(g, {}).get(m.column, 0.0) - a.get(g, {}).get(m.column, 0.0))
            for g in set(a) | set(b)
        )
        assert math.isfinite(change), f"{case.id}: {m.column} is not finite"
        limit = m.l1_sensitivity
        assert change <= limit * (1 + 1e-9) + 1e-6, (
            f"{case.id}: adding one person moved {m.column} by {change:g}, "
            f"above its claimed l1 sensitivity {limit:g}"
        )


def test_corpus_shape() -> None:
    ids = [c.id for c in CASES] + [s.id for s in SPEC_CASES]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert len(CASES) + len(SPEC_CASES) >= 90
    per_class = Counter(c.cls for c in CASES) + Counter(s.cls for s in SPEC_CASES)
    assert set(per_class) == {1, 2, 3, 4, 5, 6, 8, 9}
    assert all(n >= 10 for n in per_class.values()), per_class
    assert {c.id for c in ACCEPTED if not c.params} >= BREAKS_UNREWRITTEN
    for c in CASES:
        assert c.id.startswith(f"c{c.cls}_")
        assert not (c.rejected and (c.rows or c.added or c.total_or_rejected))


@pytest.mark.parametrize("case", REJECTED, ids=[c.id for c in REJECTED])
def test_rejected_with_code(case: Case) -> None:
    try:
        _compile(case)
    except TemplateRejected as err:
        codes = {v.code for v in err.violations}
        assert codes & case.codes, f"{case.id}: rejected with {sorted(codes)}"
        for violation in err.violations:
            assert violation.message
        return
    pytest.fail(f"{case.id}: accepted; expected one of {sorted(case.codes)}")


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.id for c in ACCEPTED])
def test_accepted_runs_within_sensitivity(case: Case) -> None:
    try:
        compiled = _compile(case)
    except TemplateRejected as err:
        if case.total_or_rejected:
            return  # refusing it is sound too
        codes = sorted({v.code for v in err.violations})
        pytest.fail(f"{case.id}: rejected with {codes}; it must be accepted")
    plan = compiled.plan
    for m in plan.measurements:
        assert m.lower <= m.upper
        assert math.isfinite(m.l1_sensitivity)
    base = _merge(BASE_ROWS, case.rows)
    neighbour = _merge(base, ADDED_ROWS, _as_added(case.added))
    before = _run(compiled, base)
    after = _run(compiled, neighbour)
    assert before.column_names == [k.name for k in plan.group_keys] + [
        m.column for m in plan.measurements
    ]
    for table in (before, after):
        result = release(plan, table, PrivacyLoss(1.0, 1e-6))
        assert result.columns == tuple(o.name for o in plan.outputs)
    _check_sensitivity(case, plan, before, after)


@pytest.mark.parametrize("case", BREAKING, ids=[c.id for c in BREAKING])
def test_the_data_breaks_the_template_as_written(case: Case) -> None:
    """The corpus itself: its data makes the template fail when run as written (dataset names
    as plain views, no rewrite), so the accepted test above checks the rewrite made it total."""
    con = _connect(_merge(BASE_ROWS, case.rows))
    try:
        for name in ALL_DATASETS:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM {dataset_view(name)}")
        with pytest.raises(duckdb.Error):
            con.sql(case.sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("case", SPEC_CASES, ids=[s.id for s in SPEC_CASES])
def test_dataset_spec(case: SpecCase) -> None:
    if case.valid:
        DatasetSpec.from_dict(dict(case.spec))
        return
    with pytest.raises(DatasetInvalid):
        DatasetSpec.from_dict(dict(case.spec))


def test_engine_views_are_not_templates_names() -> None:
    """The fixture itself: the views the corpus spells exist in the harness's DuckDB, so an
    accepted reference to them would read raw data (the rejection is what protects it)."""
    con = _connect(BASE_ROWS)
    try:
        names = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    finally:
        con.close()
    assert {"cr_ds_exposures", "cr_ds_transactions", "cr_ds_crm", SUPPRESSION_VIEW} <= set(names)
