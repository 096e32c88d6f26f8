"""Follow-up A: a ``bounds`` line (header or request) naming a COUNT output tightens its
per-person-per-group bound below the policy's ``max_count_per_user``; a looser one is refused."""

from __future__ import annotations

from typing import Any

import pytest

from cleanroom.errors import TemplateRejected
from cleanroom.plan import Measurement
from cleanroom.policy import analyze_template, compile_template, parse_template_file
from tests.policy.collab import DATASETS, POLICY, connect

SQL = (
    "SELECT channel, COUNT(DISTINCT pid) AS buyers, COUNT(*) AS orders "
    "FROM transactions GROUP BY channel"
)


def _orders(bounds: dict[str, tuple[float, float]], sql: str = SQL) -> Measurement:
    compiled = compile_template(sql, [], {}, "measurement", POLICY, DATASETS, bounds)
    return next(m for m in compiled.plan.measurements if m.column == "orders")


def _codes(bounds: dict[str, tuple[float, float]], sql: str = SQL) -> list[str]:
    with pytest.raises(TemplateRejected) as info:
        compile_template(sql, [], {}, "measurement", POLICY, DATASETS, bounds)
    return [v.code for v in info.value.violations]


def test_without_a_declaration_the_policy_bounds_a_count() -> None:
    orders = _orders({})
    assert (orders.lower, orders.upper) == (0, POLICY.max_count_per_user)


def test_a_declared_count_bound_tightens_the_clamp_and_the_sensitivity() -> None:
    orders = _orders({"orders": (0, 3)})
    assert (orders.lower, orders.upper, orders.kind) == (0, 3, "row_count")
    default = _orders({})
    assert orders.l1_sensitivity == pytest.approx(default.l1_sensitivity * 3 / 10)
    assert orders.l2_sensitivity == pytest.approx(default.l2_sensitivity * 3 / 10)
    compiled = compile_template(SQL, [], {}, "measurement", POLICY, DATASETS, {"orders": (0, 3)})
    assert "LEAST(GREATEST(COUNT(*), 0), 3)" in compiled.duckdb_sql
    assert "LEAST(GREATEST(COUNT(*), 0), 3)" in compiled.spark_sql


def test_the_header_line_reaches_the_plan() -> None:
    source = parse_template_file(f"-- purpose: measurement\n-- bounds: orders 0 2.5\n{SQL}\n")
    analysis = analyze_template(
        source.sql, source.parameters, "measurement", POLICY, DATASETS, source.bounds,
        line_offset=source.line_offset,
    )  # fmt: skip
    orders = next(m for m in analysis.plan.measurements if m.column == "orders")
    assert (orders.lower, orders.upper) == (0, 2)  # whole rows


def test_conditional_counts_take_declared_bounds_too() -> None:
    sql = (
        "SELECT channel, COUNT(*) FILTER (WHERE amount_cents > 100) AS orders "
        "FROM transactions GROUP BY channel"
    )
    assert _orders({"orders": (0, 4)}, sql).upper == 4


def _txn(pid: int, channel: str = "online") -> dict[str, Any]:
    return {"pid": pid, "txn_ts": "2024-03-01", "brand": "acme", "channel": channel,
            "amount_cents": 100, "units": 1}  # fmt: skip


def test_the_rewrite_clamps_each_person_to_the_declared_bound() -> None:
    rows = {
        "transactions": [
            *(_txn(1) for _ in range(7)),  # 7 online orders: clamped to 3
            _txn(2),
            _txn(2),
            *(_txn(3, "instore") for _ in range(5)),  # 5 instore orders: clamped to 3
        ]
    }
    compiled = compile_template(SQL, [], {}, "measurement", POLICY, DATASETS, {"orders": (0, 3)})
    out = connect(rows).execute(compiled.duckdb_sql).fetchall()
    assert sorted((r[0], int(r[1]), int(r[2])) for r in out) == [
        ("instore", 1, 3),
        ("online", 2, 5),  # 3 + 2
    ]
    loose = compile_template(SQL, [], {}, "measurement", POLICY, DATASETS)
    out = connect(rows).execute(loose.duckdb_sql).fetchall()
    assert sorted((r[0], int(r[2])) for r in out) == [("instore", 5), ("online", 9)]


def test_a_looser_count_bound_is_a_violation() -> None:
    codes = _codes({"orders": (0, 50)})
    assert codes == ["count_bounds_too_loose"]
    with pytest.raises(TemplateRejected) as info:
        compile_template(SQL, [], {}, "measurement", POLICY, DATASETS, {"orders": (0, 50)})
    message = info.value.violations[0].message
    assert "max_count_per_user" in message
    assert "orders" in message


def test_a_count_bound_below_one_row_is_a_violation() -> None:
    assert _codes({"orders": (0, 0.5)}) == ["invalid_count_bounds"]
    assert _codes({"orders": (2.2, 2.8)}) == ["invalid_count_bounds"]
