"""Consent analyses (``-- consent: <dataset>``): the dataset is read without its consent filter for
the template's purpose and carries ``consented``, which may be carried as a plain column and be
a (public-keyed) group key of the release, and nothing else: never a filter, a join key, an
operand, an aggregate's argument, a window's partition or a per-person group key
(``consent_column``). The neighbour fuzzer generates these shapes too
(tests/policy/template_grammar.py); these are the documented ones, each pinned."""

from __future__ import annotations

import re

import pytest

from cleanroom.demo.specs import DEMO_POLICY, demo_dataset_specs
from cleanroom.errors import TemplateRejected
from cleanroom.policy import compile_template, parse_template_file, template_pin
from cleanroom.types import CollaborationPolicy, DatasetSpec
from tests.demo.demo_exact import QUERIES
from tests.policy.collab import DATASETS, POLICY, connect, pid

BY_CONSENT = """
SELECT t.consented, COUNT(DISTINCT t.pid) AS people
FROM transactions AS t GROUP BY t.consented"""
CARRIED = """
WITH rows_ AS (SELECT t.pid, t.consented AS c FROM transactions t WHERE t.brand = 'acme')
SELECT r.c, COUNT(DISTINCT r.pid) AS people FROM rows_ r GROUP BY ALL"""
WITH_CHANNEL = """
SELECT t.channel, t.consented, COUNT(DISTINCT t.pid) AS people,
       COUNT(DISTINCT t.pid) FILTER (WHERE t.units > 2) AS bulk_buyers
FROM transactions AS t GROUP BY t.channel, t.consented"""

REFUSED = [
    "SELECT COUNT(DISTINCT pid) AS n FROM transactions WHERE consented",
    "SELECT COUNT(DISTINCT pid) AS n FROM transactions WHERE NOT consented",
    "SELECT COUNT(DISTINCT pid) AS n FROM transactions WHERE consented IS TRUE",
    "SELECT COUNT(DISTINCT pid) AS n FROM transactions WHERE consented = TRUE",
    "SELECT COUNT(DISTINCT pid) FILTER (WHERE consented) AS n FROM transactions",
    "SELECT COUNT(DISTINCT pid) AS n, SUM(CAST(consented AS INT)) AS yes FROM transactions",
    "SELECT COUNT(DISTINCT consented) AS n FROM transactions",
    "SELECT CASE WHEN consented THEN 'in' ELSE 'out' END AS c, COUNT(DISTINCT pid) AS n "
    "FROM transactions GROUP BY 1",
    "SELECT NOT consented AS c, COUNT(DISTINCT pid) AS n FROM transactions GROUP BY 1",
    "SELECT COALESCE(consented, FALSE) AS c, COUNT(DISTINCT pid) AS n FROM transactions GROUP BY 1",
    "SELECT COUNT(DISTINCT t.pid) AS n FROM transactions t JOIN exposures e "
    "ON e.pid = t.pid AND t.consented",
    "SELECT COUNT(DISTINCT e.pid) AS n FROM exposures e WHERE EXISTS "
    "(SELECT 1 FROM transactions t WHERE t.pid = e.pid AND t.consented)",
    "SELECT COUNT(DISTINCT e.pid) AS n FROM exposures e WHERE e.pid IN "
    "(SELECT t.pid FROM transactions t WHERE t.consented)",
    "WITH x AS (SELECT pid, consented, COUNT(*) AS k FROM transactions GROUP BY pid, consented) "
    "SELECT COUNT(DISTINCT pid) AS n FROM x",
    "WITH x AS (SELECT pid, ROW_NUMBER() OVER (PARTITION BY pid, consented) AS r "
    "FROM transactions) SELECT COUNT(DISTINCT pid) AS n FROM x WHERE r = 1",
    "WITH x AS (SELECT pid, BOOL_OR(consented) AS ok FROM transactions GROUP BY pid) "
    "SELECT ok, COUNT(DISTINCT pid) AS n FROM x GROUP BY ok",
    # carried through a CTE, then filtered: the CTE's column is still the consent
    "WITH p AS (SELECT t.pid, t.consented AS c FROM transactions t) "
    "SELECT COUNT(DISTINCT p.pid) AS n FROM p WHERE p.c",
    "WITH a AS (SELECT pid, consented FROM transactions), b AS (SELECT pid, consented FROM "
    "transactions) SELECT COUNT(DISTINCT a.pid) AS n FROM a JOIN b USING (pid, consented)",
    # the raw consent column stays hidden in a consent analysis
    "SELECT consent_measurement, COUNT(DISTINCT pid) AS n FROM transactions GROUP BY 1",
]


def codes(
    sql: str, consent: str | None = "transactions", purpose: str = "measurement"
) -> list[str]:
    with pytest.raises(TemplateRejected) as info:
        compile_template(
            sql, [], {}, purpose, POLICY, DATASETS, engines=("duckdb",), consent=consent
        )
    return [v.code for v in info.value.violations]


@pytest.mark.parametrize("sql", REFUSED)
def test_the_consent_decides_nothing_but_the_release_key(sql: str) -> None:
    assert "consent_column" in codes(sql)


@pytest.mark.parametrize("sql", [BY_CONSENT, CARRIED, WITH_CHANNEL])
def test_only_a_consent_analysis_has_the_column(sql: str) -> None:
    assert "unknown_column" in codes(sql, consent=None)
    compiled = compile_template(
        sql, [], {}, "measurement", POLICY, DATASETS, engines=("duckdb", "spark"),
        consent="transactions",
    )  # fmt: skip
    (key,) = [k for k in compiled.plan.group_keys if k.public_domain == (False, True)]
    assert compiled.consent_key == key.name
    assert "consent_measurement IS TRUE," in compiled.duckdb_sql  # carried, not filtered
    assert "consent_measurement IS TRUE AND" not in compiled.duckdb_sql
    assert "consent_measurement IS TRUE," in compiled.spark_sql


