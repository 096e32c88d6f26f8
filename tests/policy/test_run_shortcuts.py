"""Work the rewrite leaves out when it provably cannot change the answer.

- ``observed_max_rows``: a personal dataset in which no person has more rows than its
  ``max_rows_per_user`` is read without the per-person row-cap window.
- The group cap (``max_groups_per_user``) stage is left out when the group keys' public domains
  allow no more key combinations than the cap.

Also: single-engine compiles give the same text as two-engine ones, and cached parses do not leak
between compiles.
"""

from __future__ import annotations

from typing import Any

import pytest

from cleanroom.errors import TemplateRejected
from cleanroom.plan import CompiledQuery
from cleanroom.policy import analyze_template, compile_template
from cleanroom.policy.violations import ViolationCollector
from cleanroom.specs import ParamSpec
from tests.policy.collab import DATASETS, POLICY, connect

JOINED = (
    "SELECT t.channel, COUNT(DISTINCT t.pid) AS buyers, SUM(t.amount_cents) AS sales "
    "FROM transactions t JOIN exposures e ON e.pid = t.pid GROUP BY t.channel"
)
CUSTOMERS = "SELECT COUNT(*) AS rows_kept, COUNT(DISTINCT pid) AS people FROM customers"
CAMPAIGNS = [ParamSpec("campaign_ids", "list[str]", ["c1", "c2"], True)]


def _compile(sql: str, params: list[ParamSpec] | None = None, **kw: Any) -> CompiledQuery:
    return compile_template(sql, params or [], {}, "measurement", POLICY, DATASETS, **kw)


def _source_of(sql: str, view: str) -> str:
    """The text from a dataset view's FROM to the end (each wrapped source reads one view)."""
    return sql[sql.index(f"FROM {view} AS d") :]


def _txn(pid: int, amount: int, channel: str = "online", **kw: Any) -> dict[str, Any]:
    return {"pid": pid, "txn_ts": "2024-03-01", "brand": "acme", "channel": channel,
            "amount_cents": amount, "units": 1, **kw}  # fmt: skip


ROWS: dict[str, list[dict[str, Any]]] = {
    "transactions": [
        _txn(1, 100),
        _txn(1, 300, channel="instore"),
        _txn(2, 60000),
        _txn(3, 50, consent_measurement=False),  # no consent: dropped either way
        _txn(4, 70),  # suppressed: dropped either way
    ],
    "exposures": [
        {"pid": p, "campaign_id": c, "exposure_ts": "2024-02-01", "placement": "onsite"}
        for p, c in ((1, "c1"), (1, "c2"), (2, "c1"), (3, "c1"), (4, "c2"))
    ],
}


def test_row_cap_left_out_only_where_it_cannot_bind() -> None:
    capped = _compile(JOINED).duckdb_sql
    assert capped.count("ROW_NUMBER()") == 2
    partial = _compile(JOINED, observed_max_rows={"transactions": 200, "exposures": 101})
    sql = partial.duckdb_sql
    assert sql.count("ROW_NUMBER()") == 1  # exposures: 101 > 100, the cap can bind
    assert "ROW_NUMBER()" not in _source_of(sql, "cr_ds_transactions").split(") AS t")[0]
    # consent and suppression filters stay on the uncapped dataset
    assert "d.consent_measurement IS TRUE" in sql
    assert sql.count("FROM cr_suppressed AS s") == 2
    none = _compile(JOINED, observed_max_rows={"transactions": 2, "exposures": 0}).duckdb_sql
    assert "ROW_NUMBER()" not in none
    assert "RANDOM()" not in none
    assert none.count("FROM cr_suppressed AS s") == 2


def test_unknown_datasets_keep_their_cap() -> None:
    assert _compile(JOINED, observed_max_rows={}).duckdb_sql == _compile(JOINED).duckdb_sql
    other = _compile(JOINED, observed_max_rows={"crm": 1}).duckdb_sql
    assert other == _compile(JOINED).duckdb_sql


