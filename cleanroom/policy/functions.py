"""Allowlists of functions and types (docs/template-language.md); everything else is rejected.

>>> is_person_local_aggregate(exp.Sum(this=exp.column("x"))), exp.Stddev in PERSON_LOCAL_AGGREGATES
(True, False)
"""

from __future__ import annotations

from sqlglot import exp

PERSON_LOCAL_AGGREGATES: tuple[type[exp.Expr], ...] = (
    exp.Count,
    exp.Sum,
    exp.Min,
    exp.Max,
    exp.Avg,
    exp.LogicalOr,
    exp.LogicalAnd,
    exp.AnyValue,
    exp.ArgMin,
    exp.ArgMax,
)
RANKING_WINDOWS: tuple[type[exp.Expr], ...] = (exp.RowNumber, exp.Rank, exp.DenseRank)
VALUE_WINDOWS: tuple[type[exp.Expr], ...] = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue)
# Windows whose value depends on the order of rows that tie in ORDER BY (the rewrite breaks the
# ties by every column, so the value cannot depend on the engine's, possibly other people's, row
# order). RANK/DENSE_RANK give ties equal ranks; LAST_VALUE's default frame ends at the last tie.
ROW_ORDER_WINDOWS: tuple[type[exp.Expr], ...] = (exp.RowNumber, exp.Lag, exp.Lead, exp.FirstValue)
COMPARISONS: tuple[type[exp.Expr], ...] = (
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
)
ARITHMETIC: tuple[type[exp.Expr], ...] = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv)
DATE_FUNCTIONS: tuple[type[exp.Expr], ...] = (
    exp.TimestampTrunc,
    exp.DateTrunc,
    exp.DateDiff,
    exp.Extract,
    exp.DateAdd,
    exp.DateSub,
    exp.TimestampAdd,
    exp.TimestampSub,
    exp.TimestampDiff,
)
STRING_FUNCTIONS: tuple[type[exp.Expr], ...] = (exp.Lower, exp.Upper, exp.Trim)
ROUNDING: tuple[type[exp.Expr], ...] = (exp.Round, exp.Floor, exp.Ceil)
# DuckDB functions sqlglot leaves as Anonymous that we accept, by lower-case name.
ANONYMOUS_ALLOWED = frozenset({"date_part", "datepart"})

CAST_TYPES = frozenset(
    {
        exp.DataType.Type.BOOLEAN,
        exp.DataType.Type.DATE,
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.TIMESTAMPNTZ,  # what sqlglot reads DuckDB's TIMESTAMP as
        exp.DataType.Type.TIMESTAMPTZ,
        exp.DataType.Type.VARCHAR,
        exp.DataType.Type.TEXT,
        exp.DataType.Type.CHAR,
    }
    | exp.DataType.NUMERIC_TYPES
)


def is_person_local_aggregate(node: exp.Expr) -> bool:
    return isinstance(node, PERSON_LOCAL_AGGREGATES)


def function_name(node: exp.Expr) -> str:
    """The name a person wrote (or sqlglot's canonical one) for messages."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__.lower()


def contains_aggregate(node: exp.Expr) -> bool:
    """Does ``node`` hold an aggregate of its own scope (not inside a window or a subquery)?"""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, exp.AggFunc):
            return True
        if isinstance(current, exp.Window | exp.Subquery | exp.Exists | exp.Query):
            continue
        stack.extend(current.iter_expressions())
    return False
