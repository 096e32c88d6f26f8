"""Release aggregates become measurements with per-person-per-group bounds.

``COUNT(DISTINCT pid)`` is bounded by 1, ``COUNT(*)`` by ``max_count_per_user`` (or tighter
bounds the template declares for that output), ``SUM``/``AVG`` by the bounds of the expression they
aggregate; ``AVG`` is a noisy SUM over a noisy COUNT.

>>> is_pid_case(exp.Case(ifs=[exp.If(this=exp.column("c"), true=exp.column("pid"))]), {"pid"})
True
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sqlglot import exp

from cleanroom.plan import Col, Op, PostExpr
from cleanroom.policy.release_spec import MeasurementSpec

if TYPE_CHECKING:  # the checker calls in here; only its type is needed
    from cleanroom.policy.release import ReleaseChecker


def is_pid_case(node: exp.Expr, pid_sql: set[str]) -> bool:
    """``CASE WHEN ... THEN pid [ELSE NULL] END`` (a conditional person)."""
    if not isinstance(node, exp.Case) or node.this is not None:
        return False
    results = [b.args["true"] for b in node.args.get("ifs") or []]
    default = node.args.get("default")
    if default is not None:
        results.append(default)
    has_pid = False
    for result in results:
        if isinstance(result, exp.Null):
            continue
        if isinstance(result, exp.Column) and result.name.lower() in pid_sql:
            has_pid = True
            continue
        return False
    return has_pid


def _name(rc: ReleaseChecker, out_name: str | None, suffix: str = "") -> str:
    if out_name and not suffix and out_name not in rc._names:
        return rc._unique(out_name)
    base = f"{out_name}_{suffix}" if out_name else f"cr_m{len(rc.spec.measurements) + 1}"
    return rc._unique(base if not suffix or out_name else f"{base}_{suffix}")


def _subquery_inside(node: exp.Expr) -> exp.Expr | None:
    return next(node.find_all(exp.Query, exp.Exists, exp.Subquery), None)


def measure_aggregate(rc: ReleaseChecker, node: exp.Expr, out_name: str | None) -> PostExpr:
    q = rc.q
    inner = _subquery_inside(node)
    if inner is not None:
        q.flag(
            "subquery_in_release_aggregate",
            inner,
            "a released aggregate cannot contain a subquery; compute the condition or value in "
            "a person-local step (a CTE) and aggregate its column",
        )
        return Col("")
    condition: exp.Expr | None = None
    agg = node
    if isinstance(agg, exp.Filter):
        condition = agg.expression.this
        q.condition(condition, rc.ctx)
        agg = agg.this
    if isinstance(agg, exp.IgnoreNulls):
        agg = agg.this
    if isinstance(agg, exp.Count):
        return _count(rc, node, agg, condition, out_name)
    if isinstance(agg, exp.Sum | exp.Avg):
        return _sum_or_avg(rc, node, agg, condition, out_name)
    q.flag(
        "disallowed_aggregate",
        agg,
        f"{agg.sql_name() if isinstance(agg, exp.Func) else 'this'}() cannot be released; "
        "use COUNT(DISTINCT pid), COUNT(*), SUM or AVG",
    )
    return Col("")


def _remember(rc: ReleaseChecker, sql: str, post: PostExpr) -> PostExpr:
    rc._by_sql[sql] = post
    return post


def _count(
    rc: ReleaseChecker, node: exp.Expr, agg: exp.Count, cond: exp.Expr | None, out: str | None
) -> PostExpr:
    q = rc.q
    arg = agg.this
    kind = "row_count"
    upper = float(rc.policy.max_count_per_user)
    unconditional = cond is None
    if isinstance(arg, exp.Distinct):
        exprs = arg.expressions
        pid_names = {rc.spec.pid[1]}
        pid_names |= {
            n for s in rc.ctx.scope.sources.values() for n, v in s.relation.columns.items() if v.pid
        }
        if len(exprs) == 1 and is_pid_case(exprs[0], pid_names):
            for branch in exprs[0].args.get("ifs") or []:
                q.condition(branch.this, rc.ctx)
                q.eval(branch.args["true"], rc.ctx)  # qualifies pid; pid results are the idiom
            kind, upper, unconditional = "person_count", 1.0, False
        elif len(exprs) == 1 and q.eval(exprs[0], rc.ctx).pid:
            kind, upper = "person_count", 1.0
        else:
            q.flag("disallowed_aggregate", agg, "COUNT(DISTINCT ...) is only allowed for pid")
            return Col("")
    elif arg is not None and not isinstance(arg, exp.Star) and q.eval(arg, rc.ctx).pid:
        q.flag("disallowed_aggregate", agg, "use COUNT(DISTINCT pid) to count people")
        return Col("")
    lower = 0.0
    if kind == "row_count":
        lower, upper = _declared_count_bounds(rc, agg, out, upper)
    sql = node.sql("duckdb")
    if sql in rc._by_sql:
        return rc._by_sql[sql]
    column = _name(rc, out)
    rc.spec.measurements.append(
        MeasurementSpec(column, kind, lower, upper, True, node.copy, unconditional)
    )
    return _remember(rc, sql, Col(column))


def _declared_count_bounds(
    rc: ReleaseChecker, agg: exp.Expr, out: str | None, upper: float
) -> tuple[float, float]:
    """A header ``bounds`` line naming a ``COUNT`` output tightens its per-person-per-group
    bound below the policy's ``max_count_per_user`` (never above it: that would loosen privacy)."""
    q = rc.q
    if not out or out not in q.declared:
        return 0.0, upper
    q.used_bounds.add(out)
    lo, hi = q.declared[out]
    if hi > upper:
        q.flag(
            "count_bounds_too_loose",
            agg,
            f"declared bounds for '{out}' go above the policy's max_count_per_user "
            f"({upper:g}); a template may only tighten a count's bound",
        )
        return 0.0, upper
    # A count is a whole number of rows: whole-number clamps keep the sensitivity exact.
    low, high = float(max(0, math.ceil(lo))), float(math.floor(hi))
    if high < 1 or low > high:
        q.flag(
            "invalid_count_bounds",
            agg,
            f"declared bounds for count '{out}' must contain a whole number of rows of at least 1",
        )
        return 0.0, upper
    return low, high