def test_results_equal_with_and_without_the_cap_when_it_cannot_bind() -> None:
    con = connect(ROWS, suppressed=(4,))
    observed = {"transactions": 2, "exposures": 2}
    for spark_too in (False, True):
        engines = ("duckdb", "spark") if spark_too else ("duckdb",)
        capped = _compile(JOINED, engines=engines)
        uncapped = _compile(JOINED, engines=engines, observed_max_rows=observed)
        assert capped.pin == uncapped.pin  # a runtime fact, not part of the template
        assert "ROW_NUMBER" not in uncapped.duckdb_sql
        expected = sorted(con.execute(capped.duckdb_sql).fetchall())
        # person 1 has two exposures, so the join doubles their rows; 60000 is clamped to 50000
        assert expected == [("instore", 1, 600), ("online", 2, 50200)]
        assert sorted(con.execute(uncapped.duckdb_sql).fetchall()) == expected


def test_cap_kept_and_binding_when_someone_has_more_rows() -> None:
    rows = {"customers": [{"pid": 1, "region": r} for r in ("n", "s", "e")] + [{"pid": 2}]}
    con = connect(rows)
    for observed in (None, {"customers": 3}):
        compiled = _compile(CUSTOMERS, observed_max_rows=observed)
        assert "ROW_NUMBER()" in compiled.duckdb_sql
        assert con.execute(compiled.duckdb_sql).fetchall() == [(2, 2)]  # 1 row per person kept
    # Someone has more rows than the cap, whatever the caller claims: only the claim is trusted,
    # which is why it must come from the stored version's ingestion record.
    assert "ROW_NUMBER()" not in _compile(CUSTOMERS, observed_max_rows={"customers": 1}).duckdb_sql


def test_pin_and_analysis_do_not_depend_on_observed_rows() -> None:
    a = _compile(JOINED)
    b = _compile(JOINED, observed_max_rows={"transactions": 1, "exposures": 1})
    assert a.pin == b.pin
    assert a.plan == b.plan
    analysis = analyze_template(JOINED, [], "measurement", POLICY, DATASETS)
    assert analysis.pin == a.pin


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3", None])
def test_bad_observed_rows_are_caller_bugs(bad: Any) -> None:
    with pytest.raises(ValueError, match="observed_max_rows"):
        _compile(JOINED, observed_max_rows={"transactions": bad})


# --- the group cap -------------------------------------------------------------------------------
def test_group_cap_left_out_when_the_domains_allow_few_enough_groups() -> None:
    # placement has 3 declared values <= max_groups_per_user 4: nobody reaches 5 released groups
    few = _compile("SELECT placement, COUNT(DISTINCT pid) AS reach FROM exposures GROUP BY 1")
    assert "cr_group_rank" not in few.duckdb_sql
    # Only the 3 domain groups are released: sensitivities use 3 groups, not the policy's 4.
    assert few.plan.max_groups_per_user == 3
    assert {m.max_groups for m in few.plan.measurements} == {3}
    listed = _compile(
        "SELECT campaign_id, COUNT(DISTINCT pid) AS reach FROM exposures "
        "WHERE campaign_id IN (:campaign_ids) GROUP BY 1",
        CAMPAIGNS,
    )
    assert "cr_group_rank" not in listed.duckdb_sql


@pytest.mark.parametrize(
    "sql",
    [
        # 3 placements x 2 channels = 6 combinations > 4
        "SELECT e.placement, t.channel, COUNT(DISTINCT e.pid) AS n FROM exposures e "
        "JOIN transactions t ON t.pid = e.pid GROUP BY 1, 2",
        # campaign_id has no public domain
        "SELECT campaign_id, COUNT(DISTINCT pid) AS reach FROM exposures GROUP BY 1",
    ],
)
def test_group_cap_kept_when_a_person_may_touch_more_groups(sql: str) -> None:
    assert "cr_group_rank <= 4" in _compile(sql).duckdb_sql


def test_group_cap_shortcut_gives_the_same_answer() -> None:
    rows = {
        "exposures": [
            {"pid": p, "campaign_id": "c1", "exposure_ts": "2024-02-01", "placement": pl}
            for p in range(1, 6)
            for pl in ("onsite", "offsite", "email")[: 1 + p % 3]
        ]
    }
    con = connect(rows)
    compiled = _compile(
        "SELECT placement, COUNT(DISTINCT pid) AS reach, COUNT(*) AS n FROM exposures GROUP BY 1"
    )
    assert "cr_group_rank" not in compiled.duckdb_sql
    result = sorted(con.execute(compiled.duckdb_sql).fetchall())
    assert result == [("email", 2, 2), ("offsite", 4, 4), ("onsite", 5, 5)]


