"""The adversarial corpus: every template is rejected with its expected code."""

from __future__ import annotations

import pytest

from cleanroom.errors import TemplateRejected
from cleanroom.policy import analyze_template, compile_template
from tests.policy.collab import DATASETS, POLICY
from tests.policy.rejected_corpus import CORPUS, SPARK_ESCAPES


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 80
    assert len({code for _, code in CORPUS}) >= 30


@pytest.mark.parametrize(
    ("sql", "code"), CORPUS, ids=[f"{c}-{i}" for i, (_, c) in enumerate(CORPUS)]
)
def test_rejected_with_code(sql: str, code: str) -> None:
    with pytest.raises(TemplateRejected) as info:
        compile_template(sql, [], {}, "measurement", POLICY, DATASETS, engines=("duckdb",))
    codes = [v.code for v in info.value.violations]
    assert code in codes
    for violation in info.value.violations:
        assert violation.message
        assert "50000" not in violation.message  # never quotes data-ish values it was not given


@pytest.mark.parametrize(
    ("sql", "code"), SPARK_ESCAPES, ids=[f"{c}-{i}" for i, (_, c) in enumerate(SPARK_ESCAPES)]
)
def test_spark_escapes_are_rejected_for_both_engines(sql: str, code: str) -> None:
    with pytest.raises(TemplateRejected) as info:
        compile_template(sql, [], {}, "measurement", POLICY, DATASETS, engines=("duckdb", "spark"))
    assert code in [v.code for v in info.value.violations]


def test_every_violation_is_collected_with_positions() -> None:
    sql = (
        "SELECT postal_code,\n  MAX(amount_cents) AS m\nFROM transactions\n"
        "WHERE getenv('x') = 'y'\nGROUP BY 1"
    )
    with pytest.raises(TemplateRejected) as info:
        analyze_template(sql, [], "measurement", POLICY, DATASETS, line_offset=2)
    found = {(v.code, v.line, v.column) for v in info.value.violations}
    assert ("blocked_column", 3, 8) in found
    assert ("disallowed_aggregate", 4, 7) in found  # functions are located by their argument
    assert ("forbidden_function", 6, 7) in found
    assert len(found) == 3


def test_purpose_must_be_allowed_and_served() -> None:
    sql = "SELECT COUNT(DISTINCT pid) AS n FROM transactions"
    with pytest.raises(TemplateRejected) as info:
        analyze_template(sql, [], "audience_sizing", POLICY, DATASETS)
    assert [v.code for v in info.value.violations] == ["purpose_not_allowed"]
    with pytest.raises(TemplateRejected) as info:
        analyze_template(sql, [], "marketing", POLICY, DATASETS)
    assert "purpose_not_allowed" in [v.code for v in info.value.violations]


def test_asof_is_rejected_only_for_spark() -> None:
    sql = (
        "SELECT e.placement, COUNT(DISTINCT e.pid) AS n FROM exposures e ASOF LEFT JOIN "
        "transactions t ON e.pid = t.pid AND t.txn_ts >= e.exposure_ts GROUP BY 1"
    )
    compiled = compile_template(sql, [], {}, "measurement", POLICY, DATASETS, engines=("duckdb",))
    assert compiled.spark_sql == ""
    assert "ASOF" in compiled.duckdb_sql
    with pytest.raises(TemplateRejected) as info:
        compile_template(sql, [], {}, "measurement", POLICY, DATASETS)
    assert [v.code for v in info.value.violations] == ["unsupported_on_spark"]


def test_recursion_bomb_is_a_clean_rejection() -> None:
    sql = (
        "SELECT COUNT(DISTINCT pid) AS n FROM exposures WHERE " + " + ".join(["1"] * 3000) + " > 0"
    )
    with pytest.raises(TemplateRejected) as info:
        compile_template(sql, [], {}, "measurement", POLICY, DATASETS, engines=("duckdb",))
    assert {v.code for v in info.value.violations} <= {"nesting_too_deep", "too_large"}
