"""Checking one expression: default deny over node types and functions, ``pid`` use, and the
facts (bounds, group-key eligibility, public domain) of its value.

>>> from sqlglot import parse_one
>>> from cleanroom.policy.scope import Relation, Scope, Source
>>> from cleanroom.policy.violations import ViolationCollector
>>> scope = Scope(sources={"t": Source("t", Relation({"x": Val(bounds=(0, 10))}, True))})
>>> checker = ExpressionChecker(ViolationCollector(""))
>>> checker.eval(parse_one("LEAST(x * 2, 15) + 1"), Context(scope)).bounds
(1.0, 16.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlglot import exp

from cleanroom.policy import functions as fn
from cleanroom.policy.scope import Resolved, Scope, resolve
from cleanroom.policy.totality import TotalityPlan, try_able
from cleanroom.policy.values import (
    BOOL,
    CONST,
    INTERVAL,
    NUMBER,
    TEXT,
    TIME,
    Val,
    add,
    common_kind,
    div,
    finite,
    merge,
    mul,
    sub,
    union,
)
from cleanroom.policy.violations import ViolationCollector
from cleanroom.specs import FAIRNESS_PURPOSE


@dataclass(frozen=True)
class Context:
    scope: Scope
    aggregates: bool = False  # person-local aggregates allowed here (rollup SELECT/HAVING)
    windows: bool = False  # window functions allowed here
    row_cap: float | None = None  # rows per person of the relation (bounds COUNT)
    # This exact node may be a sensitive column: a plain column of a CTE's or derived table's
    # select list, or a group key of a fairness release. Never inherited by sub-expressions.
    sensitive_ok: bool = False
    # The same for a consent analysis's ``consented`` column: a plain carried column, or a group
    # key of that analysis's release.
    consent_ok: bool = False


# Checks a subquery (EXISTS, IN or scalar) and returns the facts of the outer values it reads;
# set by the query checker to avoid an import cycle.
SubqueryHook = Callable[[exp.Expr, Context, str], Val]
_NON_TOTAL = "non_total_expression"


class ExpressionChecker:
    """Evaluates expressions to :class:`Val`, recording every violation it meets."""

    def __init__(self, collector: ViolationCollector) -> None:
        self.collector = collector
        self.subquery_hook: SubqueryHook | None = None
        self.totality = TotalityPlan()

    def flag(self, code: str, node: exp.Expr, message: str) -> None:
        self.collector.add(code, node, message)

    # ----------------------------------------------------------------------------------------
    def eval(self, node: exp.Expr, ctx: Context) -> Val:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            return handler(self, node, ctx)
        for kinds, handler in _FAMILY_HANDLERS:
            if isinstance(node, kinds):
                return handler(self, node, ctx)
        if isinstance(node, exp.Func):
            self.flag(
                "forbidden_function", node, f"function {fn.function_name(node)}() is not allowed"
            )
        else:
            self.flag("forbidden_syntax", node, f"{type(node).__name__} is not allowed")
        return Val(groupable=False)

    def operand(self, node: exp.Expr, ctx: Context) -> Val:
        """Evaluate an argument of a function or operator: ``pid`` may not be transformed."""
        val = self.eval(node, ctx)
        if val.pid:
            self.flag(
                "pid_function",
                node.parent or node,
                "pid may not be transformed (no functions, casts or arithmetic of pid)",
            )
            return Val(groupable=False)
        return val

    def condition(self, node: exp.Expr, ctx: Context) -> Val:
        val = self.eval(node, ctx)
        if val.pid:
            self.flag("pid_misuse", node, "pid is not a condition")
        return val

    # ----------------------------------------------------------------------------------------
    def column(self, node: exp.Column, ctx: Context) -> Val:
        if node.args.get("db") or node.args.get("catalog"):
            self.flag("unknown_column", node, "columns are named 'alias.column' at most")
            return Val(groupable=False)
        if isinstance(node.this, exp.Star):
            self.flag("star", node, "'*' is not allowed; name the columns")
            return Val(groupable=False)
        name = node.name.lower()
        table = node.table.lower()
        found = resolve(ctx.scope, table, name)
        if not isinstance(found, Resolved):
            self.flag(found.code, node, found.message)
            return Val()  # already rejected; avoid follow-on violations

        if found.val.sensitive and not ctx.sensitive_ok:
            self.flag(
                "sensitive_column",
                node,
                f"column '{name}' is sensitive: it can only be carried as a plain column and be "
                f"a group key of a fairness analysis (purpose: {FAIRNESS_PURPOSE}), never "
                "filtered, joined, compared, transformed or aggregated",
            )
        if found.val.consent and not ctx.consent_ok:
            self.flag(
                "consent_column",
                node,
                f"column '{name}' is the consent of a consent analysis (-- consent: <dataset>): "
                "it can only be carried as a plain column and be a group key of the release, "
                "never filtered, joined, compared, transformed or aggregated",
            )
        if found.outer:
            ctx.scope.outer_vals.append(found.val)
        # Qualify in place so the rewrite and the engine bind exactly what we checked.
        if node.args.get("table") is None:
            node.set("table", exp.to_identifier(found.alias))
        else:
            node.args["table"].set("this", found.alias)
        node.this.set("this", found.name)
        return found.val

    def literal(self, node: exp.Literal, ctx: Context) -> Val:
        if node.is_string:
            return CONST.with_(domain=(node.this,), kind=TEXT)
        number = float(node.this)
        if not math.isfinite(number):
            return CONST.with_(kind=NUMBER)
        return CONST.with_(
            bounds=(number, number), integer=number.is_integer(), domain=(number,), kind=NUMBER
        )

    def arithmetic(self, node: exp.Expr, ctx: Context) -> Val:
        left = self.operand(node.this, ctx)
        right = self.operand(node.expression, ctx)
        kinds = {left.kind, right.kind}
        kind = TIME if TIME in kinds else INTERVAL if kinds == {INTERVAL} else NUMBER
        out = merge(left, right).with_(kind=kind)
        if not isinstance(node, exp.Div):  # ``/`` is floating point: inf or NaN, never an error
            self.may_raise(node, (left, right), numeric=kind == NUMBER)
        a, b = left.bounds, right.bounds
        if a is None or b is None:
            return out
        if isinstance(node, exp.Add):
            return out.with_(bounds=finite(add(a, b)), integer=left.integer and right.integer)
        if isinstance(node, exp.Sub):
            return out.with_(bounds=finite(sub(a, b)), integer=left.integer and right.integer)
        if isinstance(node, exp.Mul):
            return out.with_(bounds=finite(mul(a, b)), integer=left.integer and right.integer)
        if isinstance(node, exp.Div):
            return out.with_(bounds=finite(div(a, b)))
        return out

    def neg(self, node: exp.Neg, ctx: Context) -> Val:
        val = self.operand(node.this, ctx)
        if not val.literal:
            self.may_raise(node, (val,), numeric=val.kind == NUMBER)
        bounds = (-val.bounds[1], -val.bounds[0]) if val.bounds else None
        return val.with_(bounds=bounds, domain=None)

    # --- totality ------------------------------------------------------------------------------
    def may_raise(self, node: exp.Expr, operands: tuple[Val, ...], *, numeric: bool) -> None:
        """``node`` can raise on some value (overflow, division by zero, a bad implicit cast):
        it runs under TRY (an error becomes NULL). Where TRY cannot hold it (it computes over
        an aggregate or a window), numeric operands are computed in DOUBLE, which never raises;
        anything else is rejected."""
        if all(v.literal for v in operands):
            return  # constants: the same outcome for every dataset
        if try_able(node):
            self.totality.wrap_in_try(node)
        elif numeric and not isinstance(node, exp.IntDiv | exp.Mod):
            self.totality.compute_in_double(node)
        else:
            self.flag(
                _NON_TOTAL,
                node,
                "this can fail on some values (overflow, division by zero or a bad cast) and "
                "computes over an aggregate or window; compute it in a later step",
            )

    def literal_only(self, node: exp.Expr | None, ctx: Context, what: str) -> None:
        """Amounts that decide how an expression is computed must not come from data."""
        if node is None:
            return
        if not self.eval(node, ctx).literal:
            self.flag(_NON_TOTAL, node, f"{what} must be a literal or a parameter")

    def comparison(self, node: exp.Expr, ctx: Context) -> Val:
        left = self.eval(node.this, ctx)
        right = self.eval(node.expression, ctx)
        if left.pid or right.pid:
            if isinstance(node, exp.EQ) and left.pid and right.pid:
                return Val(kind=BOOL)
            self.flag("pid_misuse", node, "pid may only be compared for equality with another pid")
            return Val(groupable=False)
        self.compare_kinds(node, [left, right])
        return merge(left, right).with_(groupable=True, domain=None, kind=BOOL)

    def compare_kinds(self, node: exp.Expr, vals: list[Val]) -> None:
        """Values compared (or unified) must be of one kind.

        Text data compared with a number or a time is cast implicitly by the engine, and that
        cast fails on some values (``=``) or for every dataset (``<``, ``BETWEEN``): refused,
        with a pointer to an explicit ``TRY_CAST``. A text literal compared with a number or a
        time is cast once, for every dataset alike. Where a kind is unknown, the comparison runs
        under TRY. A personal metric compared with reference data would make the reference
        table's columns a function of that metric: refused too.
        """
        kinds = {v.kind for v in vals if not v.literal}
        literal_kinds = {v.kind for v in vals if v.literal and v.kind is not None}
        if TEXT in kinds and (kinds | literal_kinds) - {TEXT}:
            self.flag(
                "mixed_type_comparison",
                node,
                "this compares text data with a number or a time; convert explicitly, e.g. "
                "TRY_CAST(x AS BIGINT) = 5",
            )
        elif None in kinds and len(vals) > 1:
            self.may_raise(node, tuple(vals), numeric=False)
        personal_metric = any(v.metrics for v in vals)
        if personal_metric and any(v.reference and not v.metrics for v in vals):
            self.flag(
                "reference_join_on_metric",
                node,
                "a personal metric cannot be matched against reference data; match on dimension "
                "columns",
            )

    def is_(self, node: exp.Is, ctx: Context) -> Val:
        left = self.eval(node.this, ctx)
        if left.pid and isinstance(node.expression, exp.Null):
            return Val(kind=BOOL)
        if left.pid:
            self.flag("pid_misuse", node, "pid may only be tested with IS [NOT] NULL")
        self.eval(node.expression, ctx)
        return merge(left).with_(groupable=True, kind=BOOL)

    def logical(self, node: exp.Expr, ctx: Context) -> Val:
        vals = [self.condition(child, ctx) for child in node.iter_expressions()]
        return merge(*vals).with_(groupable=True, kind=BOOL)

    def like(self, node: exp.Expr, ctx: Context) -> Val:
        vals = [self.operand(child, ctx) for child in node.iter_expressions()]
        return merge(*vals).with_(groupable=True, kind=BOOL)

    def between(self, node: exp.Between, ctx: Context) -> Val:
        vals = [self.operand(child, ctx) for child in node.iter_expressions()]
        self.compare_kinds(node, vals)
        return merge(*vals).with_(groupable=True, kind=BOOL)

    def in_(self, node: exp.In, ctx: Context) -> Val:
        left = self.operand(node.this, ctx)
        query = node.args.get("query")
        if isinstance(query, exp.Subquery):
            query = query.this
        if query is not None:
            assert self.subquery_hook is not None
            selected = self.subquery_hook(query, ctx, "in")
            self.compare_kinds(node, [left, selected])
        items = [self.operand(child, ctx) for child in node.expressions]
        if items:
            self.compare_kinds(node, [left, *items])
        field = node.args.get("field")
        if (field is not None and not isinstance(field, exp.Placeholder)) or node.args.get(
            "unnest"
        ):
            self.flag("forbidden_syntax", node, "IN takes a list of values or a subquery")
        return merge(left).with_(groupable=True, kind=BOOL)

    def case(self, node: exp.Case, ctx: Context) -> Val:
        subject = self.operand(node.this, ctx) if node.this is not None else None
        results: list[Val] = []
        result_nodes: list[exp.Expr] = []
        for branch in node.args.get("ifs") or []:
            if subject is None:
                self.condition(branch.this, ctx)
            else:  # CASE x WHEN v: compares x with each v
                self.compare_kinds(node, [subject, self.operand(branch.this, ctx)])
            result_nodes.append(branch.args["true"])
        default = node.args.get("default")
        if default is not None:
            result_nodes.append(default)
        for result in result_nodes:
            results.append(self.operand(result, ctx) if not isinstance(result, exp.Null) else CONST)
        non_null = [
            v for v, n in zip(results, result_nodes, strict=True) if not isinstance(n, exp.Null)
        ]
        out = merge(*results).with_(kind=common_kind(results))
        if all(v.literal for v in results):
            domain: list[object] = []
            for v in results:
                domain.extend(v.domain or (None,))
            if default is None:
                domain.append(None)
            out = out.with_(groupable=True, domain=tuple(dict.fromkeys(domain)))
        return out.with_(
            bounds=union([v.bounds for v in non_null]) if non_null else None,
            integer=all(v.integer for v in non_null),
        )

    def variadic(self, node: exp.Expr, ctx: Context) -> Val:
        args = [a for a in node.iter_expressions()]
        vals = [self.operand(a, ctx) for a in args]
        self.compare_kinds(node, vals)  # they compare (or unify) their arguments' values
        out = merge(*vals).with_(integer=all(v.integer for v in vals), kind=common_kind(vals))
        bounds = [v.bounds for v in vals]
        if any(b is None for b in bounds) or not bounds:
            return out
        known = [b for b in bounds if b is not None]
        if isinstance(node, exp.Least):
            return out.with_(bounds=(min(b[0] for b in known), min(b[1] for b in known)))
        if isinstance(node, exp.Greatest):
            return out.with_(bounds=(max(b[0] for b in known), max(b[1] for b in known)))
        if isinstance(node, exp.Nullif):
            return out.with_(bounds=known[0], integer=vals[0].integer)
        return out.with_(bounds=union(list(bounds)))  # COALESCE

    def unary_numeric(self, node: exp.Expr, ctx: Context) -> Val:
        val = self.operand(node.this, ctx)
        digits = node.args.get("decimals")
        for extra in node.iter_expressions():
            if extra is not node.this:
                self.literal_only(extra, ctx, "the number of digits")
        if not val.literal:
            self.may_raise(node, (val,), numeric=True)
        out = val.with_(domain=None, literal=val.literal, kind=NUMBER)
        # ROUND(x, d) with d > 0 keeps a fraction: an integer only without positive digits.
        places = _literal_number(digits) if digits is not None else 0.0
        whole = places is not None and places <= 0
        if val.bounds is None:
            return out.with_(integer=val.integer or (whole and not isinstance(node, exp.Abs)))
        lo, hi = val.bounds
        if isinstance(node, exp.Abs):
            low = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
            return out.with_(bounds=(low, max(abs(lo), abs(hi))))
        if not whole:
            return out.with_(bounds=(math.floor(lo), math.ceil(hi)))
        return out.with_(bounds=(math.floor(lo), math.ceil(hi)), integer=True)

    def cast(self, node: exp.Cast, ctx: Context) -> Val:
        val = self.operand(node.this, ctx)
        target = node.to
        if target.this not in fn.CAST_TYPES or (
            target.expressions and target.this not in (exp.DataType.Type.DECIMAL,)
        ):
            self.flag("forbidden_function", node, f"CAST to {target.sql('duckdb')} is not allowed")
        elif target.this == exp.DataType.Type.DECIMAL and _decimal_precision(target) > 18:
            # Sums of DECIMAL(p, s) are DECIMAL(38, s): with p <= 18 no realistic sum overflows.
            self.flag(
                "forbidden_function", node, "DECIMAL precision above 18 is not allowed (overflow)"
            )
        if not val.literal:
            # A cast that can fail (text to number or time, narrowing) becomes TRY_CAST: NULL
            # instead of an error. Casts of literals fail or succeed for every dataset alike.
            self.totality.try_cast(node)
        if target.this in exp.DataType.NUMERIC_TYPES:
            integer = target.this in exp.DataType.INTEGER_TYPES
            return val.with_(integer=val.integer or integer, domain=None, kind=NUMBER)
        if target.this in (
            exp.DataType.Type.VARCHAR,
            exp.DataType.Type.TEXT,
            exp.DataType.Type.CHAR,
        ):
            return val.with_(bounds=None, integer=False, kind=TEXT)
        kind = BOOL if target.this == exp.DataType.Type.BOOLEAN else TIME
        return val.with_(bounds=None, integer=False, domain=None, kind=kind)

    def date_function(self, node: exp.Expr, ctx: Context) -> Val:
        unit = node.args.get("unit")
        if isinstance(node, exp.Anonymous):
            unit = node.expressions[0] if node.expressions else None
        if isinstance(unit, exp.Expr) and not isinstance(unit, exp.Var):
            self.literal_only(unit, ctx, "a date part or unit")
        vals = [
            self.operand(child, ctx)
            for child in node.iter_expressions()
            if not isinstance(child, exp.Var) and child is not unit
        ]
        number = isinstance(node, exp.DateDiff | exp.Extract | exp.TimestampDiff | exp.Anonymous)
        if not isinstance(node, exp.Extract | exp.Anonymous) and not _bounded_difference(node):
            # Date arithmetic and differences can leave the engine's range of times.
            self.may_raise(node, tuple(vals), numeric=False)
        return merge(*vals).with_(integer=number, kind=NUMBER if number else TIME)

    def anonymous(self, node: exp.Anonymous, ctx: Context) -> Val:
        if fn.function_name(node) not in fn.ANONYMOUS_ALLOWED:
            self.flag(
                "forbidden_function", node, f"function {fn.function_name(node)}() is not allowed"
            )
            return Val(groupable=False)
        return self.date_function(node, ctx).with_(integer=True)

    def string_function(self, node: exp.Expr, ctx: Context) -> Val:
        vals = [self.operand(child, ctx) for child in node.iter_expressions()]
        return merge(*vals).with_(domain=None, kind=TEXT)

    def interval(self, node: exp.Interval, ctx: Context) -> Val:
        if node.this is None:
            return CONST.with_(kind=INTERVAL)
        val = self.operand(node.this, ctx)
        if not val.literal:
            self.flag(_NON_TOTAL, node, "an INTERVAL amount must be a literal or a parameter")
        return merge(val).with_(kind=INTERVAL)

    def paren(self, node: exp.Paren, ctx: Context) -> Val:
        return self.eval(node.this, ctx)

    def placeholder(self, node: exp.Expr, ctx: Context) -> Val:
        self.flag("unbound_parameter", node, "parameter has no value")
        return CONST

    def star(self, node: exp.Expr, ctx: Context) -> Val:
        self.flag("star", node, "'*' is not allowed; name the columns")
        return Val(groupable=False)

    def subquery(self, node: exp.Expr, ctx: Context) -> Val:
        assert self.subquery_hook is not None
        if isinstance(node, exp.Exists):
            self.subquery_hook(node.this, ctx, "exists")
            return Val(kind=BOOL)
        # A scalar subquery's value is a function of the outer values it reads: one that reads
        # a personal metric is a metric (never a group key), whatever table it looks up.
        return self.subquery_hook(
            node.this if isinstance(node, exp.Subquery) else node, ctx, "scalar"
        )

    # --- aggregates and windows ----------------------------------------------------------------
    def aggregate(self, node: exp.Expr, ctx: Context) -> Val:
        if not ctx.aggregates:
            self.flag(
                "misplaced_aggregate",
                node,
                "aggregates belong in a SELECT that groups by pid (or in the release)",
            )
            return Val(groupable=False)
        return self.aggregate_value(node, ctx)

    def aggregate_value(self, node: exp.Expr, ctx: Context) -> Val:
        inner_ctx = replace(ctx, aggregates=False, windows=False)
        if isinstance(node, exp.Filter):
            self.condition(node.expression.this, inner_ctx)
            return self.aggregate_value(node.this, ctx)
        if isinstance(node, exp.IgnoreNulls | exp.RespectNulls):
            return self.aggregate_value(node.this, ctx)
        if not fn.is_person_local_aggregate(node):
            self.flag("disallowed_aggregate", node, f"{fn.function_name(node)}() is not allowed")
            return Val(groupable=False)
        count_bounds = (0.0, ctx.row_cap) if ctx.row_cap else None
        if isinstance(node, exp.Count):
            arg = node.this
            if isinstance(arg, exp.Distinct):
                for e in arg.expressions:
                    if not self.eval(e, inner_ctx).pid:
                        self.operand(e, inner_ctx)
            elif arg is not None and not isinstance(arg, exp.Star):
                self.operand(arg, inner_ctx)
            return Val(bounds=count_bounds, integer=True, aggregate=True, kind=NUMBER)
        args = list(node.iter_expressions())
        vals = [self.operand(a, inner_ctx) for a in args if not isinstance(a, exp.Distinct)]
        for a in args:
            if isinstance(a, exp.Distinct):
                self.flag(
                    "disallowed_aggregate", node, "DISTINCT inside this aggregate is not allowed"
                )
        if isinstance(node, exp.AnyValue):
            self.totality.any_value_as_min(node)  # one of the values, chosen by value
        if isinstance(node, exp.ArgMin | exp.ArgMax):
            self.totality.break_arg_ties(node)  # among rows that tie, chosen by value
        if isinstance(node, exp.LogicalOr | exp.LogicalAnd):
            return merge(*vals).with_(aggregate=True, groupable=True, bounds=None, kind=BOOL)
        first = vals[0] if vals else Val()
        integer = first.integer and not isinstance(node, exp.Avg)
        kind = NUMBER if isinstance(node, exp.Sum | exp.Avg) else first.kind
        return first.with_(aggregate=True, integer=integer, literal=False, kind=kind)

    def window(self, node: exp.Window, ctx: Context) -> Val:
        if not ctx.windows:
            self.flag("forbidden_syntax", node, "window functions belong in person-local steps")
            return Val(groupable=False)
        inner_ctx = replace(ctx, aggregates=False, windows=False)
        if ctx.scope.personal and isinstance(_window_target(node.this), fn.ROW_ORDER_WINDOWS):
            self.totality.break_ties(node, _scope_columns(ctx.scope))
        partition = node.args.get("partition_by") or []
        partition_vals = [self.eval(item, inner_ctx) for item in partition]
        if ctx.scope.personal and not any(v.owner for v in partition_vals):
            if any(v.pid for v in partition_vals):
                self.flag(
                    "nullable_person_key",
                    node,
                    "this pid is NULL for unmatched rows of a LEFT or ASOF join and would pool "
                    "them into one window; PARTITION BY the pid of the join's left side",
                )
            else:
                self.flag(
                    "window_not_partitioned_by_pid", node, "window functions must PARTITION BY pid"
                )
        order = node.args.get("order")
        if order is not None:
            for ordered in order.expressions:
                self.operand(ordered.this, inner_ctx)
        spec = node.args.get("spec")
        if spec is not None:
            for bound in ("start", "end"):
                value = spec.args.get(bound)
                if isinstance(value, exp.Expr) and not isinstance(value, exp.Var):
                    self.literal_only(value, inner_ctx, "a window frame offset")
        func = node.this
        if isinstance(func, fn.RANKING_WINDOWS):
            cap = ctx.row_cap
            return Val(bounds=(1.0, cap) if cap else None, integer=True, kind=NUMBER)
        target = func.this if isinstance(func, exp.IgnoreNulls | exp.RespectNulls) else func
        if isinstance(target, fn.VALUE_WINDOWS):
            args = list(target.iter_expressions())
            vals = [self.operand(args[0], inner_ctx)] if args else []
            offset = target.args.get("offset")
            for extra in args[1:]:
                if extra is offset:
                    self.literal_only(extra, inner_ctx, "a LAG or LEAD offset")
                else:  # the default, unified with the value
                    self.compare_kinds(func, [*vals, self.operand(extra, inner_ctx)])
            return vals[0].with_(domain=None) if vals else Val()
        if fn.is_person_local_aggregate(target) or isinstance(target, exp.Filter):
            return self.aggregate_value(func, replace(ctx, aggregates=True)).with_(aggregate=False)
        self.flag(
            "forbidden_function", func, f"window function {fn.function_name(func)}() is not allowed"
        )
        return Val(groupable=False)


def _window_target(func: exp.Expr) -> exp.Expr:
    return func.this if isinstance(func, exp.IgnoreNulls | exp.RespectNulls) else func


def _scope_columns(scope: Scope) -> list[exp.Column]:
    """Every column the FROM items of ``scope`` yield, qualified (ambiguous ones left out)."""
    return [
        exp.column(name, table=source.alias)
        for source in scope.sources.values()
        for name in source.relation.columns
        if name not in source.relation.ambiguous
    ]


def _decimal_precision(target: exp.DataType) -> int:
    if not target.expressions:
        return 18  # DuckDB's default DECIMAL is DECIMAL(18, 3)
    first = target.expressions[0]
    value = first.this if isinstance(first, exp.DataTypeParam) else first
    number = _literal_number(value) if isinstance(value, exp.Expr) else None
    return int(number) if number is not None else 39


def _bounded_difference(node: exp.Expr) -> bool:
    """A date difference in units finer than a millisecond can overflow 64 bits
    across the engine's range of times; in coarser units it cannot."""
    if not isinstance(node, exp.DateDiff | exp.TimestampDiff):
        return False
    unit = node.args.get("unit")
    name = (unit.name if isinstance(unit, exp.Expr) else str(unit or "day")).upper()
    return name not in ("MICROSECOND", "MICROSECONDS", "NANOSECOND", "NANOSECONDS", "US", "NS")


