"""Hypothesis strategies for the neighbour fuzzer: worlds, datasets D and adversarial neighbours.

A dataset D has a handful of people whose rows respect every ``max_rows_per_user`` (so a row cap
never changes their rows), with values drawn from small pools so that groups are shared. The
neighbour is one more person (or one person fewer), drawn *from D*: values seen in D (existing
groups), declared domain values, new values (new groups), extremes within and far outside the
declared bounds, NULLs, zeros, duplicate rows, many rows (past the row cap), rows spread over
every group, rows unmatched by any join (present in one dataset only), no consent, suppression.

Rows are drawn as a few distinct row templates each with a multiplicity, plus an optional
"spread" over one column, so a neighbour with thousands of rows costs a few draws.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import sqlglot
from hypothesis import strategies as st
from sqlglot import exp

from cleanroom.demo.specs import DEMO_POLICY, demo_dataset_specs
from cleanroom.names import PID
from cleanroom.specs import CollaborationPolicy, ColumnSpec, DatasetSpec
from tests.policy.collab import DATASETS, POLICY
from tests.policy.neighbours import Case, Data, Neighbour, World

BASE = dt.datetime(2024, 3, 1, 12, 0)
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

COMMON_POOLS: dict[str, tuple[Any, ...]] = {
    "campaign_id": ("c1", "c2", "c3", "c4"),
    "brand": ("acme", "zeta", "nova"),
    "category": ("snacks", "beverages", "household"),
    "parent_company": ("acme inc", "zeta group"),
    "segment": ("vip", "loyal", "lapsed", "prospect"),
    "region": ("north", "south", "east"),
    "channel": ("online", "instore", "onsite"),
    "placement": ("onsite", "offsite", "email"),
    "cell": ("test", "holdout"),
}

COLLAB = World("collab", POLICY, DATASETS, COMMON_POOLS)
DEMO = World(
    "demo",
    CollaborationPolicy.from_dict(DEMO_POLICY),
    {n: DatasetSpec.from_dict(s) for n, s in demo_dataset_specs().items()},
    COMMON_POOLS,
)
_WIDE_SPECS: tuple[dict[str, Any], ...] = (
    {
        "name": "visits",
        "kind": "personal",
        "purposes": ["measurement", "audience_sizing"],
        "max_rows_per_user": 6,
        "columns": {
            "uid": {"role": "identifier"},
            "store": {"role": "dimension", "values": [1, 2, 3]},
            "device": {"role": "dimension"},
            "visit_ts": {"role": "timestamp"},
            "dwell": {"role": "metric", "type": "number", "bounds": [-2.5, 7.5]},
            "score": {"role": "metric", "bounds": [-100, 100], "aggregates": ["SUM"]},
            "ok_measure": {"role": "consent", "purpose": "measurement"},
            "ok_audience": {"role": "consent", "purpose": "audience_sizing"},
        },
    },
    {
        "name": "orders",
        "kind": "personal",
        "purposes": ["measurement"],
        "max_rows_per_user": 3,
        "columns": {
            "uid": {"role": "identifier"},
            "store": {"role": "dimension", "values": [1, 2, 3]},
            "sku": {"role": "dimension"},
            "order_ts": {"role": "timestamp"},
            "qty": {"role": "metric", "bounds": [0, 9]},
        },
    },
    {
        "name": "stores",
        "kind": "reference",
        "columns": {
            "store": {"role": "dimension", "values": [1, 2, 3]},
            "city": {"role": "dimension"},
            "size": {"role": "metric"},
        },
    },
)
# A third world for shapes the other two lack: an integer-valued dimension (stored BIGINT),
# negative and fractional metric bounds, a dataset without consent, two consent purposes.
WIDE = World(
    "wide",
    CollaborationPolicy.from_dict(
        {
            "min_users_per_row": 10,
            "max_groups_per_user": 3,
            "max_count_per_user": 5,
            "purposes": ["measurement", "audience_sizing"],
        }
    ),
    {s["name"]: DatasetSpec.from_dict(s) for s in _WIDE_SPECS},
    {"device": ("ios", "android"), "sku": ("101", "102", "103"), "city": ("paris", "lyon")},
)
WORLDS = {w.name: w for w in (COLLAB, DEMO, WIDE)}


def adversarial_world() -> World:
    """The datasets of tests/policy/adversarial_corpus.py (collab plus ``prices``, ``wide``)."""
    from tests.policy.adversarial_corpus import ALL_DATASETS

    pools = {**COMMON_POOLS, "label": ("l1", "l2", "cheap"), "kind": ("a", "b", "c")}
    return World("adversarial", POLICY, ALL_DATASETS, pools)


# --- values seen in the template ---------------------------------------------------------------
def hints(case: Case) -> tuple[Any, ...]:
    """The template's literals and parameter values: data that just matches (or just misses)
    its filters and buckets is where a wrong analysis shows."""
    out: list[Any] = []
    try:
        tree = sqlglot.parse_one(case.sql, read="duckdb")
    except sqlglot.errors.ParseError:
        tree = None
    for lit in tree.find_all(exp.Literal) if tree is not None else ():
        if lit.is_string:
            out.append(lit.this)
        else:
            try:
                number = float(lit.this)
            except ValueError:
                continue
            if number.is_integer() and abs(number) < 2**62:
                out += [int(number), int(number) - 1, int(number) + 1]
    for p in case.parameters:
        value = case.values.get(p.name, p.default)
        out += list(value) if isinstance(value, list) else [value]
    return tuple(
        dict.fromkeys(v for v in out if isinstance(v, str | int) and not isinstance(v, bool))
    )


def _whole(col: ColumnSpec) -> bool:
    """An integer metric (stored BIGINT): ingestion refuses any other value."""
    return col.role == "metric" and col.number_type == "integer"


def _fits(col: ColumnSpec, value: Any) -> bool:
    if col.role == "metric":
        if isinstance(value, bool):
            return False
        if _whole(col):
            return isinstance(value, int) and INT64_MIN <= value <= INT64_MAX
        return isinstance(value, int | float) and math.isfinite(value)
    if col.role in ("dimension", "sensitive"):
        return isinstance(value, int) if _numeric_dim(col) else isinstance(value, str)
    return False


# --- values ---------------------------------------------------------------------------------------
def _ts(minutes: int) -> dt.datetime:
    return BASE + dt.timedelta(minutes=minutes)


def _numeric_dim(col: ColumnSpec) -> bool:
    return col.values is not None and all(
        isinstance(v, int) and not isinstance(v, bool) for v in col.values
    )


def ordinary_value(world: World, spec: DatasetSpec, col: ColumnSpec) -> st.SearchStrategy[Any]:
    """A value a well-behaved person has (within bounds, in the pools)."""
    if col.role in ("dimension", "sensitive"):
        pool = world.pool(spec, col.name)
        return st.sampled_from(pool)
    if col.role == "metric":
        if col.bounds is None:
            return st.integers(1, 100_000)
        lo, hi = col.bounds
        if _whole(col) or (float(lo).is_integer() and float(hi).is_integer()):
            return st.integers(math.ceil(lo), math.floor(hi))
        return st.integers(int(lo * 2), int(hi * 2)).map(lambda v: v / 2)
    if col.role == "timestamp":
        return st.integers(-30 * 24 * 60, 30 * 24 * 60).map(_ts)
    if col.role == "consent":
        return st.sampled_from([True, True, True, True, True, False, None])
    raise AssertionError(col.role)


def extreme_values(col: ColumnSpec, seen: Sequence[Any]) -> list[Any]:
    """Values at and far beyond the edges, NULL, zero, and what D already holds."""
    out: list[Any] = [None, *seen]
    if col.role == "metric":
        lo, hi = col.bounds or (0, 100_000)
        out += [0, -1, 1, lo, hi, hi + 1, lo - 1, 2 * hi + 7, -(2 * hi) - 7, 2**31, -(2**31)]
        out += [2**53 + 1, 10**15, INT64_MAX, INT64_MIN, INT64_MIN + 1]
        out = [int(v) if isinstance(v, float) and v.is_integer() else v for v in out]
        if not _whole(col):  # a number metric (stored DOUBLE) takes fractions and extremes too
            out += [0.5, -0.5, hi + 0.25, 1e300, -1e300, 5e-324]
    elif col.role in ("dimension", "sensitive"):
        if _numeric_dim(col):
            out += [*(col.values or ()), 0, -1, 4, 99, INT64_MAX, INT64_MIN]
        else:
            domain = [str(v) for v in col.values or ()]
            out += [*domain, *(v.upper() for v in domain), *(f" {v} " for v in domain)]
            out += ["", " ", "zz_new", "ZZ_NEW", "0", "1", "-1", "1e3", "9223372036854775808"]
            out += ["NULL", "true", "2024-03-01", "o'brien", "%", "_", "\\", "é", "x" * 300]
    elif col.role == "timestamp":
        out += [
            dt.datetime(1, 1, 1),
            dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
            dt.datetime(1970, 1, 1),
            BASE,
            BASE + dt.timedelta(days=14),
            BASE - dt.timedelta(microseconds=1),
        ]
    elif col.role == "consent":
        out += [True, False]
    return out


# --- D --------------------------------------------------------------------------------------------
@st.composite
def _row(
    draw: st.DrawFn, world: World, spec: DatasetSpec, hinted: tuple[Any, ...] = ()
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for col in spec.stored_columns():
        fitting = [h for h in hinted if _fits(col, h)]
        choice = draw(st.sampled_from(["ordinary"] * 6 + ["hint"] * 2 + ["null"]))
        if choice == "null" and col.role != "consent":
            row[col.name] = None
        elif choice == "hint" and fitting:
            row[col.name] = draw(st.sampled_from(fitting))
        else:
            row[col.name] = draw(ordinary_value(world, spec, col))
    return row


@st.composite
def datasets(
    draw: st.DrawFn,
    world: World,
    *,
    max_people: int = 8,
    pid_types: Sequence[str] = ("BLOB",),
    hinted: tuple[Any, ...] = (),
) -> Data:
    """D: up to ``max_people`` people with rows within every row cap, reference rows, and a few
    suppressed people. A person's rows repeat one profile often, so that people share groups."""
    people = draw(st.integers(1, max_people))
    rows: dict[str, list[dict[str, Any]]] = {s.name: [] for s in world.datasets.values()}
    # Per dataset: empty, sparse or dense in D (an empty dataset lets one person flip EXISTS).
    density = {s.name: draw(st.sampled_from([2, 2, 1, 0])) for s in world.personal()}
    for person in range(1, people + 1):
        for spec in world.personal():
            cap = int(spec.max_rows_per_user or 1)
            if density[spec.name] == 0 or (density[spec.name] == 1 and draw(st.booleans())):
                continue
            count = draw(st.integers(0, min(cap, 3)))
            if count == 0:
                continue
            profile = draw(_row(world, spec, hinted))
            for _ in range(count):
                if draw(st.booleans()):
                    rows[spec.name].append({PID: person, **profile})
                else:
                    rows[spec.name].append({PID: person, **draw(_row(world, spec, hinted))})
    for spec in world.reference():
        for _ in range(draw(st.integers(0, 5))):
            rows[spec.name].append(draw(_row(world, spec, hinted)))
    suppressed = draw(st.frozensets(st.integers(1, people), max_size=2))
    pid_type = draw(st.sampled_from(tuple(pid_types)))
    return Data(rows, suppressed, pid_type)


