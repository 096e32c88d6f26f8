"""Legitimate templates are accepted, compile for both engines and run on DuckDB."""

from __future__ import annotations

import pytest

from cleanroom.policy import analyze_template, compile_template
from cleanroom.specs import ParamSpec
from tests.policy.accepted_corpus import ACCEPTED
from tests.policy.collab import DATASETS, POLICY, connect

PARAMS = [
    ParamSpec("campaign_ids", "list[str]", ["c1", "c2"], True),
    ParamSpec("window_days", "int", 14, True),
    ParamSpec("since", "date", "2024-01-01", True),
]
ROWS = {
    "exposures": [
        {"pid": 1, "campaign_id": "c1", "placement": "onsite", "exposure_ts": "2024-03-01 10:00"},
        {"pid": 2, "campaign_id": "c2", "placement": "email", "exposure_ts": "2024-03-02 10:00"},
    ],
    "transactions": [
        {
            "pid": 1,
            "txn_ts": "2024-03-03 10:00",
            "brand": "acme",
            "channel": "online",
            "amount_cents": 1200,
            "units": 2,
        },
        {
            "pid": 2,
            "txn_ts": "2024-03-04 10:00",
            "brand": "zeta",
            "channel": "instore",
            "amount_cents": 800,
            "units": 1,
        },
    ],
    "customers": [{"pid": 1, "region": "north", "loyalty_tier": "gold"}],
    "crm": [{"pid": 1, "segment": "vip"}],
    "holdout": [{"pid": 2, "campaign_id": "c1", "cell": "holdout"}],
    "campaign_spend": [{"campaign_id": "c1", "spend_cents": 100000}],
    "catalog": [{"brand": "acme", "parent_company": "acme inc", "category": "snacks"}],
}


def test_corpus_is_large_enough() -> None:
    assert len(ACCEPTED) >= 25


@pytest.mark.parametrize("sql", ACCEPTED, ids=[f"t{i}" for i in range(len(ACCEPTED))])
def test_accepted_compiles_and_runs(sql: str) -> None:
    analysis = analyze_template(sql, PARAMS, "measurement", POLICY, DATASETS)
    assert analysis.outputs
    assert analysis.pin
    engines = ("duckdb",) if "ASOF" in sql else ("duckdb", "spark")
    compiled = compile_template(sql, PARAMS, {}, "measurement", POLICY, DATASETS, engines=engines)
    plan = compiled.plan
    assert plan.person_count in {m.column for m in plan.measurements}
    if "spark" in engines:
        assert compiled.spark_sql
        assert "QUALIFY" not in compiled.spark_sql
    for m in plan.measurements:
        assert m.lower <= m.upper
        assert m.bound > 0
    con = connect(ROWS)
    result = con.execute(compiled.duckdb_sql)
    columns = [d[0] for d in result.description]
    expected = [k.name for k in plan.group_keys] + [m.column for m in plan.measurements]
    assert columns == expected
    result.fetchall()
