"""Parameter binding: typed literals, list expansion, and the violations for bad values."""

from __future__ import annotations

import pytest

from cleanroom.errors import TemplateRejected
from cleanroom.policy import compile_template
from cleanroom.specs import ParamSpec
from tests.policy.collab import DATASETS, POLICY

SQL = (
    "SELECT campaign_id, COUNT(DISTINCT pid) AS reach FROM exposures "
    "WHERE campaign_id IN :ids AND exposure_ts >= :since GROUP BY campaign_id"
)
PARAMS = [ParamSpec("ids", "list[str]"), ParamSpec("since", "date", "2024-01-01", True)]


def _codes(values: dict[str, object], params: list[ParamSpec] = PARAMS) -> list[str]:
    with pytest.raises(TemplateRejected) as info:
        compile_template(SQL, params, values, "measurement", POLICY, DATASETS)
    return [v.code for v in info.value.violations]


def test_list_parameter_expands_and_gives_public_domain() -> None:
    compiled = compile_template(
        SQL, PARAMS, {"ids": ["c1", "c'2"]}, "measurement", POLICY, DATASETS
    )
    assert "IN ('c1', 'c''2')" in compiled.duckdb_sql
    assert "CAST('2024-01-01' AS DATE)" in compiled.duckdb_sql
    assert compiled.plan.group_keys[0].public_domain == ("c1", "c'2")
    assert compiled.parameters == {"ids": ["c1", "c'2"], "since": "2024-01-01"}


def test_missing_value_is_unbound() -> None:
    assert _codes({}) == ["unbound_parameter"]


def test_unknown_value_is_rejected() -> None:
    assert "unknown_parameter" in _codes({"ids": ["a"], "other": 1})


@pytest.mark.parametrize(
    "values",
    [{"ids": "c1"}, {"ids": [1]}, {"ids": []}, {"ids": ["a"], "since": "yesterday"}],
)
def test_wrong_type_is_rejected(values: dict[str, object]) -> None:
    assert "parameter_type" in _codes(values)


def test_list_parameter_outside_in_is_rejected() -> None:
    sql = "SELECT COUNT(DISTINCT pid) AS n FROM exposures WHERE campaign_id = :ids"
    with pytest.raises(TemplateRejected) as info:
        compile_template(sql, PARAMS, {"ids": ["a"]}, "measurement", POLICY, DATASETS)
    assert "parameter_type" in [v.code for v in info.value.violations]


def test_injection_attempt_stays_a_literal() -> None:
    sql = "SELECT COUNT(DISTINCT pid) AS n FROM exposures WHERE campaign_id = :c"
    evil = "x'; DROP TABLE cr_suppressed; --"
    compiled = compile_template(
        sql, [ParamSpec("c", "str")], {"c": evil}, "measurement", POLICY, DATASETS
    )
    assert "'x''; DROP TABLE cr_suppressed; --'" in compiled.duckdb_sql
