"""Rewrite step 3: the release split into per-(group, person) clamped partials, a cap on groups
per person (left out when the keys' public domains already allow no more groups than that), and
exact sums per group. Noise is added later, in Python, never in SQL.

>>> clamp(exp.column("x"), 0, 10).sql()
'COALESCE(LEAST(GREATEST(x, 0), 10), 0)'
"""

from __future__ import annotations

import math

import sqlglot
from sqlglot import exp

from cleanroom.policy.release_spec import KeySpec, MeasurementSpec, ReleaseSpec
from cleanroom.policy.rewrite_datasets import keyed_hash
from cleanroom.policy.values import NUMBER, TIME

PARTIAL, CAPPED, SHUFFLED = "cr_partial", "cr_capped", "cr_shuffled"


def _number(value: float) -> exp.Expr:
    return exp.Literal.number(int(value) if float(value).is_integer() else value)


def clamp(expr: exp.Expr, lower: float, upper: float) -> exp.Expr:
    # ignore_nulls: DuckDB's and Spark's own LEAST/GREATEST semantics (no CASE emulation).
    bounded = exp.Least(
        this=exp.Greatest(this=expr, expressions=[_number(lower)], ignore_nulls=True),
        expressions=[_number(upper)],
        ignore_nulls=True,
    )
    return exp.Coalesce(this=bounded, expressions=[exp.Literal.number(0)])


def partial_aggregate(m: MeasurementSpec) -> exp.Expr:
    """The per-(group, person) aggregate of ``m``, before clamping.

    With a clamp at most 1, ``COUNT(DISTINCT x)`` becomes ``COUNT(x)`` (same ``FILTER``): both are
    0 exactly when no row has a non-NULL ``x`` and at least 1 otherwise, so the clamped values are
    equal, and a plain count needs no per-group hash of distinct values (most of the cost of
    ``COUNT(DISTINCT pid)`` partials, which are always clamped to [0, 1]).

    >>> m = MeasurementSpec("n", "person_count", 0, 1, True, lambda: exp.Count(
    ...     this=exp.Distinct(expressions=[exp.column("pid")])))
    >>> partial_aggregate(m).sql()
    'COUNT(pid)'
    """
    partial = m.partial()
    if m.upper > 1:
        return partial
    count = partial.this if isinstance(partial, exp.Filter) else partial
    distinct = count.this if isinstance(count, exp.Count) else None
    if (
        isinstance(distinct, exp.Distinct)
        and len(distinct.expressions) == 1
        and not distinct.args.get("on")
    ):
        count.set("this", distinct.expressions[0])
    return partial


def _table(name: str) -> exp.From:
    return exp.From(this=exp.Table(this=exp.to_identifier(name)))


def groups_bounded(spec: ReleaseSpec, max_groups: int) -> bool:
    """Can no person touch more than ``max_groups`` released groups whatever the data?

    True when every group key has a public domain and the domains allow at most ``max_groups``
    key combinations: the release keeps only groups inside the domains (``dp.candidates``), so
    a person contributes to at most that many released groups and the group cap cannot bind.
    """
    if not spec.keys or any(k.domain is None for k in spec.keys):
        return False
    # len() counts repeated values twice: never fewer combinations than the release can keep.
    return math.prod(len(k.domain or ()) for k in spec.keys) <= max_groups


_DOUBLE_MAX = "1.7976931348623157e308"
# The times a report can carry (ISO-8601 with four-digit years); the engines have wider ranges.
_FIRST_TIME, _LAST_TIME = "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999"


def as_written(node: exp.Expr) -> exp.Expr:
    """``node`` with the totality rewrite's TRY around it, if it got one."""
    while isinstance(node.parent, exp.Try):
        node = node.parent
    return node


