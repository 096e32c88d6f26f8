# ruff: noqa: E501  (templates are data; one per line reads best)
"""Adversarial templates against the compiler's soundness, as data (``test_adversarial.py`` runs them).

Every :class:`Case` is either **rejected** (``codes``: the template must be refused with one of
these violation codes) or **accepted**: it must compile, and its compiled DuckDB SQL must run on
adversarial data (``BASE_ROWS`` plus the case's ``rows``) and on that data plus one more person
(``ADDED_PID``: ``ADDED_ROWS`` plus the case's ``added``) without error, each measurement may move
by at most its claimed ``l1_sensitivity`` between the two, and ``dp.release`` must accept both
results. ``total_or_rejected`` cases (beyond the brief) may be refused with any code, but when
accepted they must satisfy the same run-time property.

Classes:

1. correlation believed where there is none (``uncorrelated_subquery``);
2. nullable person keys from the null-supplying side of LEFT / ASOF joins (``nullable_person_key``);
3. reserved ``cr_`` names (``reserved_name``; engine views: ``unknown_table`` or ``reserved_name``);
4. subqueries inside release aggregates (``subquery_in_release_aggregate``);
5. data-dependent failures (``non_total_expression``, ``scalar_subquery_rows``, or accepted and
   never failing on any data);
6. reference data joined or looked up on personal metrics (``reference_join_on_metric``,
   ``metric_as_group_key``);
7. metadata: a services concern, not covered here;
8. bounds (header ``bad_header`` as today, API ``invalid_bounds``, derived ``bounds_too_large``);
9. legitimate templates that must be accepted.

``SPEC_CASES`` are dataset specs ``DatasetSpec.from_dict`` must refuse (or, ``valid``, accept).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cleanroom.specs import DatasetSpec, ParamSpec
from tests.policy.collab import DATASETS

Rows = Mapping[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    id: str
    cls: int
    sql: str
    codes: frozenset[str] = frozenset()  # non-empty: rejected with at least one of these
    header: str = ""  # template-file header lines, parsed with parse_template_file
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # API declared bounds
    params: tuple[ParamSpec, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    rows: Rows = field(default_factory=dict)  # added to BASE_ROWS
    added: Rows = field(default_factory=dict)  # added to ADDED_ROWS (all rows get ADDED_PID)
    total_or_rejected: bool = False
    note: str = ""

    @property
    def rejected(self) -> bool:
        return bool(self.codes)


@dataclass(frozen=True)
class SpecCase:
    id: str
    cls: int
    spec: Mapping[str, Any]
    valid: bool = False


def rej(cls: int, name: str, sql: str, *codes: str, **kw: Any) -> Case:
    assert codes
    return Case(f"c{cls}_{name}", cls, sql, frozenset(codes), **kw)


def acc(cls: int, name: str, sql: str, **kw: Any) -> Case:
    return Case(f"c{cls}_{name}", cls, sql, **kw)


# --- datasets: the collaboration's, plus a reference with a metric and a wide-bounded personal one
EXTRA_SPECS: dict[str, dict[str, Any]] = {
    "prices": {
        "name": "prices",
        "kind": "reference",
        "columns": {
            "brand": {"role": "dimension"},
            "label": {"role": "dimension"},
            "price_cents": {"role": "metric"},
        },
    },
    "wide": {
        "name": "wide",
        "kind": "personal",
        "purposes": ["measurement", "audience_sizing"],
        "max_rows_per_user": 5,
        "columns": {
            "email_sha256": {"role": "identifier"},
            "kind": {"role": "dimension"},
            "x": {
                "role": "metric",
                "type": "number",
                "bounds": [0, 1e15],
                "aggregates": ["SUM", "AVG"],
            },
        },
    },
}
ALL_DATASETS: dict[str, DatasetSpec] = {
    **DATASETS,
    **{n: DatasetSpec.from_dict(s) for n, s in EXTRA_SPECS.items()},
}

PARAMS = (
    ParamSpec("campaign_ids", "list[str]", ["c1", "c2"], True),
    ParamSpec("window_days", "int", 14, True),
)


# --- adversarial data ---------------------------------------------------------------------------
def txn(
    pid: int,
    brand: str | None = "acme",
    channel: str | None = "online",
    amount: int | None = 100,
    units: int | None = 1,
    ts: str | None = "2024-03-02 10:00",
    category: str | None = "snacks",
) -> dict[str, Any]:
    return {
        "pid": pid,
        "brand": brand,
        "channel": channel,
        "amount_cents": amount,
        "units": units,
        "txn_ts": ts,
        "category": category,
    }


def expo(
    pid: int, campaign: str = "c1", placement: str = "onsite", ts: str | None = "2024-03-01 08:00"
) -> dict[str, Any]:
    return {
        "pid": pid,
        "campaign_id": campaign,
        "placement": placement,
        "exposure_ts": ts,
        "channel": "web",
    }


PEOPLE = range(1, 7)
# Every base person has few rows (within every max_rows_per_user) and reaches at most 4 groups
# under any key the accepted templates use, so the random row and group caps never bind for
# them: the two neighbouring runs differ only by the added person.
BASE_ROWS: dict[str, list[dict[str, Any]]] = {
    "transactions": [
        row
        for p in PEOPLE
        for row in (
            txn(
                p, "acme" if p % 2 else "zeta", "online", 100 * p, p % 3 + 1, f"2024-03-0{p} 10:00"
            ),
            txn(
                p,
                "zeta" if p % 2 else "acme",
                "instore",
                50 * p,
                1,
                f"2024-03-1{p} 12:00",
                "drinks",
            ),
        )
    ],
    "exposures": [
        row
        for p in PEOPLE
        for row in (
            expo(p, "c1", "onsite", f"2024-03-0{p} 08:00"),
            expo(p, "c2", "email", f"2024-02-2{p} 08:00"),
        )
    ],
    "customers": [
        {
            "pid": p,
            "region": "north" if p % 2 else "south",
            "segment": "a" if p < 4 else "b",
            "loyalty_tier": ("none", "silver", "gold")[p % 3],
        }
        for p in PEOPLE
    ],
    "crm": [{"pid": p, "segment": "vip" if p <= 2 else "regular"} for p in range(1, 5)],
    "holdout": [
        {"pid": p, "campaign_id": "c1", "cell": "test" if p % 2 == 0 else "holdout"}
        for p in range(2, 6)
    ],
    "catalog": [
        {"brand": "acme", "parent_company": "acme inc", "category": "snacks"},
        {"brand": "acme", "parent_company": "acme holdings", "category": "snacks"},  # duplicate
        {"brand": "zeta", "parent_company": "zeta co", "category": "drinks"},
    ],
    "campaign_spend": [
        {"campaign_id": "c1", "spend_cents": 100000},
        {"campaign_id": "c2", "spend_cents": 5000},
    ],
    "prices": [
        {"brand": "acme", "label": "premium", "price_cents": 100},
        {"brand": "zeta", "label": "budget", "price_cents": 200},
        {"brand": "acme", "label": "promo", "price_cents": 300},  # duplicate brand
    ],
    "wide": [{"pid": p, "kind": "a", "x": 10**14 * p} for p in range(1, 4)],
}

ADDED_PID = 99
# The added person has many rows, in many groups, with metric values far above the bounds.
ADDED_ROWS: dict[str, list[dict[str, Any]]] = {
    "transactions": [
        txn(
            ADDED_PID,
            ("acme", "zeta")[i] if i < 2 else f"b{i}",
            ("online", "instore", "kiosk")[i % 3],
            10**9,
            1000,
            f"2024-04-{i + 1:02d} 10:00",
            ("snacks", "drinks", "other")[i % 3],
        )
        for i in range(12)
    ],
    "exposures": [
        expo(
            ADDED_PID,
            f"c{i % 5 + 1}",
            ("onsite", "offsite", "email", "tv")[i % 4],
            f"2024-03-{i + 1:02d} 07:00",
        )
        for i in range(10)
    ],
    "customers": [
        {"pid": ADDED_PID, "region": r, "segment": "a", "loyalty_tier": "gold"}
        for r in ("north", "south", "east")
    ],
    "crm": [{"pid": ADDED_PID, "segment": s} for s in ("vip", "regular", "x", "y", "z")],
    "holdout": [
        {"pid": ADDED_PID, "campaign_id": f"c{i}", "cell": ("test", "holdout")[i % 2]}
        for i in range(1, 4)
    ],
    "wide": [{"pid": ADDED_PID, "kind": k, "x": 2 * 10**15} for k in ("a", "b", "c")],
}

# --- 1. correlation believed where there is none ---------------------------------------------
C = "SELECT c.region, COUNT(DISTINCT c.pid) AS n FROM customers c WHERE "
G = " GROUP BY c.region"
U = "uncorrelated_subquery"

# fmt: off
CLASS_1: list[Case] = [
    rej(1, "or", C + "EXISTS (SELECT 1 FROM crm WHERE crm.pid = c.pid OR crm.segment = 'vip')" + G, U),
    rej(1, "or_true", C + "EXISTS (SELECT 1 FROM crm WHERE crm.pid = c.pid OR TRUE)" + G, U),
    rej(1, "or_nested_in_and", C + "EXISTS (SELECT 1 FROM crm WHERE crm.segment = 'vip' AND (crm.pid = c.pid OR crm.segment = 'x'))" + G, U),
    rej(1, "not", C + "EXISTS (SELECT 1 FROM crm WHERE NOT (crm.pid = c.pid))" + G, U),
    rej(1, "not_exists_not", C + "NOT EXISTS (SELECT 1 FROM crm WHERE NOT (crm.pid = c.pid))" + G, U),
    rej(1, "case", C + "EXISTS (SELECT 1 FROM crm WHERE CASE WHEN crm.segment = 'vip' THEN crm.pid = c.pid ELSE TRUE END)" + G, U),
    rej(1, "is_not_null", C + "EXISTS (SELECT 1 FROM crm WHERE (crm.pid = c.pid) IS NOT NULL)" + G, U),
    rej(1, "coalesce", C + "EXISTS (SELECT 1 FROM crm WHERE COALESCE(crm.pid = c.pid, TRUE))" + G, U),
    rej(1, "eq_true", C + "EXISTS (SELECT 1 FROM crm WHERE (crm.pid = c.pid) = TRUE)" + G, U),
    rej(1, "select_list", C + "EXISTS (SELECT crm.pid = c.pid FROM crm)" + G, U),
    rej(1, "having", C + "EXISTS (SELECT crm.pid FROM crm GROUP BY crm.pid HAVING crm.pid = c.pid)" + G, U),
    rej(1, "nested_only", C + "EXISTS (SELECT 1 FROM crm WHERE EXISTS (SELECT 1 FROM holdout h WHERE h.pid = c.pid))" + G, U),
    rej(1, "join_on", C + "EXISTS (SELECT 1 FROM crm JOIN holdout h ON h.pid = crm.pid AND h.pid = c.pid)" + G, U),
    rej(1, "inner_to_inner", C + "EXISTS (SELECT 1 FROM crm WHERE crm.pid = crm.pid)" + G, U),
    rej(1, "inner_to_inner_join", C + "EXISTS (SELECT 1 FROM crm JOIN holdout h ON h.pid = crm.pid WHERE h.pid = crm.pid)" + G, U),
    rej(1, "outer_to_outer", C + "EXISTS (SELECT 1 FROM crm WHERE c.pid = c.pid)" + G, U),
    rej(1, "derived_table_only", C + "EXISTS (SELECT 1 FROM (SELECT crm.pid FROM crm WHERE crm.pid = c.pid) x)" + G, U, "unknown_column"),
    rej(1, "not_exists_or", C + "NOT EXISTS (SELECT 1 FROM holdout h WHERE h.pid = c.pid OR h.cell = 'holdout')" + G, U),
    rej(1, "scalar_correlated", C + "(SELECT COUNT(*) FROM crm WHERE crm.pid = c.pid) > 2" + G, U),
    rej(1, "in_correlated", C + "c.segment IN (SELECT crm.segment FROM crm WHERE crm.pid = c.pid)" + G, U),
    rej(1, "in_cte", "WITH x AS (SELECT t.pid, t.brand FROM transactions t WHERE EXISTS (SELECT 1 FROM crm WHERE crm.pid = t.pid OR crm.segment = 'vip')) SELECT brand, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", U),
    rej(1, "in_join_on", "SELECT c.region, COUNT(DISTINCT c.pid) AS n FROM customers c JOIN crm ON crm.pid = c.pid AND EXISTS (SELECT 1 FROM holdout h WHERE h.pid = c.pid OR h.cell = 'test') GROUP BY 1", U),
    # accepted controls: EXISTS / NOT EXISTS with the pid equality a top-level WHERE conjunct
    acc(1, "ok_exists_extra", C + "EXISTS (SELECT 1 FROM crm WHERE crm.pid = c.pid AND crm.segment = 'vip')" + G),
    acc(1, "ok_not_exists_extra", C + "NOT EXISTS (SELECT 1 FROM exposures e WHERE e.campaign_id = 'c1' AND e.pid = c.pid AND e.placement = 'email')" + G),
    acc(1, "ok_reversed_parens", C + "EXISTS (SELECT 1 FROM crm WHERE (c.pid = crm.pid) AND (crm.segment LIKE 'v%'))" + G),
    acc(1, "ok_join_inside", C + "EXISTS (SELECT 1 FROM crm JOIN holdout h ON h.pid = crm.pid WHERE crm.pid = c.pid AND h.cell = 'test')" + G),
    acc(1, "ok_in_cte", "WITH x AS (SELECT t.pid, t.brand FROM transactions t WHERE EXISTS (SELECT 1 FROM crm WHERE crm.pid = t.pid AND crm.segment = 'vip')) SELECT brand, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1"),
    rej(1, "shadowed_alias", C + "EXISTS (SELECT 1 FROM crm c WHERE c.pid = c.pid)" + G, U),
    rej(1, "null_safe_equality", C + "EXISTS (SELECT 1 FROM crm WHERE crm.pid IS NOT DISTINCT FROM c.pid)" + G, U, "pid_misuse"),
    acc(1, "ok_nested_correlated", C + "EXISTS (SELECT 1 FROM crm WHERE crm.pid = c.pid AND EXISTS (SELECT 1 FROM holdout h WHERE h.pid = crm.pid AND h.cell = 'test'))" + G),
]
# fmt: on

# --- 2. nullable person keys ------------------------------------------------------------------
LJ = "FROM exposures e LEFT JOIN transactions t ON t.pid = e.pid"
AJ = "FROM exposures e ASOF LEFT JOIN transactions t ON e.pid = t.pid AND t.txn_ts >= e.exposure_ts"
N = "nullable_person_key"

# fmt: off
CLASS_2: list[Case] = [
    rej(2, "partition_right", f"WITH x AS (SELECT e.pid, e.placement, ROW_NUMBER() OVER (PARTITION BY t.pid ORDER BY e.exposure_ts) AS rn {LJ}) SELECT placement, COUNT(DISTINCT pid) AS n FROM x WHERE rn = 1 GROUP BY 1", N),
    rej(2, "partition_right_plus_dim", f"WITH x AS (SELECT e.pid, e.placement, ROW_NUMBER() OVER (PARTITION BY t.pid, e.campaign_id ORDER BY e.exposure_ts) AS rn {LJ}) SELECT placement, COUNT(DISTINCT pid) AS n FROM x WHERE rn = 1 GROUP BY 1", N),
    rej(2, "window_sum_right", f"WITH x AS (SELECT e.pid, e.placement, SUM(t.units) OVER (PARTITION BY t.pid) AS u {LJ}) SELECT CASE WHEN u > 3 THEN 'many' ELSE 'few' END AS b, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", N),
    rej(2, "group_by_right", f"WITH x AS (SELECT t.pid, COUNT(*) AS k {LJ} GROUP BY t.pid) SELECT CASE WHEN k > 5 THEN 'many' ELSE 'few' END AS b, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", N),
    rej(2, "group_by_all_right", f"WITH x AS (SELECT t.pid, COUNT(*) AS k {LJ} GROUP BY ALL) SELECT LEAST(k, 3) AS f, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", N),
    rej(2, "exists_on_right", f"SELECT e.placement, COUNT(DISTINCT e.pid) AS n {LJ} WHERE EXISTS (SELECT 1 FROM crm WHERE crm.pid = t.pid) GROUP BY 1", N),
    rej(2, "not_exists_on_right", f"SELECT e.placement, COUNT(DISTINCT e.pid) AS n {LJ} WHERE NOT EXISTS (SELECT 1 FROM crm WHERE crm.pid = t.pid) GROUP BY 1", N),
    rej(2, "exists_on_right_in_cte", "WITH x AS (SELECT c.pid, c.region FROM customers c LEFT JOIN crm ON crm.pid = c.pid WHERE EXISTS (SELECT 1 FROM holdout h WHERE h.pid = crm.pid)) SELECT region, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", N),
    rej(2, "qualify_right", f"WITH x AS (SELECT e.pid, e.placement {LJ} QUALIFY ROW_NUMBER() OVER (PARTITION BY t.pid ORDER BY e.exposure_ts) = 1) SELECT placement, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", N),
    rej(2, "cte_nullable_then_grouped", f"WITH x AS (SELECT t.pid, t.amount_cents {LJ}), y AS (SELECT pid, SUM(amount_cents) AS s FROM x GROUP BY pid) SELECT CASE WHEN s > 100 THEN 'hi' ELSE 'lo' END AS b, COUNT(DISTINCT pid) AS n FROM y GROUP BY 1", N),
    rej(2, "cte_nullable_then_partitioned", f"WITH x AS (SELECT t.pid, e.placement, e.exposure_ts {LJ}), z AS (SELECT pid, placement, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY exposure_ts) AS r FROM x) SELECT placement, COUNT(DISTINCT pid) AS n FROM z WHERE r = 1 GROUP BY 1", N),
    rej(2, "derived_nullable_partitioned", f"SELECT placement, COUNT(DISTINCT pid) AS n FROM (SELECT t.pid, e.placement, RANK() OVER (PARTITION BY t.pid ORDER BY e.exposure_ts) AS r {LJ}) z WHERE r = 1 GROUP BY 1", N),
    rej(2, "second_left_join_partition", "WITH x AS (SELECT c.pid, c.region, ROW_NUMBER() OVER (PARTITION BY h.pid ORDER BY c.region) AS rn FROM customers c LEFT JOIN crm ON crm.pid = c.pid LEFT JOIN holdout h ON h.pid = c.pid) SELECT region, COUNT(DISTINCT pid) AS n FROM x WHERE rn = 1 GROUP BY 1", N),
    rej(2, "asof_partition_right", f"WITH x AS (SELECT e.pid, e.placement, ROW_NUMBER() OVER (PARTITION BY t.pid ORDER BY e.exposure_ts) AS rn {AJ}) SELECT placement, COUNT(DISTINCT pid) AS n FROM x WHERE rn = 1 GROUP BY 1", N),
    rej(2, "asof_group_right", f"WITH x AS (SELECT t.pid, COUNT(*) AS k {AJ} GROUP BY t.pid) SELECT LEAST(k, 3) AS f, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", N),
    rej(2, "asof_exists_right", f"SELECT e.placement, COUNT(DISTINCT e.pid) AS n {AJ} WHERE EXISTS (SELECT 1 FROM crm WHERE crm.pid = t.pid) GROUP BY 1", N),
    # accepted controls
    acc(2, "ok_partition_left", f"WITH x AS (SELECT e.pid, e.placement, t.amount_cents, ROW_NUMBER() OVER (PARTITION BY e.pid ORDER BY e.exposure_ts, t.txn_ts) AS rn {LJ}) SELECT placement, COUNT(DISTINCT pid) AS n, SUM(amount_cents) AS s FROM x WHERE rn = 1 GROUP BY 1"),
    acc(2, "ok_count_distinct_right", f"SELECT e.placement, COUNT(DISTINCT e.pid) AS exposed, COUNT(DISTINCT t.pid) AS buyers {LJ} GROUP BY 1"),
    acc(2, "ok_anti_join", f"SELECT e.placement, COUNT(DISTINCT e.pid) AS n {LJ} WHERE t.pid IS NULL GROUP BY 1"),
    acc(2, "ok_semi_join_not_null", f"SELECT e.placement, COUNT(DISTINCT e.pid) AS n {LJ} WHERE t.pid IS NOT NULL GROUP BY 1"),
    acc(2, "ok_group_left", f"WITH p AS (SELECT e.pid, COUNT(t.txn_ts) AS k {LJ} GROUP BY e.pid) SELECT LEAST(k, 3) AS f, COUNT(DISTINCT pid) AS n FROM p GROUP BY 1"),
    acc(2, "ok_asof_count_right", f"SELECT e.placement, COUNT(DISTINCT e.pid) AS exposed, COUNT(DISTINCT t.pid) AS buyers {AJ} GROUP BY 1"),
    rej(2, "renamed_nullable_partitioned", f"WITH x AS (SELECT e.pid, t.pid AS tpid, e.placement, e.exposure_ts {LJ}), z AS (SELECT pid, placement, ROW_NUMBER() OVER (PARTITION BY tpid ORDER BY exposure_ts) AS r FROM x) SELECT placement, COUNT(DISTINCT pid) AS n FROM z WHERE r = 1 GROUP BY 1", N),
    rej(2, "exists_inner_left_joined", C + "EXISTS (SELECT 1 FROM crm LEFT JOIN holdout h ON h.pid = crm.pid WHERE h.pid = c.pid)" + G, N, U),
    acc(2, "ok_left_join_using_unqualified_pid", "WITH x AS (SELECT pid, e.placement, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY e.exposure_ts, t.txn_ts) AS rn FROM exposures e LEFT JOIN transactions t USING (pid)) SELECT placement, COUNT(DISTINCT pid) AS n FROM x WHERE rn = 1 GROUP BY 1"),
    Case("c2_inner_join_on_nullable_key", 2, "SELECT e.placement, COUNT(DISTINCT e.pid) AS n, COUNT(DISTINCT crm.pid) AS in_crm FROM exposures e LEFT JOIN transactions t ON t.pid = e.pid JOIN crm ON crm.pid = t.pid GROUP BY 1", total_or_rejected=True),
]
# fmt: on

# --- 3. reserved names ------------------------------------------------------------------------
RN = "reserved_name"
E = "FROM exposures GROUP BY 1"

# fmt: off
CLASS_3: list[Case] = [
    rej(3, "out_cr_pid", f"SELECT campaign_id AS cr_pid, COUNT(DISTINCT pid) AS n {E}", RN),
    rej(3, "out_cr_k0", f"SELECT campaign_id AS cr_k0, COUNT(DISTINCT pid) AS n {E}", RN),
    rej(3, "out_cr_key0", f"SELECT campaign_id AS cr_key0, COUNT(DISTINCT pid) AS n {E}", RN),
    rej(3, "out_cr_group_rank", f"SELECT campaign_id, COUNT(DISTINCT pid) AS cr_group_rank {E}", RN),
    rej(3, "out_cr_rand", f"SELECT campaign_id, COUNT(*) AS cr_rand {E}", RN),
    rej(3, "out_cr_row", f"SELECT campaign_id, COUNT(*) AS cr_row {E}", RN),
    rej(3, "out_cr_persons", f"SELECT campaign_id, COUNT(*) AS cr_persons {E}", RN),
    rej(3, "out_cr_m1", "SELECT channel, SUM(units) AS cr_m1, COUNT(*) AS n FROM transactions GROUP BY 1", RN),
    rej(3, "out_upper_cr_pid", f"SELECT campaign_id, COUNT(DISTINCT pid) AS CR_PID {E}", RN),
    rej(3, "out_quoted_cr_partial", f'SELECT campaign_id, COUNT(DISTINCT pid) AS "cr_partial" {E}', RN),
    rej(3, "out_quoted_mixed_case", f'SELECT campaign_id AS "Cr_K1", COUNT(DISTINCT pid) AS n {E}', RN),
    rej(3, "cte_upper_cr_partial", "WITH CR_PARTIAL AS (SELECT pid, campaign_id FROM exposures) SELECT campaign_id, COUNT(DISTINCT pid) AS n FROM CR_PARTIAL GROUP BY 1", RN),
    rej(3, "cte_cr_capped", "WITH cr_capped AS (SELECT pid, campaign_id FROM exposures) SELECT campaign_id, COUNT(DISTINCT pid) AS n FROM cr_capped GROUP BY 1", RN),
    rej(3, "cte_quoted_cr_shuffled", 'WITH "cr_shuffled" AS (SELECT pid, campaign_id FROM exposures) SELECT campaign_id, COUNT(DISTINCT pid) AS n FROM "cr_shuffled" GROUP BY 1', RN),
    rej(3, "cte_select_alias", "WITH x AS (SELECT pid, campaign_id AS cr_k0 FROM exposures) SELECT cr_k0, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", RN),
    rej(3, "subquery_select_alias", "SELECT placement, COUNT(DISTINCT pid) AS n FROM (SELECT pid, placement, exposure_ts AS cr_rand FROM exposures) x GROUP BY 1", RN),
    rej(3, "subquery_pid_alias", "SELECT placement, COUNT(DISTINCT cr_pid) AS n FROM (SELECT pid AS cr_pid, placement FROM exposures) x GROUP BY 1", RN),
    rej(3, "table_alias_cr_sub1", "SELECT COUNT(DISTINCT cr_sub1.pid) AS n FROM exposures AS cr_sub1", RN),
    rej(3, "subquery_alias_cr_allowed", "SELECT COUNT(DISTINCT cr_allowed.pid) AS n FROM (SELECT pid FROM exposures) AS cr_allowed", RN),
    rej(3, "join_alias_cr_row_capped", "SELECT COUNT(DISTINCT e.pid) AS n FROM exposures e JOIN transactions cr_row_capped ON cr_row_capped.pid = e.pid", RN),
    rej(3, "exists_alias_cr_suppressed", "SELECT COUNT(DISTINCT c.pid) AS n FROM customers c WHERE EXISTS (SELECT 1 FROM crm AS cr_suppressed WHERE cr_suppressed.pid = c.pid)", RN),
    rej(3, "cte_column_list", "WITH x(pid, cr_k0) AS (SELECT pid, campaign_id FROM exposures) SELECT cr_k0, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", RN),
    rej(3, "subquery_column_list", "SELECT c, COUNT(DISTINCT cr_pid) AS n FROM (SELECT pid, campaign_id FROM exposures) x(cr_pid, c) GROUP BY 1", RN),
    rej(3, "table_alias_column_list", "SELECT COUNT(DISTINCT e.pid) AS n FROM exposures AS e(pid, cr_x)", RN),
    rej(3, "view_cr_ds", "SELECT COUNT(DISTINCT pid) AS n FROM cr_ds_exposures", "unknown_table", RN),
    rej(3, "view_cr_ds_quoted_upper", 'SELECT COUNT(DISTINCT pid) AS n FROM "CR_DS_TRANSACTIONS"', "unknown_table", RN),
    rej(3, "view_cr_ds_join", "SELECT COUNT(DISTINCT c.pid) AS n FROM customers c JOIN cr_ds_crm k ON k.pid = c.pid", "unknown_table", RN),
    rej(3, "view_suppressed_exists", "SELECT COUNT(DISTINCT c.pid) AS n FROM customers c WHERE NOT EXISTS (SELECT 1 FROM cr_suppressed s WHERE s.pid = c.pid)", "unknown_table", RN),
    # generated measurement names must not collide with the template's own names
    acc(3, "ok_output_named_like_generated_sum", "SELECT channel, AVG(amount_cents) AS a, SUM(units) AS a_sum, COUNT(*) AS a_count FROM transactions GROUP BY 1"),
    acc(3, "ok_key_named_like_generated_sum", "SELECT channel AS a_sum, AVG(amount_cents) AS a FROM transactions GROUP BY 1"),
    Case("c3_duplicate_output_names", 3, "SELECT channel AS x, brand AS x, COUNT(*) AS n FROM transactions GROUP BY 1, 2", total_or_rejected=True),
]
# fmt: on

# --- 4. subqueries inside release aggregates --------------------------------------------------
S = "subquery_in_release_aggregate"

# fmt: off
CLASS_4: list[Case] = [
    rej(4, "count_distinct_filter_exists", "SELECT c.region, COUNT(DISTINCT c.pid) FILTER (WHERE EXISTS (SELECT 1 FROM crm WHERE crm.pid = c.pid)) AS n FROM customers c GROUP BY 1", S),
    rej(4, "count_distinct_filter_in_ref", "SELECT t.channel, COUNT(DISTINCT t.pid) FILTER (WHERE t.brand IN (SELECT brand FROM catalog)) AS n FROM transactions t GROUP BY 1", S),
    rej(4, "count_distinct_case_exists", "SELECT t.channel, COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM crm WHERE crm.pid = t.pid) THEN t.pid END) AS n FROM transactions t GROUP BY 1", S),
    rej(4, "sum_case_in_ref", "SELECT t.channel, SUM(CASE WHEN t.brand IN (SELECT brand FROM catalog) THEN 1 END) AS n FROM transactions t GROUP BY 1", S),
    rej(4, "sum_scalar_ref", "SELECT t.channel, SUM((SELECT MAX(r.price_cents) FROM prices r)) AS s FROM transactions t GROUP BY 1", S, bounds={"s": (0, 100)}),
    rej(4, "sum_times_scalar", "SELECT t.channel, SUM(t.units * (SELECT COUNT(*) FROM catalog)) AS u FROM transactions t GROUP BY 1", S, bounds={"u": (0, 20)}),
    rej(4, "sum_coalesce_scalar", "SELECT e.placement, SUM(COALESCE((SELECT MAX(s.spend_cents) FROM campaign_spend s WHERE s.campaign_id = e.campaign_id), 0)) AS sp FROM exposures e GROUP BY 1", S, bounds={"sp": (0, 1000)}),
    rej(4, "count_filter_in_ref", "SELECT t.channel, COUNT(*) FILTER (WHERE t.brand IN (SELECT brand FROM catalog WHERE category = 'snacks')) AS n FROM transactions t GROUP BY 1", S),
    rej(4, "count_filter_scalar", "SELECT t.channel, COUNT(*) FILTER (WHERE (SELECT MAX(k.parent_company) FROM catalog k WHERE k.brand = t.brand) = 'acme inc') AS n FROM transactions t GROUP BY 1", S),
    rej(4, "avg_case_exists", "SELECT t.channel, AVG(CASE WHEN EXISTS (SELECT 1 FROM crm WHERE crm.pid = t.pid) THEN t.amount_cents END) AS a FROM transactions t GROUP BY 1", S),
    rej(4, "sum_filter_not_exists", "SELECT t.channel, SUM(t.amount_cents) FILTER (WHERE NOT EXISTS (SELECT 1 FROM holdout h WHERE h.pid = t.pid)) AS s FROM transactions t GROUP BY 1", S),
    rej(4, "having_sum_case_in_ref", "SELECT t.channel, COUNT(DISTINCT t.pid) AS n FROM transactions t GROUP BY 1 HAVING SUM(CASE WHEN t.brand IN (SELECT brand FROM catalog) THEN 1 ELSE 0 END) > 10", S),
    # accepted controls: the same conditions computed person-locally in a CTE
    acc(4, "ok_exists_in_cte_then_filter", "WITH x AS (SELECT t.pid, t.channel, t.amount_cents, EXISTS (SELECT 1 FROM crm WHERE crm.pid = t.pid) AS in_crm FROM transactions t) SELECT channel, SUM(amount_cents) FILTER (WHERE in_crm) AS s, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1"),
    acc(4, "ok_in_reference_in_cte_then_count", "WITH x AS (SELECT t.pid, t.channel, t.brand IN (SELECT brand FROM catalog) AS known FROM transactions t) SELECT channel, COUNT(*) FILTER (WHERE known) AS n FROM x GROUP BY 1"),
]
# fmt: on

# --- 5. data-dependent failures ---------------------------------------------------------------
NT = "non_total_expression"
SR = "scalar_subquery_rows"
T = "FROM transactions t"
BY_CHANNEL = "SELECT t.channel, COUNT(DISTINCT t.pid) AS n FROM transactions t WHERE "
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# fmt: off
CLASS_5: list[Case] = [
    # rejected: failures the rewrite cannot make total
    rej(5, "interval_from_metric", f"SELECT DATE_TRUNC('month', t.txn_ts + INTERVAL (t.units) DAY) AS m, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1", NT),
    rej(5, "interval_from_metric_expr", BY_CHANNEL + "t.txn_ts + INTERVAL (t.amount_cents * 1000) HOUR > TIMESTAMP '2024-01-01 00:00:00' GROUP BY 1", NT),
    rej(5, "interval_from_date_diff", "SELECT e.placement, COUNT(DISTINCT e.pid) AS n FROM exposures e JOIN transactions t ON t.pid = e.pid WHERE t.txn_ts <= e.exposure_ts + INTERVAL (DATE_DIFF('day', e.exposure_ts, t.txn_ts) * 100000) DAY GROUP BY 1", NT),
    rej(5, "to_days_from_metric", BY_CHANNEL + "t.txn_ts + to_days(t.units) > TIMESTAMP '2024-01-01 00:00:00' GROUP BY 1", NT, "forbidden_function"),
    rej(5, "frame_preceding_from_data", "WITH w AS (SELECT pid, SUM(units) OVER (PARTITION BY pid ORDER BY txn_ts ROWS BETWEEN units PRECEDING AND CURRENT ROW) AS r FROM transactions) SELECT CASE WHEN r > 5 THEN 'hi' ELSE 'lo' END AS b, COUNT(DISTINCT pid) AS n FROM w GROUP BY 1", NT),
    rej(5, "frame_following_from_data", "WITH w AS (SELECT pid, COUNT(*) OVER (PARTITION BY pid ORDER BY txn_ts ROWS BETWEEN CURRENT ROW AND amount_cents - 100 FOLLOWING) AS r FROM transactions) SELECT LEAST(r, 3) AS b, COUNT(DISTINCT pid) AS n FROM w GROUP BY 1", NT),
    rej(5, "lag_offset_from_data", "WITH w AS (SELECT pid, LAG(txn_ts, units) OVER (PARTITION BY pid ORDER BY txn_ts) AS prev FROM transactions) SELECT prev IS NULL AS first, COUNT(DISTINCT pid) AS n FROM w GROUP BY 1", NT),
    rej(5, "lead_offset_from_data", "WITH w AS (SELECT pid, LEAD(brand, amount_cents - 1000, 'none') OVER (PARTITION BY pid ORDER BY txn_ts) AS nxt FROM transactions) SELECT nxt, COUNT(DISTINCT pid) AS n FROM w GROUP BY 1", NT),
    rej(5, "round_digits_from_data", f"SELECT t.channel, SUM(ROUND(t.amount_cents, t.units)) AS s {T} GROUP BY 1", NT),
    rej(5, "date_trunc_unit_from_data", f"SELECT DATE_TRUNC(t.brand, t.txn_ts) AS k, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1", NT),
    rej(5, "date_part_unit_from_data", f"SELECT DATE_PART(t.channel, t.txn_ts) AS k, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1", NT),
    rej(5, "date_diff_unit_from_data", "SELECT DATE_DIFF(t.category, e.exposure_ts, t.txn_ts) > 3 AS late, COUNT(DISTINCT t.pid) AS n FROM exposures e JOIN transactions t ON t.pid = e.pid GROUP BY 1", NT),
    rej(5, "scalar_rows_key", f"SELECT (SELECT k.parent_company FROM catalog k WHERE k.brand = t.brand) AS parent, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1", SR),
    rej(5, "scalar_rows_where", BY_CHANNEL + "(SELECT k.category FROM catalog k WHERE k.brand = t.brand) = 'snacks' GROUP BY 1", SR),
    rej(5, "scalar_rows_uncorrelated", BY_CHANNEL + "t.brand = (SELECT brand FROM catalog) GROUP BY 1", SR),
    rej(5, "scalar_rows_in_cte", "WITH x AS (SELECT e.pid, (SELECT k.parent_company FROM catalog k WHERE k.brand = e.campaign_id) AS p FROM exposures e) SELECT p, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", SR),
    rej(5, "scalar_rows_reference_metric", "SELECT e.placement, COUNT(DISTINCT e.pid) AS n FROM exposures e WHERE (SELECT s.spend_cents FROM campaign_spend s WHERE s.campaign_id = e.campaign_id) > 1000 GROUP BY 1", SR),
    # accepted: at most one row by construction (an aggregate without GROUP BY)
    acc(5, "ok_scalar_max", f"SELECT (SELECT MAX(k.parent_company) FROM catalog k WHERE k.brand = t.brand) AS parent, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1"),
    acc(5, "ok_scalar_count", BY_CHANNEL + "(SELECT COUNT(*) FROM catalog k WHERE k.brand = t.brand) > 1 GROUP BY 1"),
    # accepted, and the rewrite must make them total: run on data built to make them fail
    acc(5, "intdiv_by_zero_where", BY_CHANNEL + "t.amount_cents // t.units > 10 GROUP BY 1",
        rows={"transactions": [txn(11, units=0, amount=500), txn(12, amount=INT64_MIN, units=-1)]},
        added={"transactions": [txn(ADDED_PID, units=0)]}),
    acc(5, "mod_by_zero_key", f"SELECT CASE WHEN t.amount_cents % t.units = 0 THEN 'even' ELSE 'odd' END AS b, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        rows={"transactions": [txn(11, units=0, amount=500)]},
        added={"transactions": [txn(ADDED_PID, units=0)]}),
    acc(5, "intdiv_by_zero_sum", f"SELECT t.channel, SUM(t.amount_cents // t.units) AS q {T} GROUP BY 1",
        bounds={"q": (0, 1000)},
        rows={"transactions": [txn(11, units=0, amount=500)]},
        added={"transactions": [txn(ADDED_PID, units=0)]}),
    acc(5, "cast_varchar_to_int", f"SELECT CASE WHEN CAST(t.brand AS INTEGER) > 5 THEN 'hi' ELSE 'lo' END AS b, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        rows={"transactions": [txn(11, brand="12"), txn(12, brand="not a number")]}),
    acc(5, "cast_varchar_to_bigint_where", BY_CHANNEL + "CAST(t.category AS BIGINT) > 0 GROUP BY 1",
        rows={"transactions": [txn(11, category="7")]}),
    acc(5, "cast_varchar_to_date", BY_CHANNEL + "CAST(t.category AS DATE) >= DATE '2024-01-01' GROUP BY 1",
        rows={"transactions": [txn(11, category="2024-05-01")]}),
    acc(5, "cast_varchar_to_timestamp", "SELECT DATE_TRUNC('month', CAST(e.campaign_id AS TIMESTAMP)) AS m, COUNT(DISTINCT e.pid) AS n FROM exposures e GROUP BY 1"),
    acc(5, "cast_varchar_to_boolean", BY_CHANNEL + "CAST(t.brand AS BOOLEAN) GROUP BY 1",
        rows={"transactions": [txn(11, brand="true")]}),
    acc(5, "cast_narrowing_tinyint_sum", f"SELECT t.channel, SUM(CAST(t.amount_cents AS TINYINT)) AS s {T} GROUP BY 1"),
    acc(5, "cast_narrowing_smallint_key", f"SELECT CASE WHEN CAST(t.units AS SMALLINT) > 3 THEN 'many' ELSE 'few' END AS b, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        rows={"transactions": [txn(11, units=10**9)]}),
    acc(5, "cast_narrowing_integer_where", BY_CHANNEL + "CAST(t.amount_cents AS INTEGER) > 0 GROUP BY 1",
        rows={"transactions": [txn(11, amount=2**40)]}),
    acc(5, "overflow_pow4_key", f"SELECT CASE WHEN t.amount_cents * t.amount_cents * t.amount_cents * t.amount_cents > 1000000 THEN 'big' ELSE 'small' END AS b, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        rows={"transactions": [txn(11, amount=2**62)]}),
    acc(5, "overflow_pow4_sum", f"SELECT t.channel, SUM(t.units * t.units * t.units * t.units) AS u {T} GROUP BY 1",
        rows={"transactions": [txn(11, units=2**62)]}),
    acc(5, "overflow_add_where", BY_CHANNEL + "t.amount_cents + t.amount_cents > 0 GROUP BY 1",
        rows={"transactions": [txn(11, amount=INT64_MAX)]}),
    acc(5, "overflow_abs_min", f"SELECT t.channel, SUM(ABS(t.units)) AS u {T} GROUP BY 1",
        rows={"transactions": [txn(11, units=INT64_MIN)]}),
    acc(5, "overflow_negate_min", f"SELECT t.channel, SUM(-t.units) AS u {T} GROUP BY 1",
        rows={"transactions": [txn(11, units=INT64_MIN)]}),
    rej(5, "varchar_eq_number", BY_CHANNEL + "t.brand = 5 GROUP BY 1", "mixed_type_comparison"),
    rej(5, "varchar_eq_number_key", f"SELECT t.brand = 5 AS is_five, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1", "mixed_type_comparison"),
    rej(5, "varchar_in_numbers", BY_CHANNEL + "t.category IN (1, 2) GROUP BY 1", "mixed_type_comparison"),
    rej(5, "varchar_lt_number", "SELECT e.placement, COUNT(DISTINCT e.pid) AS n FROM exposures e WHERE e.campaign_id < 10 GROUP BY 1", "mixed_type_comparison"),
    acc(5, "round_summed_as_integer", f"SELECT t.channel, SUM(ROUND(t.amount_cents / 3, 2)) AS s {T} GROUP BY 1",
        note="ROUND(x, 2) is not integer valued: the release must not treat it as integral"),
    acc(5, "round_averaged_as_integer", f"SELECT t.channel, AVG(ROUND(t.amount_cents / 7.0, 1)) AS a {T} GROUP BY 1"),
    acc(5, "nan_inf_group_key", f"SELECT (EXTRACT(hour FROM t.txn_ts) - 1) / 0.0 AS k, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        rows={"transactions": [txn(11, ts="2024-03-01 00:30"), txn(12, ts="2024-03-01 01:30"), txn(13, ts="2024-03-01 02:30"), txn(14, ts=None)]},
        note="-inf, NaN, +inf and NULL are four engine groups but one JSON value"),
    acc(5, "inf_group_key_from_join", "SELECT DATE_DIFF('day', e.exposure_ts, t.txn_ts) / 0.0 AS k, COUNT(DISTINCT t.pid) AS n FROM exposures e JOIN transactions t ON t.pid = e.pid GROUP BY 1"),
    rej(5, "decimal_precision_above_18", f"SELECT TRY_CAST(t.category AS DECIMAL(38, 30)) AS d, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        "forbidden_function", note="sums of DECIMAL(38, s) overflow"),
    acc(5, "decimal_group_key", f"SELECT TRY_CAST(t.category AS DECIMAL(18, 17)) AS d, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        rows={"transactions": [txn(11, category="0.10000000000000001"), txn(12, category="0.10000000000000002")]},
        note="two DECIMAL keys equal as floats"),
    acc(5, "inf_sum_with_declared_bounds", f"SELECT t.channel, SUM(t.amount_cents / 0.0) AS s {T} GROUP BY 1",
        bounds={"s": (0, 10)}, rows={"transactions": [txn(11, amount=0), txn(12, amount=-5)]}),
    # timestamps the engine stores but Python's datetime cannot hold (years 1..9999 only)
    acc(5, "far_future_timestamp_key", f"SELECT DATE_TRUNC('month', t.txn_ts) AS m, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        rows={"transactions": [txn(11, ts="12024-03-01 10:00:00")]}),
    acc(5, "bc_date_key", f"SELECT CAST(t.txn_ts AS DATE) AS d, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        rows={"transactions": [txn(11, ts="0044-03-15 (BC) 10:00:00")]}),
    # beyond the brief: literal arithmetic that overflows on extreme (but storable) timestamps
    Case("c5_literal_interval_extreme_timestamp", 5, f"SELECT DATE_TRUNC('year', t.txn_ts + INTERVAL 1000 YEAR) AS y, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
         rows={"transactions": [txn(11, ts="294000-01-01 00:00:00")]}, total_or_rejected=True),
    Case("c5_date_diff_microseconds_extreme", 5, "SELECT DATE_DIFF('microsecond', e.exposure_ts, t.txn_ts) > 0 AS after, COUNT(DISTINCT t.pid) AS n FROM exposures e JOIN transactions t ON t.pid = e.pid GROUP BY 1",
         rows={"transactions": [txn(11, ts="294000-01-01 00:00:00")], "exposures": [expo(11, ts="0001-01-01 00:00:00")]}, total_or_rejected=True),
    acc(5, "epoch_summed_as_integer", f"SELECT t.channel, SUM(EXTRACT(epoch FROM t.txn_ts) - 1704067200) AS s {T} GROUP BY 1",
        bounds={"s": (0, 1e8)}, rows={"transactions": [txn(11, ts="2024-03-01 10:00:00.5")]},
        note="EXTRACT(epoch) has a fraction of a second: not integer valued"),
    acc(5, "julian_summed_as_integer", f"SELECT t.channel, SUM(DATE_PART('julian', t.txn_ts) - 2460000) AS s {T} GROUP BY 1",
        bounds={"s": (0, 1000)}, rows={"transactions": [txn(11, ts="2024-03-01 12:00:00")]}),
    rej(5, "varchar_in_list_with_column", BY_CHANNEL + "t.units IN (t.brand, 'x') GROUP BY 1", "mixed_type_comparison"),
    rej(5, "varchar_between_numbers", BY_CHANNEL + "t.brand BETWEEN 1 AND 5 GROUP BY 1", "mixed_type_comparison"),
    rej(5, "varchar_null_safe_eq_number", BY_CHANNEL + "t.brand IS NOT DISTINCT FROM 5 GROUP BY 1", "mixed_type_comparison"),
    rej(5, "simple_case_varchar_number", f"SELECT CASE t.brand WHEN 5 THEN 'five' ELSE 'other' END AS b, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1", "mixed_type_comparison"),
    rej(5, "join_on_varchar_number", "SELECT e.placement, COUNT(DISTINCT e.pid) AS n FROM exposures e JOIN transactions t ON t.pid = e.pid AND t.units = e.campaign_id GROUP BY 1", "mixed_type_comparison"),
    Case("c5_interval_divided_by_data", 5, BY_CHANNEL + "t.txn_ts + INTERVAL 1 DAY / t.units > TIMESTAMP '2024-01-01 00:00:00' GROUP BY 1",
         rows={"transactions": [txn(11, units=0)]}, total_or_rejected=True),
    Case("c5_interval_times_data", 5, BY_CHANNEL + "t.txn_ts + INTERVAL 1 DAY * t.amount_cents > TIMESTAMP '2024-01-01 00:00:00' GROUP BY 1",
         rows={"transactions": [txn(11, amount=2**62)]}, total_or_rejected=True),
    Case("c5_date_plus_data_days", 5, BY_CHANNEL + "CAST(t.txn_ts AS DATE) + CAST(t.units AS INTEGER) > DATE '2024-01-01' GROUP BY 1",
         rows={"transactions": [txn(11, units=2**31 - 1)]}, total_or_rejected=True),
    Case("c5_nullif_number_text", 5, f"SELECT t.channel, SUM(NULLIF(t.units, t.brand)) AS u {T} GROUP BY 1",
         total_or_rejected=True),
    Case("c5_lag_default_text_to_number", 5, "WITH w AS (SELECT pid, LAG(units, 1, brand) OVER (PARTITION BY pid ORDER BY txn_ts) AS prev FROM transactions) SELECT CASE WHEN prev > 3 THEN 'hi' ELSE 'lo' END AS b, COUNT(DISTINCT pid) AS n FROM w GROUP BY 1",
         total_or_rejected=True),
    Case("c5_rollup_having_varchar_number", 5, "WITH p AS (SELECT pid, MAX(brand) AS b FROM transactions GROUP BY pid HAVING MAX(brand) = 5) SELECT COUNT(DISTINCT pid) AS n FROM p",
         total_or_rejected=True),
    Case("c5_decimal_sum_overflow", 5, f"SELECT t.channel, SUM(CAST(t.units AS DECIMAL(38, 36))) AS u {T} GROUP BY 1",
         rows={"transactions": [txn(11, units=20) for _ in range(6)] + [txn(p, units=20) for p in range(20, 30)]},
         total_or_rejected=True, note="per-person and per-group DECIMAL sums overflow DECIMAL(38, 36)"),
]
# fmt: on

# --- 6. reference data on personal metrics ----------------------------------------------------
RJ = "reference_join_on_metric"
MK = "metric_as_group_key"
PT = "SELECT r.label, COUNT(DISTINCT t.pid) AS n FROM transactions t "

# fmt: off
CLASS_6: list[Case] = [
    rej(6, "join_eq_metric", PT + "JOIN prices r ON r.price_cents = t.amount_cents GROUP BY 1", RJ),
    rej(6, "join_metric_expression", PT + "JOIN prices r ON r.price_cents = t.amount_cents * 2 GROUP BY 1", RJ),
    rej(6, "join_between_metric", PT + "JOIN prices r ON t.amount_cents BETWEEN r.price_cents AND r.price_cents + 100 GROUP BY 1", RJ),
    rej(6, "join_dim_and_metric", PT + "JOIN prices r ON r.brand = t.brand AND r.price_cents = t.amount_cents GROUP BY 1", RJ),
    rej(6, "join_dim_or_metric", PT + "JOIN prices r ON r.brand = t.brand OR r.price_cents = t.amount_cents GROUP BY 1", RJ),
    rej(6, "join_inequality_units", PT + "JOIN prices r ON r.price_cents > t.units GROUP BY 1", RJ),
    rej(6, "join_least_metric", PT + "JOIN prices r ON r.price_cents = LEAST(t.amount_cents, 100) GROUP BY 1", RJ),
    rej(6, "join_cast_metric_varchar", PT + "JOIN prices r ON r.label = CAST(t.amount_cents AS VARCHAR) GROUP BY 1", RJ),
    rej(6, "left_join_metric", PT + "LEFT JOIN prices r ON r.price_cents = t.amount_cents GROUP BY 1", RJ),
    rej(6, "asof_join_metric", PT + "ASOF JOIN prices r ON r.brand = t.brand AND r.price_cents <= t.amount_cents GROUP BY 1", RJ),
    rej(6, "join_metric_in_cte", "WITH x AS (SELECT t.pid, r.label FROM transactions t JOIN prices r ON r.price_cents = t.amount_cents) SELECT label, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", RJ),
    rej(6, "join_rollup_metric", "WITH p AS (SELECT pid, SUM(amount_cents) AS s FROM transactions GROUP BY pid) SELECT r.label, COUNT(DISTINCT p.pid) AS n FROM p JOIN prices r ON r.price_cents = p.s GROUP BY 1", RJ),
    rej(6, "join_campaign_spend_metric", "SELECT s.campaign_id, COUNT(DISTINCT t.pid) AS n FROM transactions t JOIN campaign_spend s ON s.spend_cents = t.amount_cents GROUP BY 1", RJ),
    rej(6, "scalar_lookup_eq_key", f"SELECT (SELECT MAX(r.label) FROM prices r WHERE r.price_cents = t.amount_cents) AS lbl, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1", MK),
    rej(6, "scalar_lookup_le_key", f"SELECT (SELECT MAX(r.label) FROM prices r WHERE r.price_cents <= t.amount_cents) AS lbl, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1", MK),
    rej(6, "scalar_count_rank_key", f"SELECT (SELECT COUNT(*) FROM prices r WHERE r.price_cents < t.amount_cents) AS price_rank, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1", MK),
    rej(6, "scalar_lookup_in_cte", "WITH x AS (SELECT t.pid, (SELECT MAX(r.label) FROM prices r WHERE r.price_cents = t.amount_cents) AS lbl FROM transactions t) SELECT lbl, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", MK),
    rej(6, "scalar_lookup_rollup", "WITH p AS (SELECT pid, MAX(amount_cents) AS m FROM transactions GROUP BY pid) SELECT (SELECT MAX(r.label) FROM prices r WHERE r.price_cents = p.m) AS lbl, COUNT(DISTINCT p.pid) AS n FROM p GROUP BY 1", MK),
    # accepted controls
    acc(6, "ok_dimension_join", "SELECT r.label, COUNT(DISTINCT t.pid) AS n, SUM(t.amount_cents) AS s FROM transactions t JOIN prices r ON r.brand = t.brand GROUP BY 1"),
    acc(6, "ok_reference_metric_key", "SELECT r.price_cents, COUNT(DISTINCT t.pid) AS n FROM transactions t JOIN prices r ON r.brand = t.brand GROUP BY 1"),
    acc(6, "ok_scalar_lookup_on_dimension", f"SELECT (SELECT MAX(r.label) FROM prices r WHERE r.brand = t.brand) AS lbl, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1"),
    acc(6, "ok_left_dimension_join", "SELECT COALESCE(r.label, 'none') AS lbl, COUNT(DISTINCT t.pid) AS n FROM transactions t LEFT JOIN prices r ON r.brand = t.brand GROUP BY 1"),
    # the metric comparison moved out of ON (WHERE, CASE, a subquery in ON) after a dimension join
    rej(6, "dimension_join_where_metric", PT + "JOIN prices r ON r.brand = t.brand WHERE r.price_cents = t.amount_cents GROUP BY 1", RJ, MK),
    rej(6, "dimension_join_where_metric_in_cte", "WITH x AS (SELECT t.pid, r.label FROM transactions t JOIN prices r ON r.brand = t.brand WHERE r.price_cents <= t.amount_cents) SELECT label, COUNT(DISTINCT pid) AS n FROM x GROUP BY 1", RJ, MK),
    rej(6, "dimension_join_case_lookup", "SELECT CASE WHEN r.price_cents = t.amount_cents THEN r.label END AS lbl, COUNT(DISTINCT t.pid) AS n FROM transactions t JOIN prices r ON r.brand = t.brand GROUP BY 1", RJ, MK),
    rej(6, "join_on_exists_metric", PT + "JOIN prices r ON r.brand = t.brand AND EXISTS (SELECT 1 FROM prices p2 WHERE p2.price_cents = t.amount_cents AND p2.label = r.label) GROUP BY 1", RJ, MK),
    rej(6, "join_on_in_metric", PT + "JOIN prices r ON r.brand = t.brand AND t.amount_cents IN (SELECT p2.price_cents FROM prices p2 WHERE p2.label = r.label) GROUP BY 1", RJ, MK),
    acc(6, "ok_dimension_join_metric_literal_filter", PT + "JOIN prices r ON r.brand = t.brand WHERE t.amount_cents > 100 GROUP BY 1"),
]
# fmt: on

# --- 8. bounds --------------------------------------------------------------------------------
SALES = "SELECT SUM(amount_cents) AS sales FROM transactions"
HB = frozenset({"bad_header", "invalid_bounds"})  # a header bound that is not a finite ordered pair
HUGE = HB | {"bounds_too_large"}
API = frozenset({"invalid_bounds", "bad_header"})
BT = "bounds_too_large"
W = "FROM wide w"


def hdr(name: str, header: str, sql: str, codes: frozenset[str]) -> Case:
    return Case(f"c8_{name}", 8, sql, codes, header=header)


# fmt: off
CLASS_8: list[Case] = [
    hdr("header_1e308", "-- bounds: sales 0 1e308\n", SALES, HUGE),
    hdr("header_1e16", "-- bounds: sales 0 1e16\n", SALES, HUGE),
    hdr("header_column_1e308", "-- bounds: amount_cents -1e308 1e308\n", SALES, HUGE),
    hdr("header_inf", "-- bounds: sales 0 inf\n", SALES, HB),
    hdr("header_infinity_word", "-- bounds: sales 0 Infinity\n", SALES, HB),
    hdr("header_minus_1e999", "-- bounds: sales -1e999 0\n", SALES, HB),
    hdr("header_nan", "-- bounds: sales nan 1\n", SALES, HB),
    hdr("header_lo_above_hi", "-- bounds: sales 10 1\n", SALES, HB),
    hdr("header_count_inf", "-- bounds: txns 0 inf\n", "SELECT COUNT(*) AS txns FROM transactions", HB),
    Case("c8_api_inf", 8, SALES, API, bounds={"sales": (0.0, float("inf"))}),
    Case("c8_api_nan", 8, SALES, API, bounds={"sales": (float("nan"), 1.0)}),
    Case("c8_api_1e308", 8, SALES, API | {"bounds_too_large"}, bounds={"sales": (0.0, 1e308)}),
    Case("c8_api_lo_above_hi", 8, SALES, API, bounds={"sales": (5.0, 1.0)}),
    rej(8, "square_wide", f"SELECT SUM(w.x * w.x) AS s {W}", BT),
    rej(8, "cube_wide", f"SELECT SUM(w.x * w.x * w.x) AS s {W}", BT),
    rej(8, "pow4_amount", "SELECT SUM(amount_cents * amount_cents * amount_cents * amount_cents) AS s FROM transactions", BT),
    rej(8, "avg_square_wide", f"SELECT AVG(w.x * w.x) AS a {W}", BT),
    rej(8, "negative_square_wide", f"SELECT SUM(0 - w.x * w.x) AS s {W}", BT),
    rej(8, "rollup_square_wide", "WITH p AS (SELECT pid, SUM(x) AS s FROM wide GROUP BY pid) SELECT SUM(s * s) AS q FROM p", BT),
    rej(8, "times_literal_wide", f"SELECT SUM(w.x * 1000) AS s {W}", BT),
    rej(8, "double_wide", f"SELECT SUM(w.x + w.x) AS s {W}", BT),
    rej(8, "power_tower_wide", f"SELECT SUM({' * '.join(['w.x'] * 22)}) AS s {W}", BT, "unbounded_metric"),
    # accepted controls at the limit
    acc(8, "ok_wide_at_limit", f"SELECT w.kind, SUM(w.x) AS s, AVG(w.x) AS a {W} GROUP BY 1"),
    Case("c8_ok_header_tightens", 8, SALES, header="-- bounds: sales 0 20000\n"),
    rej(8, "just_above_limit", f"SELECT SUM(w.x + 1) AS s {W}", BT),
    hdr("header_count_1e308", "-- bounds: txns 0 1e308\n", "SELECT COUNT(*) AS txns FROM transactions", HUGE | {"count_bounds_too_loose"}),
    Case("c8_api_count_nan", 8, "SELECT COUNT(*) AS txns FROM transactions", API | {"invalid_count_bounds"}, bounds={"txns": (float("nan"), 5.0)}),
    Case("c8_ok_declared_bound_tames_square", 8, f"SELECT SUM(w.x * w.x) AS s {W}", header="-- bounds: s 0 1000000000000000\n",
         note="the declared output bound, not the derived one, is the sensitivity"),
    Case("c8_zero_width_bounds", 8, SALES, header="-- bounds: sales 0 0\n", total_or_rejected=True),
    Case("c8_denormal_bounds", 8, SALES, header="-- bounds: sales 0 1e-300\n", total_or_rejected=True),
]
# fmt: on

# --- 9. legitimate templates that must be accepted --------------------------------------------
# fmt: off
CLASS_9: list[Case] = [
    acc(9, "cast_timestamp", f"SELECT DATE_TRUNC('day', CAST(t.txn_ts AS TIMESTAMP)) AS d, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1"),
    acc(9, "cast_date_then_timestamp", f"SELECT CAST(CAST(t.txn_ts AS DATE) AS TIMESTAMP) AS d, COUNT(*) AS n {T} GROUP BY 1"),
    acc(9, "try_cast_timestamp", f"SELECT TRY_CAST(t.category AS TIMESTAMP) IS NULL AS not_a_time, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1"),
    acc(9, "try_cast_integer", f"SELECT TRY_CAST(t.brand AS INTEGER) IS NULL AS non_numeric, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1"),
    acc(9, "timestamp_literal", BY_CHANNEL + "t.txn_ts >= TIMESTAMP '2024-01-01 00:00:00' GROUP BY 1"),
    acc(9, "date_literal", BY_CHANNEL + "CAST(t.txn_ts AS DATE) BETWEEN DATE '2024-01-01' AND DATE '2024-12-31' GROUP BY 1"),
    acc(9, "distinct_per_person_cte", "WITH d AS (SELECT DISTINCT pid, campaign_id FROM exposures) SELECT campaign_id, COUNT(*) AS n FROM d GROUP BY 1",
        note="SELECT DISTINCT over (pid, ...) dedups within one person (rejected_corpus.py still expects row_selection_across_people for the subquery form)"),
    acc(9, "distinct_per_person_join", "WITH d AS (SELECT DISTINCT pid, campaign_id FROM exposures) SELECT d.campaign_id, COUNT(DISTINCT t.pid) AS buyers, SUM(t.amount_cents) AS s FROM d JOIN transactions t ON t.pid = d.pid GROUP BY 1"),
    acc(9, "group_by_pid_rollup", "WITH p AS (SELECT pid, COUNT(*) AS k, MAX(txn_ts) AS last_ts FROM transactions GROUP BY pid) SELECT LEAST(k, 5) AS f, DATE_TRUNC('month', last_ts) AS m, COUNT(DISTINCT pid) AS n FROM p GROUP BY 1, 2"),
    acc(9, "asof_left_join", f"SELECT e.placement, COUNT(DISTINCT e.pid) AS exposed, COUNT(DISTINCT t.pid) AS buyers, SUM(t.amount_cents) AS s {AJ} GROUP BY 1"),
    acc(9, "asof_inner_join", "SELECT t.channel, SUM(t.amount_cents) AS s FROM exposures e ASOF JOIN transactions t ON e.pid = t.pid AND t.txn_ts >= e.exposure_ts GROUP BY 1"),
    acc(9, "interval_literal", "SELECT e.campaign_id, COUNT(DISTINCT t.pid) AS buyers FROM exposures e JOIN transactions t ON t.pid = e.pid AND t.txn_ts BETWEEN e.exposure_ts AND e.exposure_ts + INTERVAL 7 DAY GROUP BY 1"),
    acc(9, "interval_parameter", "SELECT e.campaign_id, COUNT(DISTINCT t.pid) AS buyers FROM exposures e JOIN transactions t ON t.pid = e.pid AND t.txn_ts <= e.exposure_ts + INTERVAL (:window_days) DAY WHERE e.campaign_id IN :campaign_ids GROUP BY 1",
        params=PARAMS),
    acc(9, "frame_literal", "WITH w AS (SELECT pid, SUM(units) OVER (PARTITION BY pid ORDER BY txn_ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS r FROM transactions) SELECT CASE WHEN r > 5 THEN 'hi' ELSE 'lo' END AS b, COUNT(*) AS n FROM w GROUP BY 1"),
    acc(9, "lag_literal_offset", "WITH w AS (SELECT pid, LAG(txn_ts, 2) OVER (PARTITION BY pid ORDER BY txn_ts) AS prev FROM transactions) SELECT prev IS NULL AS early, COUNT(DISTINCT pid) AS n FROM w GROUP BY 1"),
    acc(9, "round_literal_digits", f"SELECT t.channel, SUM(ROUND(t.amount_cents, -2)) AS s {T} GROUP BY 1"),
    acc(9, "date_part_literal", f"SELECT DATE_PART('dow', t.txn_ts) AS dow, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1"),
    acc(9, "nullif_guarded_division", f"SELECT CASE WHEN t.amount_cents // NULLIF(t.units, 0) > 100 THEN 'hi' ELSE 'lo' END AS b, COUNT(DISTINCT t.pid) AS n {T} GROUP BY 1",
        rows={"transactions": [txn(11, units=0)]}),
    acc(9, "coalesce_left_key", f"SELECT COALESCE(t.brand, 'none') AS b, COUNT(DISTINCT e.pid) AS n {LJ} GROUP BY 1"),
]
# fmt: on

CASES: list[Case] = [*CLASS_1, *CLASS_2, *CLASS_3, *CLASS_4, *CLASS_5, *CLASS_6, *CLASS_8, *CLASS_9]


def _spec(name: str = "extra", kind: str = "personal", **columns: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "kind": kind, "columns": dict(columns)}
    if kind == "personal":
        spec["columns"] = {"email": {"role": "identifier"}, **columns}
        spec["purposes"] = ["measurement"]
    return spec


DIM = {"role": "dimension"}

# fmt: off
SPEC_CASES: list[SpecCase] = [
    SpecCase("c3_spec_name_cr_ds", 3, _spec("cr_ds_exposures", "reference", a=DIM)),
    SpecCase("c3_spec_name_cr_suppressed", 3, _spec("cr_suppressed", b=DIM)),
    SpecCase("c3_spec_name_cr_partial", 3, _spec("cr_partial", "reference", a=DIM)),
    SpecCase("c3_spec_column_cr_pid", 3, _spec(cr_pid=DIM)),
    SpecCase("c3_spec_column_cr_k0_reference", 3, _spec("ref", "reference", cr_k0=DIM)),
    SpecCase("c3_spec_column_upper_cr", 3, _spec(CR_ROW=DIM)),
    SpecCase("c8_spec_metric_1e308", 8, _spec(m={"role": "metric", "bounds": [0, 1e308]})),
    SpecCase("c8_spec_metric_minus_1e16", 8, _spec(m={"role": "metric", "bounds": [-1e16, 0]})),
    SpecCase("c8_spec_reference_metric_1e308", 8, _spec("ref", "reference", m={"role": "metric", "bounds": [0, 1e308]})),
    SpecCase("c8_spec_metric_at_limit_ok", 8, _spec(m={"role": "metric", "bounds": [-1e15, 1e15]}), valid=True),
]
# fmt: on

# Accepted cases whose data makes the template itself (run as written, without the rewrite) fail
# in DuckDB: evidence that the data is adversarial enough for the run-time property to mean
# something. (Release-step failures -- integer claims, colliding keys -- are not in this list.)
BREAKS_UNREWRITTEN: frozenset[str] = frozenset(
    {
        "c5_intdiv_by_zero_where",
        "c5_mod_by_zero_key",
        "c5_intdiv_by_zero_sum",
        "c5_cast_varchar_to_int",
        "c5_cast_varchar_to_bigint_where",
        "c5_cast_varchar_to_date",
        "c5_cast_varchar_to_timestamp",
        "c5_cast_varchar_to_boolean",
        "c5_cast_narrowing_tinyint_sum",
        "c5_cast_narrowing_smallint_key",
        "c5_cast_narrowing_integer_where",
        "c5_overflow_pow4_key",
        "c5_overflow_pow4_sum",
        "c5_overflow_add_where",
        "c5_overflow_abs_min",
        "c5_overflow_negate_min",
        "c5_literal_interval_extreme_timestamp",
        "c5_date_diff_microseconds_extreme",
        "c5_interval_divided_by_data",
        "c5_interval_times_data",
        "c5_date_plus_data_days",
        "c5_nullif_number_text",
        "c5_lag_default_text_to_number",
        "c5_rollup_having_varchar_number",
        "c5_decimal_sum_overflow",
        "c8_ok_declared_bound_tames_square",
    }
)
