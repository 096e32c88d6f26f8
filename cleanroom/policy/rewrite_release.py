"""Rewrite step 3: the release split into per-(group, person) clamped partials, a cap on groups
per person (left out when the keys' public domains already allow no more groups than that), and
exact sums per group. Noise is added later, in Python, never in SQL.

>>> clamp(exp.column("x"), 0, 10).sql()
'COALESCE(LEAST(GREATEST(x, 0), 10), 0)'
"""

from __future__ import annotations

import math

from sqlglot import exp

from cleanroom.policy.release import MeasurementSpec, ReleaseSpec

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

    >>> m = MeasurementSpec("n", "person_count", 0, 1, True, exp.Count(
    ...     this=exp.Distinct(expressions=[exp.column("pid")])))
    >>> partial_aggregate(m).sql()
    'COUNT(pid)'
    """
    partial = m.partial.copy()
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


def split_release(select: exp.Select, spec: ReleaseSpec, max_groups: int) -> exp.Select:
    """Turn the checked release ``select`` into the staged query the engine runs.

    Nodes are built directly (no SQL text parsed, no builder copies): this runs on every compile.
    """
    alias, pid_name = spec.pid
    pid = exp.column(pid_name, table=alias)
    key_cols = [f"cr_k{i}" for i in range(len(spec.keys))]
    partial = exp.Select(
        expressions=[
            *(
                exp.alias_(k.expr.copy(), c, copy=False)
                for k, c in zip(spec.keys, key_cols, strict=True)
            ),
            exp.alias_(pid.copy(), "cr_pid", copy=False),
            *(
                exp.alias_(clamp(partial_aggregate(m), m.lower, m.upper), m.column, copy=False)
                for m in spec.measurements
            ),
        ]
    )
    for arg in ("from_", "joins", "where"):
        value = select.args.get(arg)
        if value:
            partial.set(arg, value)
    partial.set(
        "group",
        exp.Group(expressions=[*(k.expr.copy() for k in spec.keys), pid.copy()]),
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
                exp.alias_(exp.Rand(), "cr_rand", copy=False),
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
                        order=exp.Order(expressions=[exp.Ordered(this=exp.column("cr_rand"))]),
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
