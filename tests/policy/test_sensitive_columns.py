"""Sensitive columns (declared protected-class proxies): carried as they are, and the group key of
a fairness release; never a filter, a join key, an operand, an aggregate's argument, a window's
partition or a per-person group key, under any purpose. The neighbour fuzzer generates them too
(tests/policy/template_grammar.py); these are the documented shapes, each pinned."""

from __future__ import annotations

import pytest

from cleanroom.errors import TemplateRejected
from cleanroom.policy import compile_template
from tests.policy.collab import DATASETS, POLICY, connect

FAIR = "fairness"
COMPOSITION = """
SELECT c.age_band, COUNT(DISTINCT c.pid) AS eligible,
       COUNT(DISTINCT e.pid) AS reached
FROM customers c LEFT JOIN exposures e ON e.pid = c.pid AND e.campaign_id = 'c1'
GROUP BY c.age_band"""
CARRIED = """
WITH people AS (SELECT c.pid, c.age_band AS band FROM customers c)
SELECT p.band, COUNT(DISTINCT p.pid) AS people FROM people p GROUP BY ALL"""

REJECTED_ANY_PURPOSE = [
    "SELECT COUNT(DISTINCT pid) AS n FROM customers WHERE age_band = '18-34'",
    "SELECT COUNT(DISTINCT pid) AS n FROM customers WHERE age_band IN ('18-34', '55+')",
    "SELECT COUNT(DISTINCT pid) AS n FROM customers WHERE age_band IS NULL",
    "SELECT CASE WHEN age_band = '55+' THEN 'old' ELSE 'young' END AS b, "
    "COUNT(DISTINCT pid) AS n FROM customers GROUP BY 1",
    "SELECT LOWER(age_band) AS b, COUNT(DISTINCT pid) AS n FROM customers GROUP BY 1",
    "SELECT region, COUNT(DISTINCT age_band) AS bands FROM customers GROUP BY 1",
    "SELECT COUNT(DISTINCT pid) FILTER (WHERE age_band = '18-34') AS n FROM customers",
    "SELECT COUNT(DISTINCT c.pid) AS n FROM customers c JOIN exposures e "
    "ON e.pid = c.pid AND e.campaign_id = c.age_band",
    "SELECT COUNT(DISTINCT e.pid) AS n FROM exposures e WHERE EXISTS "
    "(SELECT 1 FROM customers c WHERE c.pid = e.pid AND c.age_band = '55+')",
    "SELECT COUNT(DISTINCT e.pid) AS n FROM exposures e WHERE e.campaign_id IN "
    "(SELECT age_band FROM customers)",
    "WITH x AS (SELECT pid, age_band, COUNT(*) AS k FROM customers GROUP BY pid, age_band) "
    "SELECT COUNT(DISTINCT pid) AS n FROM x",
    "WITH x AS (SELECT pid, ROW_NUMBER() OVER (PARTITION BY pid, age_band) AS r FROM customers) "
    "SELECT COUNT(DISTINCT pid) AS n FROM x WHERE r = 1",
    "WITH x AS (SELECT c.pid, UPPER(c.age_band) AS b FROM customers c) "
    "SELECT b, COUNT(DISTINCT pid) AS n FROM x GROUP BY b",
    # carried through a CTE, then filtered: the CTE's column is still sensitive
    "WITH p AS (SELECT c.pid, c.age_band AS band FROM customers c) "
    "SELECT COUNT(DISTINCT p.pid) AS n FROM p WHERE p.band = '18-34'",
]


def codes(sql: str, purpose: str) -> list[str]:
    with pytest.raises(TemplateRejected) as info:
        compile_template(sql, [], {}, purpose, POLICY, DATASETS, engines=("duckdb",))
    return [v.code for v in info.value.violations]


@pytest.mark.parametrize("purpose", ["measurement", FAIR])
@pytest.mark.parametrize("sql", REJECTED_ANY_PURPOSE)
def test_a_sensitive_column_decides_nothing_under_any_purpose(sql: str, purpose: str) -> None:
    assert "sensitive_column" in codes(sql, purpose)


@pytest.mark.parametrize("sql", [COMPOSITION, CARRIED])
def test_only_a_fairness_release_may_group_by_it(sql: str) -> None:
    assert "sensitive_column" in codes(sql, "measurement")
    compiled = compile_template(sql, [], {}, FAIR, POLICY, DATASETS, engines=("duckdb", "spark"))
    keys = compiled.plan.group_keys
    assert len(keys) == 1
    assert keys[0].public_domain == (
        "18-34",
        "35-54",
        "55+",
    )  # zero-filled from the declared values
    people = [{"pid": n, "age_band": ("18-34", "55+")[n % 2]} for n in range(40)]
    exposed = [{"pid": n, "campaign_id": "c1"} for n in range(0, 40, 3)]
    result = connect({"customers": people, "exposures": exposed}).execute(compiled.duckdb_sql)
    bands = {row[0] for row in result.fetchall()}
    assert bands <= {"18-34", "35-54", "55+"}
    assert bands


def test_the_message_says_what_is_allowed() -> None:
    with pytest.raises(TemplateRejected) as info:
        compile_template(REJECTED_ANY_PURPOSE[0], [], {}, FAIR, POLICY, DATASETS)
    (violation,) = [v for v in info.value.violations if v.code == "sensitive_column"]
    assert "group key of a fairness analysis" in violation.message
    assert (violation.line, violation.column) == (1, 54)