def _sum_or_avg(
    rc: ReleaseChecker, node: exp.Expr, agg: exp.Expr, cond: exp.Expr | None, out: str | None
) -> PostExpr:
    q = rc.q
    arg = agg.this
    label = "SUM" if isinstance(agg, exp.Sum) else "AVG"
    if isinstance(arg, exp.Distinct):
        q.flag("disallowed_aggregate", agg, f"{label}(DISTINCT ...) is not allowed")
        return Col("")
    val = q.operand(arg, rc.ctx)
    for metric in sorted(val.metrics):
        dataset, column = metric.split(".", 1)
        spec = q.datasets[dataset].column(column)
        if spec is not None and label not in spec.aggregates:
            q.flag(
                "disallowed_aggregate",
                agg,
                f"{label} of metric '{column}' is not allowed by dataset '{dataset}'",
            )
    val = rc.declared_bounds(out, val)
    if val.bounds is None:
        q.flag(
            "unbounded_metric",
            agg,
            "no per-person bounds are known for this expression; aggregate a bounded metric "
            "or declare '-- bounds: <name> <lo> <hi>'",
        )
        return Col("")
    sql = node.sql("duckdb")
    if sql in rc._by_sql:
        return rc._by_sql[sql]
    lo, hi = val.bounds
    integer = val.integer and float(lo).is_integer() and float(hi).is_integer()

    def partial_sum() -> exp.Expr:
        return _partial(exp.Sum(this=agg.this.copy()), node)

    def partial_count() -> exp.Expr:
        return _partial(exp.Count(this=agg.this.copy()), node)

    if label == "SUM":
        column = _name(rc, out)
        rc.spec.measurements.append(MeasurementSpec(column, "sum", lo, hi, integer, partial_sum))
        return _remember(rc, sql, Col(column))
    sum_col, count_col = _name(rc, out, "sum"), _name(rc, out, "count")
    upper = float(rc.policy.max_count_per_user)
    rc.spec.measurements.append(MeasurementSpec(sum_col, "sum", lo, hi, integer, partial_sum))
    rc.spec.measurements.append(
        MeasurementSpec(count_col, "row_count", 0.0, upper, True, partial_count)
    )
    return _remember(rc, sql, Op("/", (Col(sum_col), Col(count_col))))


def _partial(aggregate: exp.Expr, written: exp.Expr) -> exp.Expr:
    """``aggregate`` under the ``FILTER`` the template wrote on ``written`` (read when the
    rewrite runs, so it is the total, wrapped condition)."""
    if not isinstance(written, exp.Filter):
        return aggregate
    return exp.Filter(this=aggregate, expression=exp.Where(this=written.expression.this.copy()))