def test_a_bad_header_dataset_is_refused() -> None:
    # not read by the template
    assert codes(BY_CONSENT, consent="exposures") == ["consent_dataset", "unknown_column"]
    # no consent column for the purpose (customers has none in this collaboration)
    sql = "SELECT c.consented, COUNT(DISTINCT c.pid) AS n FROM customers c GROUP BY 1"
    assert codes(sql, consent="customers") == ["consent_dataset"]
    assert set(codes(BY_CONSENT, purpose="audience_sizing")) == {
        "purpose_not_allowed",
        "consent_dataset",
    }


def test_the_message_says_what_is_allowed() -> None:
    with pytest.raises(TemplateRejected) as info:
        compile_template(
            REFUSED[0], [], {}, "measurement", POLICY, DATASETS, consent="transactions"
        )
    (violation,) = [v for v in info.value.violations if v.code == "consent_column"]
    assert "group key of the release" in violation.message
    assert (violation.line, violation.column) == (1, 57)


def test_the_header_is_in_the_pin() -> None:
    compiled = compile_template(
        BY_CONSENT, [], {}, "measurement", POLICY, DATASETS, consent="transactions"
    )
    assert compiled.pin == template_pin(BY_CONSENT, [], "transactions")
    assert compiled.pin != template_pin(BY_CONSENT, [])
    assert template_pin("SELECT 1 AS x FROM t", []) == template_pin(
        "SELECT 1 AS x FROM t", [], None
    )


@pytest.mark.parametrize(
    "sql",
    [
        # not split by consent: the people without consent would be counted with the others
        "SELECT COUNT(DISTINCT pid) AS n FROM transactions",
        "SELECT brand, COUNT(DISTINCT pid) AS n FROM transactions GROUP BY brand",
        # anything but person counts would measure the rows of people without consent
        "SELECT consented, COUNT(DISTINCT pid) AS n, SUM(units) AS units FROM transactions "
        "GROUP BY consented",
        "SELECT consented, COUNT(*) AS n FROM transactions GROUP BY consented",
    ],
)
def test_a_consent_analysis_releases_only_people_by_consent(sql: str) -> None:
    assert codes(sql) == ["consent_release"]


def test_a_person_with_both_values_counts_once_per_value_and_no_more() -> None:
    """Person 0 has rows with consent, without, and with a NULL consent (FALSE); the release
    counts them once in each group and the plan bounds them by two groups."""
    compiled = compile_template(
        BY_CONSENT, [], {}, "measurement", POLICY, DATASETS, engines=("duckdb",),
        consent="transactions",
    )  # fmt: skip
    assert compiled.plan.max_groups_per_user == 2
    rows = [{"pid": 0, "consent_measurement": c, "brand": "acme"} for c in (True, False)]
    rows += [{"pid": n, "consent_measurement": n % 3 == 0, "brand": "acme"} for n in range(1, 30)]
    con = connect({"transactions": rows}, suppressed=[3])
    con.execute(
        "INSERT INTO cr_ds_transactions (pid, brand, consent_measurement) VALUES (?, 'acme', NULL)",
        [pid(0)],
    )
    found = dict(con.execute(compiled.duckdb_sql).fetchall())
    # pids 1..29: multiples of 3 consent (3 is suppressed): 3..27 -> 9 - 1 = 8, plus person 0
    assert found == {True: 8 + 1, False: 20 + 1}


def test_the_shipped_template_is_a_consent_analysis_of_customers() -> None:
    source = parse_template_file((QUERIES / "opt_in_rate.sql").read_text(encoding="utf-8"))
    assert (source.consent, source.purpose) == ("customers", "measurement")
    specs = {n: DatasetSpec.from_dict(s) for n, s in demo_dataset_specs().items()}
    compiled = compile_template(
        source.sql, source.parameters, {}, source.purpose, CollaborationPolicy.from_dict(
            DEMO_POLICY), specs, line_offset=source.line_offset, consent=source.consent,
    )  # fmt: skip
    assert [k.public_domain for k in compiled.plan.group_keys] == [(False, True)]
    assert compiled.plan.keys_are_public  # zero-filled: no threshold, no delta for selection
    assert compiled.consent_key == "consented"
    with pytest.raises(TemplateRejected) as info:
        compile_template(
            source.sql, source.parameters, {}, source.purpose,
            CollaborationPolicy.from_dict(DEMO_POLICY), specs, line_offset=source.line_offset,
        )  # fmt: skip
    assert {v.code for v in info.value.violations} == {"unknown_column"}


def test_the_documented_example_compiles() -> None:
    doc = (QUERIES.parent / "docs" / "template-language.md").read_text(encoding="utf-8")
    section = doc.split("## Consent analyses", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    source = parse_template_file(block)
    assert source.consent == "customers"
    specs = {n: DatasetSpec.from_dict(s) for n, s in demo_dataset_specs().items()}
    compiled = compile_template(
        source.sql, source.parameters, {}, source.purpose or "", CollaborationPolicy.from_dict(
            DEMO_POLICY), specs, line_offset=source.line_offset, consent=source.consent,
    )  # fmt: skip
    assert compiled.consent_key == "consented"