def canonical_key(key: KeySpec) -> exp.Expr:
    """The group key as the engine should group it: two engine values that the release would
    turn into one JSON value must already be one group here, before the per-person group cap
    (otherwise one person could count twice in one released group). Fractional numbers are
    grouped as DOUBLE (decimals that round together), with NaN and infinities as NULL and -0.0 as
    0.0; whole numbers as BIGINT (NaN as NULL); times outside years 1-9999 as NULL; text and
    booleans map one to one already.

    >>> k = KeySpec("x", exp.column("x"), None, NUMBER, False)
    >>> canonical_key(k).sql("duckdb")
    'CASE WHEN ABS(CAST(x AS DOUBLE)) <= 1.7976931348623157e308 THEN CAST(x AS DOUBLE) + 0.0 END'
    """
    expr = as_written(key.expr)
    if key.kind == TIME:
        # Times outside years 1-9999 (which ingestion accepts) group as NULL.
        low = exp.Cast(this=exp.Literal.string(_FIRST_TIME), to=exp.DataType.build("TIMESTAMP"))
        high = exp.Cast(this=exp.Literal.string(_LAST_TIME), to=exp.DataType.build("TIMESTAMP"))
        inside = exp.Between(this=expr.copy(), low=low, high=high)
        return exp.Case(ifs=[exp.If(this=inside, true=expr.copy())])
    if key.kind != NUMBER:
        return expr.copy()
    if key.integer:
        # Whole numbers group as BIGINT: a DOUBLE NaN (or a value beyond 64 bits) is NULL.
        return exp.TryCast(this=expr.copy(), to=exp.DataType.build("BIGINT"))

    def as_double() -> exp.Expr:
        return exp.Cast(this=expr.copy(), to=exp.DataType.build("DOUBLE"))

    finite = exp.LTE(this=exp.Abs(this=as_double()), expression=exp.Literal.number(_DOUBLE_MAX))
    positive_zero = exp.Add(this=as_double(), expression=exp.Literal.number("0.0"))
    return exp.Case(ifs=[exp.If(this=finite, true=positive_zero)])


def clamped_partial(m: MeasurementSpec) -> exp.Expr:
    """The clamped per-(group, person) partial; an integer measurement is rounded after the
    clamp (its bounds are whole numbers, so the value stays inside them): a fractional value
    where the checker expected a whole one can never make the release fail."""
    bounded = clamp(partial_aggregate(m), m.lower, m.upper)
    return exp.Round(this=bounded) if m.integer and m.kind == "sum" else bounded


def group_order(key_cols: list[str]) -> list[exp.Ordered]:
    """The order in which the group cap ranks one person's groups: ``cr_rand``, then the group
    key columns.

    The key columns make the order total within a person (``cr_partial`` has one row per person
    and canonical key), so two groups whose hashes collide are ranked by one fixed rule (their
    keys) on every run and engine, never by the engine's row order. They also keep DuckDB from
    rewriting ``ROW_NUMBER() <= max_groups`` over a single order column into a per-person top-N
    aggregate (``top_n_window_elimination``), which on a 1e7-row table took about twice the CPU
    time and a third more memory than the sorted window it replaces (docs/benchmarks.md).

    >>> [o.sql("duckdb") for o in group_order(["cr_k0", "cr_k1"])]
    ['cr_rand', 'cr_k0', 'cr_k1']
    """
    return [exp.Ordered(this=exp.column(c)) for c in ("cr_rand", *key_cols)]


