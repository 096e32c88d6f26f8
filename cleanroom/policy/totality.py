"""Totality: every accepted expression evaluates on every value one person could contribute.

The checker records, while it evaluates a template, each operation that can raise on some value
(integer overflow, integer division or modulo by zero, a cast of text to a number or a time, a
narrowing cast, date arithmetic leaving the engine's range, an implicit cast of text compared
with a number); :meth:`TotalityPlan.apply` then rewrites them, in the bound template's tree and
before any copy of it is taken, into total forms:

- ``CAST`` becomes ``TRY_CAST`` (NULL instead of an error);
- an operation over plain values runs under ``TRY(...)`` (DuckDB: an error becomes NULL; on
  Spark, ``TRY`` is dropped and the session runs with ANSI mode off, where the same operations
  return NULL or wrap instead of raising);
- an arithmetic operation over an aggregate or a window (which ``TRY`` cannot hold) computes its
  operands in DOUBLE, where overflow gives infinity and the release's clamp bounds it.

What cannot be made total is rejected by the checker (``non_total_expression``): data-dependent
interval amounts, window frame offsets, ``LAG``/``LEAD`` offsets, rounding digits and date units.

The same plan makes row-order windows deterministic: ``ROW_NUMBER``, ``LAG``, ``LEAD`` and
``FIRST_VALUE`` over rows that tie in their ``ORDER BY`` would pick a row by the engine's physical
order, which adding another person's rows can change. Every column of the window's FROM items is
appended to its ``ORDER BY`` as a tie-break: rows still tied are equal in every column, so which
one comes first cannot change any result. For the same reason ``ANY_VALUE(x)`` becomes
``MIN(x)`` (one of the values, chosen by value rather than by position).

>>> from sqlglot import parse_one
>>> tree = parse_one("SELECT CAST(a AS INT) + b AS c FROM t", read="duckdb")
>>> plan = TotalityPlan()
>>> plan.try_cast(tree.find(exp.Cast)); plan.wrap_in_try(tree.find(exp.Add))
>>> plan.apply()
>>> tree.sql("duckdb")
'SELECT TRY(TRY_CAST(a AS INT) + b) AS c FROM t'
"""

from __future__ import annotations

from sqlglot import exp

# Nodes TRY cannot hold (DuckDB refuses aggregates, windows and subqueries inside TRY).
_NOT_TRY_ABLE = (exp.AggFunc, exp.Window, exp.Query, exp.Subquery, exp.Exists, exp.Placeholder)


def try_able(node: exp.Expr) -> bool:
    """May ``node`` run under TRY (no aggregate, window or subquery inside it)?"""
    return not any(isinstance(n, _NOT_TRY_ABLE) for n in node.walk())


def tie_broken_key(value: exp.Expr, key: exp.Expr) -> exp.Expr:
    """The ordering key of ``ARG_MIN(value, key)`` (and ``ARG_MAX``) with ties broken by the
    value itself: ``(key, value IS NULL, value)``, NULL where ``key`` is (such rows are skipped,
    as before). Among rows that tie on ``key`` the engine's row order, which other people's rows
    can change, would otherwise pick the result."""
    fields = (("k", key), ("n", exp.Is(this=value.copy(), expression=exp.Null())), ("v", value))
    packed = exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier(name), expression=e.copy()) for name, e in fields
        ]
    )
    present = exp.Not(this=exp.Is(this=key.copy(), expression=exp.Null()))
    return exp.Case(ifs=[exp.If(this=present, true=packed)])


class TotalityPlan:
    """The rewrites that make a checked template total, applied once after checking."""

    def __init__(self) -> None:
        self._casts: list[exp.Cast] = []
        self._tries: list[exp.Expr] = []
        self._doubles: list[exp.Expr] = []
        self._ties: list[tuple[exp.Window, list[exp.Column]]] = []
        self._any_values: list[exp.AnyValue] = []
        self._arg_ties: list[exp.ArgMin | exp.ArgMax] = []

    def try_cast(self, node: exp.Cast) -> None:
        if not isinstance(node, exp.TryCast):
            self._casts.append(node)

    def wrap_in_try(self, node: exp.Expr) -> None:
        self._tries.append(node)

    def compute_in_double(self, node: exp.Expr) -> None:
        self._doubles.append(node)

    def break_ties(self, window: exp.Window, columns: list[exp.Column]) -> None:
        self._ties.append((window, columns))

    def any_value_as_min(self, node: exp.AnyValue) -> None:
        self._any_values.append(node)

    def break_arg_ties(self, node: exp.ArgMin | exp.ArgMax) -> None:
        self._arg_ties.append(node)

    def apply(self) -> None:
        """Rewrite the recorded nodes in place (their tree is the bound template's copy)."""
        for cast in self._casts:
            replacement = exp.TryCast(this=cast.this, to=cast.to)
            cast.replace(replacement)
            # A TRY or DOUBLE rewrite recorded for this node now applies to its replacement.
            self._tries = [replacement if n is cast else n for n in self._tries]
            self._doubles = [replacement if n is cast else n for n in self._doubles]
        for node in self._doubles:
            for key in ("this", "expression"):
                operand = node.args.get(key)
                if isinstance(operand, exp.Expr) and not try_able(operand):
                    double = exp.DataType.build("DOUBLE")
                    node.set(key, exp.TryCast(this=operand, to=double))
        for any_value in self._any_values:
            any_value.replace(exp.Min(this=any_value.this))
        for arg in self._arg_ties:
            arg.set("expression", tie_broken_key(arg.this, arg.expression))
        for window, columns in self._ties:
            order = window.args.get("order")
            if order is None:
                order = exp.Order(expressions=[])
                window.set("order", order)
            keys = [*order.expressions, *(exp.Ordered(this=c, nulls_first=True) for c in columns)]
            order.set("expressions", keys)
        for node in self._tries:
            if isinstance(node.parent, exp.Try):
                continue
            wrapper = exp.Try()
            node.replace(wrapper)  # keeps ``node`` itself: references into it stay valid
            wrapper.set("this", node)