# --- engines and the parse cache -----------------------------------------------------------------
@pytest.mark.parametrize("sql", [JOINED, CUSTOMERS])
def test_single_engine_compiles_match_two_engine_ones(sql: str) -> None:
    both = _compile(sql)
    duck = _compile(sql, engines=("duckdb",))
    spark = _compile(sql, engines=("spark",))
    assert (duck.duckdb_sql, duck.spark_sql) == (both.duckdb_sql, "")
    assert (spark.spark_sql, spark.duckdb_sql) == (both.spark_sql, "")
    assert both.pin == duck.pin == spark.pin


def test_cached_parses_do_not_leak_between_compiles() -> None:
    sql = "SELECT campaign_id, COUNT(DISTINCT pid) AS reach FROM exposures " + (
        "WHERE campaign_id IN (:campaign_ids) GROUP BY 1"
    )
    first = compile_template(
        sql, CAMPAIGNS, {"campaign_ids": ["a"]}, "measurement", POLICY, DATASETS
    )
    second = compile_template(
        sql, CAMPAIGNS, {"campaign_ids": ["b", "c"]}, "measurement", POLICY, DATASETS
    )
    assert "IN ('a')" in first.duckdb_sql
    assert "IN ('b', 'c')" in second.duckdb_sql
    assert first.pin == second.pin
    assert first.plan.group_keys[0].public_domain == ("a",)
    assert second.plan.group_keys[0].public_domain == ("b", "c")


def test_rejections_still_have_positions_after_a_cached_parse() -> None:
    sql = "SELECT COUNT(DISTINCT pid) AS n FROM exposures WHERE campaign_id = :cid"
    params = [ParamSpec("cid", "str")]
    compile_template(sql, params, {"cid": "x"}, "measurement", POLICY, DATASETS)
    found = []
    for _ in range(2):
        with pytest.raises(TemplateRejected) as err:
            compile_template(sql, params, {"cid": 3}, "measurement", POLICY, DATASETS)
        found.append(err.value.violations)
        assert "parameter_type" in [v.code for v in err.value.violations]
    assert found[0] == found[1]
    bad = "SELECT COUNT(DISTINCT pid) AS n FROM exposures WHERE email_sha256 = 'x'"
    for _ in range(2):
        with pytest.raises(TemplateRejected) as err:
            _compile(bad)
        (violation,) = err.value.violations
        assert (violation.line, violation.column) == (1, 54)


# --- person counts -------------------------------------------------------------------------------
def test_person_count_partials_count_without_distinct() -> None:
    sql = (
        "SELECT e.placement, COUNT(DISTINCT e.pid) AS reach, "
        "COUNT(DISTINCT t.pid) FILTER (WHERE t.amount_cents > 200) AS big_buyers, "
        "COUNT(DISTINCT CASE WHEN t.channel = 'online' THEN t.pid END) AS online_buyers "
        "FROM exposures e LEFT JOIN transactions t ON t.pid = e.pid GROUP BY 1"
    )
    compiled = _compile(sql)
    assert "DISTINCT" not in compiled.duckdb_sql
    assert "DISTINCT" not in compiled.spark_sql
    assert "COUNT(t.pid) FILTER(WHERE t.amount_cents > 200)" in compiled.duckdb_sql
    rows = {
        **ROWS,
        "exposures": [
            *ROWS["exposures"],
            {"pid": 5, "campaign_id": "c1", "exposure_ts": "2024-02-01", "placement": "onsite"},
        ],
    }
    result = sorted(connect(rows, suppressed=(4,)).execute(compiled.duckdb_sql).fetchall())
    # onsite: people 1 (two exposures), 2, 3 and 5 (no purchase, NULL t.pid); person 3's
    # purchase has no consent. Person 1 bought online (100) and in store (300), person 2 online
    # (60000): each counts once however many joined rows they have.
    assert result == [("onsite", 4, 2, 2)]


def test_the_parse_cache_is_bounded() -> None:
    from cleanroom.policy import parsed

    for i in range(parsed.MAX_CACHED + 20):
        sql = f"SELECT COUNT(DISTINCT pid) AS n{i} FROM exposures"
        assert parsed.parsed_template(sql, ViolationCollector(sql)) is not None
    assert len(parsed._cache) <= parsed.MAX_CACHED
    assert parsed._cached_nodes == sum(entry[2] for entry in parsed._cache.values())
    assert parsed._cached_nodes <= parsed.MAX_CACHED_NODES
