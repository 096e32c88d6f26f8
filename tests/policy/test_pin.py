"""The approval pin ignores formatting and parameter values, and changes with meaning."""

from __future__ import annotations

from cleanroom.policy import compile_template, template_pin
from cleanroom.specs import ParamSpec
from tests.policy.collab import DATASETS, POLICY

P = [ParamSpec("ids", "list[str]")]
BASE = (
    "SELECT campaign_id, COUNT(DISTINCT pid) AS reach FROM exposures "
    "WHERE campaign_id IN :ids GROUP BY 1"
)


def test_formatting_does_not_change_the_pin() -> None:
    variants = [
        BASE,
        "select campaign_id, count(distinct pid) as reach from exposures "
        "where campaign_id in :ids group by 1",
        "-- reach\nSELECT campaign_id,\n       COUNT(DISTINCT pid) AS reach  /* people */\n"
        "FROM   exposures\nWHERE  campaign_id IN :ids\nGROUP BY 1;",
        "SELECT Campaign_Id, COUNT(DISTINCT PID) AS REACH FROM Exposures "
        "WHERE campaign_id IN $ids GROUP BY 1",
    ]
    assert len({template_pin(v, P) for v in variants}) == 1


def test_semantic_changes_change_the_pin() -> None:
    changed = [
        BASE.replace("COUNT(DISTINCT pid)", "COUNT(*)"),
        BASE.replace("GROUP BY 1", "GROUP BY campaign_id HAVING COUNT(*) > 1"),
        BASE.replace("exposures", "holdout"),
        BASE.replace("AS reach", "AS people"),
    ]
    pins = {template_pin(v, P) for v in changed} | {template_pin(BASE, P)}
    assert len(pins) == len(changed) + 1
    assert template_pin(BASE, [ParamSpec("ids", "list[int]")]) != template_pin(BASE, P)


def test_compiled_pin_does_not_depend_on_values() -> None:
    a = compile_template(BASE, P, {"ids": ["a"]}, "measurement", POLICY, DATASETS)
    b = compile_template(BASE, P, {"ids": ["b", "c"]}, "measurement", POLICY, DATASETS)
    assert a.pin == b.pin == template_pin(BASE, P)
    assert a.duckdb_sql != b.duckdb_sql