def seen_values(data: Data, dataset: str, column: str) -> list[Any]:
    return list(dict.fromkeys(r.get(column) for r in data.rows.get(dataset, ())))[:12]


# --- the neighbour -----------------------------------------------------------------------------
@st.composite
def adversarial_row(
    draw: st.DrawFn, world: World, spec: DatasetSpec, data: Data, hinted: tuple[Any, ...] = ()
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for col in spec.stored_columns():
        seen = [v for v in seen_values(data, spec.name, col.name) if v is not None]
        fitting = [h for h in hinted if _fits(col, h)]
        choice = draw(
            st.sampled_from(
                [
                    "seen",
                    "seen",
                    "ordinary",
                    "ordinary",
                    "hint",
                    "hint",
                    "extreme",
                    "extreme",
                    "extreme",
                ]
            )
        )
        if choice == "seen" and seen:
            row[col.name] = draw(st.sampled_from(seen))
        elif choice == "hint" and fitting:
            row[col.name] = draw(st.sampled_from(fitting))
        elif choice == "extreme":
            row[col.name] = draw(st.sampled_from(extreme_values(col, seen)))
        else:
            row[col.name] = draw(ordinary_value(world, spec, col))
    return row


def _spread(
    spec: DatasetSpec,
    world: World,
    data: Data,
    template: dict[str, Any],
    column: str,
    hinted: tuple[Any, ...] = (),
) -> list[dict[str, Any]]:
    """The row ``template`` once per value of ``column``: every group D has, the pool, and new
    values; timestamps one per day over a year."""
    col = spec.column(column)
    assert col is not None
    if col.role == "timestamp":
        values: list[Any] = [BASE + dt.timedelta(days=d) for d in range(-120, 120, 3)]
    elif col.role == "metric":
        lo, hi = col.bounds or (0, 100)
        step = max((hi - lo) / 20, 1)
        values = [lo + i * step for i in range(-3, 24)]
        values = [int(v) if float(v).is_integer() or _whole(col) else v for v in values]
        values += [h for h in hinted if _fits(col, h)]
    else:
        values = [*seen_values(data, spec.name, column), *world.pool(spec, column), *hinted]
        values = [v for v in values if v is None or _fits(col, v)]
        values += [f"new{i}" for i in range(12)] if not _numeric_dim(col) else list(range(4, 16))
    return [{**template, column: v} for v in dict.fromkeys(values)]


@st.composite
def neighbours(
    draw: st.DrawFn,
    world: World,
    data: Data,
    read: Sequence[str] | None = None,
    hinted: tuple[Any, ...] = (),
) -> Neighbour:
    """One person more (drawn from D's values and the extremes), or one person of D fewer.

    ``read``: the datasets the template reads (compiled.datasets); the added person has rows
    only there (rows elsewhere cannot matter), in each with probability 3/4 (absent from a
    dataset: unmatched by every join to it)."""
    people = sorted(data.people())
    if people and draw(st.sampled_from([False] * 9 + [True])):
        return Neighbour(removed=draw(st.sampled_from(people)))
    added: dict[str, list[dict[str, Any]]] = {}
    for spec in world.personal():
        if read is not None and spec.name not in read:
            continue
        if not draw(st.sampled_from([True, True, True, False])):
            continue  # unmatched: the person is absent from this dataset
        cap = int(spec.max_rows_per_user or 1)
        rows: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(1, 4))):
            template = draw(adversarial_row(world, spec, data, hinted))
            many = [cap, cap + 1] + ([3 * cap + 1] if cap <= 20 else [])
            copies = draw(st.sampled_from([1, 1, 1, 1, 1, 2, 3, *many]))
            rows.extend(dict(template) for _ in range(copies))
        if draw(st.booleans()):
            # rows in every group: one per value of a column (dimensions first)
            dims = [c.name for c in spec.stored_columns() if c.role in ("dimension", "sensitive")]
            others = [c.name for c in spec.stored_columns() if c.role in ("timestamp", "metric")]
            columns = dims if dims and draw(st.sampled_from([True, True, False])) else others
            column = draw(st.sampled_from(columns or dims))
            rows.extend(_spread(spec, world, data, rows[0], column, hinted))
        added[spec.name] = rows
    return Neighbour(added=added, suppress_added=draw(st.sampled_from([False] * 9 + [True])))