def split_release(
    select: exp.Select, spec: ReleaseSpec, max_groups: int, seed: int = 0
) -> exp.Select:
    """Turn the checked release ``select`` into the staged query the engine runs.

    Nodes are built directly (no SQL text parsed, no builder copies): this runs on every compile.
    The group cap keeps, per person, the groups with the smallest keyed hash of the run's
    ``seed``, the person and the group (ties broken by the group key, see :func:`group_order`):
    a choice that depends on that person alone.
    """
    alias, pid_name = spec.pid
    pid = exp.column(pid_name, table=alias)
    key_cols = [f"cr_k{i}" for i in range(len(spec.keys))]
    keys = [canonical_key(k) for k in spec.keys]
    partial = exp.Select(
        expressions=[
            *(exp.alias_(k.copy(), c, copy=False) for k, c in zip(keys, key_cols, strict=True)),
            exp.alias_(pid.copy(), "cr_pid", copy=False),
            *(exp.alias_(clamped_partial(m), m.column, copy=False) for m in spec.measurements),
        ]
    )
    for arg in ("from_", "joins", "where"):
        value = select.args.get(arg)
        if value:
            partial.set(arg, value)
    partial.set(
        "group",
        exp.Group(expressions=[*(k.copy() for k in keys), pid.copy()]),
    )
    # Rows without a person (pid NULL, e.g. from a LEFT JOIN) would pool many people into one
    # "person" and escape the per-person clamp: they are never released.
    partial.set(
        "having", exp.Having(this=exp.Not(this=exp.Is(this=pid.copy(), expression=exp.Null())))
    )
    measures = [m.column for m in spec.measurements]
    ctes: list[exp.CTE] = list(select.args["with_"].expressions) if select.args.get("with_") else []
    ctes.append(exp.CTE(this=partial, alias=exp.TableAlias(this=exp.to_identifier(PARTIAL))))
    source = PARTIAL
    if spec.keys and max_groups >= 1 and not groups_bounded(spec, max_groups):
        shuffled = exp.Select(
            expressions=[
                *(exp.column(c) for c in (*key_cols, "cr_pid", *measures)),
                exp.alias_(
                    keyed_hash(seed, exp.column("cr_pid"), *(exp.column(c) for c in key_cols)),
                    "cr_rand",
                    copy=False,
                ),
            ]
        )
        shuffled.set("from_", _table(PARTIAL))
        ranked = exp.Select(
            expressions=[
                *(exp.column(c) for c in (*key_cols, *measures)),
                exp.alias_(
                    exp.Window(
                        this=exp.RowNumber(),
                        partition_by=[exp.column("cr_pid")],
                        order=exp.Order(expressions=group_order(key_cols)),
                    ),
                    "cr_group_rank",
                    copy=False,
                ),
            ]
        )
        ranked.set(
            "from_",
            exp.From(
                this=exp.Subquery(
                    this=shuffled, alias=exp.TableAlias(this=exp.to_identifier(SHUFFLED))
                )
            ),
        )
        ctes.append(exp.CTE(this=ranked, alias=exp.TableAlias(this=exp.to_identifier(CAPPED))))
        source = CAPPED
    final = exp.Select(
        expressions=[
            *(
                exp.alias_(exp.column(c), k.name, copy=False)
                for c, k in zip(key_cols, spec.keys, strict=True)
            ),
            *(
                exp.alias_(
                    exp.Coalesce(
                        this=exp.Sum(this=exp.column(m)), expressions=[exp.Literal.number(0)]
                    ),
                    m,
                    copy=False,
                )
                for m in measures
            ),
        ]
    )
    final.set("from_", _table(source))
    if source == CAPPED:
        rank_ok = exp.LTE(
            this=exp.column("cr_group_rank"), expression=exp.Literal.number(int(max_groups))
        )
        final.set("where", exp.Where(this=rank_ok))
    if spec.keys:
        final.set("group", exp.Group(expressions=[exp.column(c) for c in key_cols]))
    final.set("with_", exp.With(expressions=ctes))
    return final


def partials_query(staged_sql: str, column: str, keys: int, dialect: str = "duckdb") -> str:
    """From a staged release query (:func:`split_release`, rendered in ``dialect``) to the query
    of one measurement's clamped per-(person, group) partials, after the group cap, each with its
    ``keys`` group keys (named as the release names them): the same CTEs, sources and cap filter,
    without the per-group sums. Stage 1 of an estimated bound (cleanroom.dp.estimated_bounds)
    reads it, and keeps only the groups the release would (public key domains).

    >>> staged = (
    ...     "WITH cr_partial AS (SELECT t.brand AS cr_k0, t.pid AS cr_pid, SUM(t.x) AS sales "
    ...     "FROM t GROUP BY t.brand, t.pid) "
    ...     "SELECT cr_k0 AS brand, COALESCE(SUM(sales), 0) AS sales FROM cr_partial "
    ...     "GROUP BY cr_k0")
    >>> partials_query(staged, "sales", keys=1).split(") ")[-1]
    'SELECT cr_k0 AS brand, sales FROM cr_partial'
    """
    final = sqlglot.parse_one(staged_sql, read=dialect)
    if not isinstance(final, exp.Select) or len(final.expressions) < keys:
        raise ValueError("not a staged release query")
    final.set("expressions", [*final.expressions[:keys], exp.column(column)])
    final.set("group", None)
    return final.sql(dialect)
