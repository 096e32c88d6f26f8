"""Rewrites run on DuckDB over hand-made data give the hand-computed bounded answers."""

from __future__ import annotations

from typing import Any

from cleanroom.policy import compile_template
from cleanroom.specs import ParamSpec
from tests.policy.collab import DATASETS, POLICY, connect


def _run(
    sql: str,
    rows: dict[str, list[dict[str, Any]]],
    suppressed: tuple[int, ...] = (),
    params: list[ParamSpec] | None = None,
) -> dict[Any, tuple[Any, ...]]:
    compiled = compile_template(sql, params or [], {}, "measurement", POLICY, DATASETS)
    con = connect(rows, suppressed)
    nkeys = len(compiled.plan.group_keys)
    out = con.execute(compiled.duckdb_sql).fetchall()
    return {tuple(r[:nkeys]): tuple(r[nkeys:]) for r in out}


def _txn(
    pid: int, amount: int, channel: str = "online", brand: str = "acme", **kw: Any
) -> dict[str, Any]:
    return {
        "pid": pid,
        "txn_ts": "2024-03-01",
        "brand": brand,
        "channel": channel,
        "amount_cents": amount,
        "units": 1,
        **kw,
    }


def test_consent_suppression_and_sum_clamp() -> None:
    rows = {
        "transactions": [
            _txn(1, 60000),  # clamped to the metric's upper bound 50000
            _txn(2, 100),
            _txn(2, 200, channel="instore"),
            _txn(3, 300, consent_measurement=False),  # no consent: dropped
            _txn(4, 500),  # suppressed: dropped
        ]
    }
    result = _run(
        "SELECT channel, COUNT(DISTINCT pid) AS buyers, SUM(amount_cents) AS sales "
        "FROM transactions GROUP BY channel",
        rows,
        suppressed=(4,),
    )
    assert result == {("online",): (2, 50100), ("instore",): (1, 200)}


def test_count_star_is_clamped_per_person() -> None:
    rows = {"transactions": [_txn(1, 10) for _ in range(12)] + [_txn(2, 10) for _ in range(3)]}
    result = _run("SELECT COUNT(*) AS txns, COUNT(DISTINCT pid) AS people FROM transactions", rows)
    assert result == {(): (10 + 3, 2)}


def test_rows_per_person_are_capped() -> None:
    rows = {
        "customers": [{"pid": 1, "region": r} for r in ("a", "b", "c")]
        + [{"pid": 2, "region": "a"}]
    }
    result = _run("SELECT region, COUNT(DISTINCT pid) AS n FROM customers GROUP BY region", rows)
    assert sum(v[0] for v in result.values()) == 2  # person 1 keeps one row (max_rows_per_user 1)


def test_groups_per_person_are_capped() -> None:
    brands = [f"b{i}" for i in range(7)]
    rows = {"transactions": [_txn(1, 10, brand=b) for b in brands]}
    result = _run("SELECT brand, COUNT(DISTINCT pid) AS n FROM transactions GROUP BY brand", rows)
    assert sum(v[0] for v in result.values()) == POLICY.max_groups_per_user


def test_equals_the_original_query_when_no_bound_binds() -> None:
    rows = {
        "exposures": [
            {"pid": p, "campaign_id": c, "exposure_ts": "2024-03-01"}
            for p, c in [(1, "c1"), (2, "c1"), (3, "c2")]
        ],
        "transactions": [
            _txn(1, 1000, brand="a"),
            _txn(1, 500, brand="a"),
            _txn(3, 700, brand="b"),
        ],
    }
    template = (
        "SELECT e.campaign_id, COUNT(DISTINCT e.pid) AS exposed, COUNT(DISTINCT t.pid) AS buyers, "
        "SUM(t.amount_cents) AS sales FROM exposures e LEFT JOIN transactions t ON t.pid = e.pid "
        "GROUP BY e.campaign_id"
    )
    rewritten = _run(template, rows)
    con = connect(rows)
    direct = template.replace("exposures e", "cr_ds_exposures e").replace(
        "transactions t", "cr_ds_transactions t"
    )
    original = {(r[0],): tuple(r[1:]) for r in con.execute(direct).fetchall()}
    assert rewritten == original == {("c1",): (2, 1, 1500), ("c2",): (1, 1, 700)}


def test_avg_is_sum_over_count_and_derived_outputs() -> None:
    rows = {"transactions": [_txn(1, 100), _txn(1, 300), _txn(2, 200)]}
    compiled = compile_template(
        "SELECT AVG(amount_cents) AS avg_basket, SUM(amount_cents) / COUNT(DISTINCT pid) AS per "
        "FROM transactions",
        [],
        {},
        "measurement",
        POLICY,
        DATASETS,
    )
    plan = compiled.plan
    assert [m.column for m in plan.measurements] == [
        "avg_basket_sum",
        "avg_basket_count",
        "cr_m3",
        "cr_m4",
    ]
    assert plan.person_count == "cr_m4"
    assert not plan.added_person_count
    values = dict(
        zip(
            [m.column for m in plan.measurements],
            connect(rows).execute(compiled.duckdb_sql).fetchone() or (),
            strict=True,
        )
    )
    assert values == {"avg_basket_sum": 600, "avg_basket_count": 3, "cr_m3": 600, "cr_m4": 2}


def test_person_count_is_added_when_missing() -> None:
    compiled = compile_template(
        "SELECT channel, SUM(units) AS u FROM transactions GROUP BY channel",
        [],
        {},
        "measurement",
        POLICY,
        DATASETS,
    )
    plan = compiled.plan
    assert plan.added_person_count
    assert plan.person_count == "cr_persons"
    assert plan.group_keys[0].public_domain == ("online", "instore")
    assert plan.keys_are_public
    rows = {"transactions": [_txn(1, 1, channel="online"), _txn(2, 1, channel="online")]}
    out = connect(rows).execute(compiled.duckdb_sql).fetchall()
    assert out == [("online", 2, 2)]


def test_declared_header_bounds_tighten() -> None:
    compiled = compile_template(
        "SELECT SUM(amount_cents) AS sales FROM transactions",
        [],
        {},
        "measurement",
        POLICY,
        DATASETS,
        {"sales": (0, 20000)},
    )
    sales = compiled.plan.measurements[0]
    assert (sales.lower, sales.upper) == (0, 20000)
    rows = {"transactions": [_txn(1, 30000)]}
    assert connect(rows).execute(compiled.duckdb_sql).fetchone() == (20000, 1)


def test_arg_min_and_arg_max_break_ties_by_value_not_row_order() -> None:
    """Among one person's rows that tie on the ordering key, ARG_MIN/ARG_MAX pick by the value
    (its smallest / largest, NULL last / first), so the engine's physical row order, which other
    people's rows can change, never chooses the person's partial."""
    sql = (
        "WITH firsts AS (SELECT pid, ARG_MIN(amount_cents, txn_ts) AS lo, "
        "ARG_MAX(amount_cents, txn_ts) AS hi FROM transactions GROUP BY pid) "
        "SELECT SUM(lo) AS lo_total, SUM(hi) AS hi_total FROM firsts"
    )
    tied = [_txn(1, 300), _txn(1, 100), _txn(1, 200)]  # one timestamp: all three tie
    results = {
        order: _run(sql, {"transactions": [tied[i] for i in order]})
        for order in ((0, 1, 2), (2, 1, 0), (1, 2, 0))
    }
    assert all(r[()][:2] == (100, 300) for r in results.values()), results
