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
from cleanroom.policy.values import CONST, Val, add, div, finite, merge, mul, sub, union
from cleanroom.policy.violations import ViolationCollector


@dataclass(frozen=True)
class Context:
    scope: Scope
    aggregates: bool = False  # person-local aggregates allowed here (rollup SELECT/HAVING)
    windows: bool = False  # window functions allowed here
    row_cap: float | None = None  # rows per person of the relation (bounds COUNT)


# Checks a subquery (EXISTS or scalar); set by the query checker to avoid an import cycle.
SubqueryHook = Callable[[exp.Expr, Context, str], None]


class ExpressionChecker:
    """Evaluates expressions to :class:`Val`, recording every violation it meets."""

    def __init__(self, collector: ViolationCollector) -> None:
        self.collector = collector
        self.subquery_hook: SubqueryHook | None = None

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

        if found.outer:
            ctx.scope.outer_references = True
        # Qualify in place so the rewrite and the engine bind exactly what we checked.
        if node.args.get("table") is None:
            node.set("table", exp.to_identifier(found.alias))
        else:
            node.args["table"].set("this", found.alias)
        node.this.set("this", found.name)
        return found.val

    def literal(self, node: exp.Literal, ctx: Context) -> Val:
        if node.is_string:
            return CONST.with_(domain=(node.this,))
        number = float(node.this)
        if not math.isfinite(number):
            return CONST
        return CONST.with_(bounds=(number, number), integer=number.is_integer(), domain=(number,))

    def arithmetic(self, node: exp.Expr, ctx: Context) -> Val:
        left = self.operand(node.this, ctx)
        right = self.operand(node.expression, ctx)
        out = merge(left, right)
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
        bounds = (-val.bounds[1], -val.bounds[0]) if val.bounds else None
        return val.with_(bounds=bounds, domain=None)

    def comparison(self, node: exp.Expr, ctx: Context) -> Val:
        had_outer = ctx.scope.outer_references
        ctx.scope.outer_references = False
        left = self.eval(node.this, ctx)
        right = self.eval(node.expression, ctx)
        outer_here = ctx.scope.outer_references
        ctx.scope.outer_references = had_outer or outer_here
        if left.pid or right.pid:
            if isinstance(node, exp.EQ) and left.pid and right.pid:
                if outer_here:
                    ctx.scope.correlated_on_pid = True
                return Val()
            self.flag("pid_misuse", node, "pid may only be compared for equality with another pid")
            return Val(groupable=False)
        return merge(left, right).with_(groupable=True, domain=None)

    def is_(self, node: exp.Is, ctx: Context) -> Val:
        left = self.eval(node.this, ctx)
        if left.pid and isinstance(node.expression, exp.Null):
            return Val()
        if left.pid:
            self.flag("pid_misuse", node, "pid may only be tested with IS [NOT] NULL")
        self.eval(node.expression, ctx)
        return merge(left).with_(groupable=True)

    def logical(self, node: exp.Expr, ctx: Context) -> Val:
        vals = [self.condition(child, ctx) for child in node.iter_expressions()]
        return merge(*vals).with_(groupable=True)

    def like(self, node: exp.Expr, ctx: Context) -> Val:
        vals = [self.operand(child, ctx) for child in node.iter_expressions()]
        return merge(*vals).with_(groupable=True)

    def between(self, node: exp.Between, ctx: Context) -> Val:
        vals = [self.operand(child, ctx) for child in node.iter_expressions()]
        return merge(*vals).with_(groupable=True)

    def in_(self, node: exp.In, ctx: Context) -> Val:
        left = self.operand(node.this, ctx)
        query = node.args.get("query")
        if isinstance(query, exp.Subquery):
            query = query.this
        if query is not None:
            assert self.subquery_hook is not None
            self.subquery_hook(query, ctx, "in")
        for child in node.expressions:
            self.operand(child, ctx)
        field = node.args.get("field")
        if (field is not None and not isinstance(field, exp.Placeholder)) or node.args.get(
            "unnest"
        ):
            self.flag("forbidden_syntax", node, "IN takes a list of values or a subquery")
        return merge(left).with_(groupable=True)

    def case(self, node: exp.Case, ctx: Context) -> Val:
        if node.this is not None:
            self.operand(node.this, ctx)
        results: list[Val] = []
        result_nodes: list[exp.Expr] = []
        for branch in node.args.get("ifs") or []:
            self.condition(branch.this, ctx)
            result_nodes.append(branch.args["true"])
        default = node.args.get("default")
        if default is not None:
            result_nodes.append(default)
        for result in result_nodes:
            results.append(self.operand(result, ctx) if not isinstance(result, exp.Null) else CONST)
        non_null = [
            v for v, n in zip(results, result_nodes, strict=True) if not isinstance(n, exp.Null)
        ]
        out = merge(*results)
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
        out = merge(*vals).with_(integer=all(v.integer for v in vals))
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
        for extra in node.iter_expressions():
            if extra is not node.this:
                self.operand(extra, ctx)
        out = val.with_(domain=None, literal=False)
        if val.bounds is None:
            return out
        lo, hi = val.bounds
        if isinstance(node, exp.Abs):
            low = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
            return out.with_(bounds=(low, max(abs(lo), abs(hi))))
        return out.with_(bounds=(math.floor(lo), math.ceil(hi)), integer=True)

    def cast(self, node: exp.Cast, ctx: Context) -> Val:
        val = self.operand(node.this, ctx)
        target = node.to
        if target.this not in fn.CAST_TYPES or (
            target.expressions and target.this not in (exp.DataType.Type.DECIMAL,)
        ):
            self.flag("forbidden_function", node, f"CAST to {target.sql('duckdb')} is not allowed")
        if target.this in exp.DataType.NUMERIC_TYPES:
            integer = target.this in exp.DataType.INTEGER_TYPES
            return val.with_(integer=val.integer or integer, domain=None)
        if target.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT):
            return val.with_(bounds=None, integer=False)
        return val.with_(bounds=None, integer=False, domain=None)

    def date_function(self, node: exp.Expr, ctx: Context) -> Val:
        vals = [
            self.operand(child, ctx)
            for child in node.iter_expressions()
            if not isinstance(child, exp.Var)
        ]
        return merge(*vals).with_(integer=isinstance(node, exp.DateDiff | exp.Extract))

    def anonymous(self, node: exp.Anonymous, ctx: Context) -> Val:
        if fn.function_name(node) not in fn.ANONYMOUS_ALLOWED:
            self.flag(
                "forbidden_function", node, f"function {fn.function_name(node)}() is not allowed"
            )
            return Val(groupable=False)
        return self.date_function(node, ctx).with_(integer=True)

    def string_function(self, node: exp.Expr, ctx: Context) -> Val:
        vals = [self.operand(child, ctx) for child in node.iter_expressions()]
        return merge(*vals).with_(domain=None)

    def interval(self, node: exp.Interval, ctx: Context) -> Val:
        return merge(self.operand(node.this, ctx)) if node.this is not None else CONST

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
            return Val()
        self.subquery_hook(node.this if isinstance(node, exp.Subquery) else node, ctx, "scalar")
        return Val(groupable=True)

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
            return Val(bounds=count_bounds, integer=True, aggregate=True)
        args = list(node.iter_expressions())
        vals = [self.operand(a, inner_ctx) for a in args if not isinstance(a, exp.Distinct)]
        for a in args:
            if isinstance(a, exp.Distinct):
                self.flag(
                    "disallowed_aggregate", node, "DISTINCT inside this aggregate is not allowed"
                )
        if isinstance(node, exp.LogicalOr | exp.LogicalAnd):
            return merge(*vals).with_(aggregate=True, groupable=True, bounds=None)
        first = vals[0] if vals else Val()
        integer = first.integer and not isinstance(node, exp.Avg)
        return first.with_(aggregate=True, integer=integer, literal=False)

    def window(self, node: exp.Window, ctx: Context) -> Val:
        if not ctx.windows:
            self.flag("forbidden_syntax", node, "window functions belong in person-local steps")
            return Val(groupable=False)
        inner_ctx = replace(ctx, aggregates=False, windows=False)
        partition = node.args.get("partition_by") or []
        partition_has_pid = False
        for item in partition:
            if self.eval(item, inner_ctx).pid:
                partition_has_pid = True
        if ctx.scope.personal and not partition_has_pid:
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
                if isinstance(value, exp.Expr):
                    self.operand(value, inner_ctx)
        func = node.this
        if isinstance(func, fn.RANKING_WINDOWS):
            cap = ctx.row_cap
            return Val(bounds=(1.0, cap) if cap else None, integer=True)
        target = func.this if isinstance(func, exp.IgnoreNulls | exp.RespectNulls) else func
        if isinstance(target, fn.VALUE_WINDOWS):
            vals = [self.operand(a, inner_ctx) for a in target.iter_expressions()]
            return vals[0].with_(domain=None) if vals else Val()
        if fn.is_person_local_aggregate(target) or isinstance(target, exp.Filter):
            return self.aggregate_value(func, replace(ctx, aggregates=True)).with_(aggregate=False)
        self.flag(
            "forbidden_function", func, f"window function {fn.function_name(func)}() is not allowed"
        )
        return Val(groupable=False)


_Handler = Callable[[ExpressionChecker, exp.Expr, Context], Val]

_HANDLERS: dict[type[exp.Expr], _Handler] = {
    exp.Column: ExpressionChecker.column,  # type: ignore[dict-item]
    exp.Literal: ExpressionChecker.literal,  # type: ignore[dict-item]
    exp.Boolean: lambda self, node, ctx: CONST.with_(domain=(bool(node.this),)),
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