def _literal_number(node: exp.Expr) -> float | None:
    inner = node.this if isinstance(node, exp.Paren) else node
    if isinstance(inner, exp.Neg):
        value = _literal_number(inner.this)
        return -value if value is not None else None
    if isinstance(inner, exp.Literal) and not inner.is_string:
        return float(inner.this)
    return None


_Handler = Callable[[ExpressionChecker, exp.Expr, Context], Val]

_HANDLERS: dict[type[exp.Expr], _Handler] = {
    exp.Column: ExpressionChecker.column,  # type: ignore[dict-item]
    exp.Literal: ExpressionChecker.literal,  # type: ignore[dict-item]
    exp.Boolean: lambda self, node, ctx: CONST.with_(domain=(bool(node.this),), kind=BOOL),
    exp.Null: lambda self, node, ctx: CONST,
    exp.Paren: ExpressionChecker.paren,  # type: ignore[dict-item]
    exp.Neg: ExpressionChecker.neg,  # type: ignore[dict-item]
    exp.Is: ExpressionChecker.is_,  # type: ignore[dict-item]
    exp.In: ExpressionChecker.in_,  # type: ignore[dict-item]
    exp.Between: ExpressionChecker.between,  # type: ignore[dict-item]
    exp.Case: ExpressionChecker.case,  # type: ignore[dict-item]
    exp.Cast: ExpressionChecker.cast,  # type: ignore[dict-item]
    exp.TryCast: ExpressionChecker.cast,  # type: ignore[dict-item]
    exp.Interval: ExpressionChecker.interval,  # type: ignore[dict-item]
    exp.Anonymous: ExpressionChecker.anonymous,  # type: ignore[dict-item]
    exp.Placeholder: ExpressionChecker.placeholder,
    exp.Star: ExpressionChecker.star,
    exp.Window: ExpressionChecker.window,  # type: ignore[dict-item]
    exp.Exists: ExpressionChecker.subquery,
    exp.Subquery: ExpressionChecker.subquery,
    exp.Filter: ExpressionChecker.aggregate,
    exp.IgnoreNulls: ExpressionChecker.aggregate,
    exp.Coalesce: ExpressionChecker.variadic,
    exp.Least: ExpressionChecker.variadic,
    exp.Greatest: ExpressionChecker.variadic,
    exp.Nullif: ExpressionChecker.variadic,
    exp.Abs: ExpressionChecker.unary_numeric,
    exp.Try: lambda self, node, ctx: self.eval(node.this, ctx),
    exp.Like: ExpressionChecker.like,
    exp.ILike: ExpressionChecker.like,
    exp.Not: ExpressionChecker.logical,
    exp.And: ExpressionChecker.logical,
    exp.Or: ExpressionChecker.logical,
}

_FAMILY_HANDLERS: tuple[tuple[tuple[type[exp.Expr], ...], _Handler], ...] = (
    (fn.ARITHMETIC, ExpressionChecker.arithmetic),
    (fn.COMPARISONS, ExpressionChecker.comparison),
    (fn.ROUNDING, ExpressionChecker.unary_numeric),
    (fn.DATE_FUNCTIONS, ExpressionChecker.date_function),
    (fn.STRING_FUNCTIONS, ExpressionChecker.string_function),
    (fn.PERSON_LOCAL_AGGREGATES, ExpressionChecker.aggregate),
    ((exp.AggFunc,), ExpressionChecker.aggregate),
    ((exp.Query,), ExpressionChecker.subquery),
)
