"""The exact, unbounded baseline: a template's own SQL with its parameters bound as literals.

Binding goes through sqlglot's AST (typed literal nodes, list parameters expanded inside ``IN``),
never string formatting; the result is what a person would run by hand on plain DuckDB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from cleanroom.types import ParamSpec


def _literal(type_: str, value: Any) -> exp.Expr:
    if type_ == "str":
        return exp.Literal.string(str(value))
    if type_ in ("int", "float"):
        return exp.Literal.number(value)
    if type_ == "bool":
        return exp.Boolean(this=bool(value))
    if type_ == "date":
        return exp.cast(exp.Literal.string(dt.date.fromisoformat(value).isoformat()), "DATE")
    moment = dt.datetime.fromisoformat(value).isoformat(sep=" ")
    return exp.cast(exp.Literal.string(moment), "TIMESTAMP")


def bound_sql(sql: str, parameters: Sequence[ParamSpec], values: Mapping[str, Any]) -> str:
    """``sql`` (DuckDB dialect) with every ``:name`` replaced by its value (or default).

    >>> bound_sql("SELECT a FROM t WHERE b IN :ids AND c > :n",
    ...           [ParamSpec("ids", "list[str]"), ParamSpec("n", "int", 3, True)], {"ids": ["x"]})
    "SELECT a FROM t WHERE b IN ('x') AND c > 3"
    """
    declared = {p.name: p for p in parameters}
    tree = sqlglot.parse_one(sql, read="duckdb")
    for node in list(tree.find_all(exp.Placeholder)):
        spec = declared[str(node.this).lower()]
        value = values.get(spec.name, spec.default)
        if spec.type.startswith("list["):
            parent = node.parent
            if not isinstance(parent, exp.In):
                raise ValueError(f"list parameter {spec.name} is not used as an IN list")
            parent.set("field", None)
            parent.set("expressions", [_literal(spec.type[5:-1], v) for v in value])
        else:
            node.replace(_literal(spec.type, value))
    return tree.sql("duckdb")
