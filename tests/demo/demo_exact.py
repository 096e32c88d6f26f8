"""Helpers for the demo tests: the exact-answer path and parameter binding.

The "exact answer" path: the generated CSVs loaded into DuckDB as tables named like the datasets,
with ``pid`` = SHA-256 hex of the normalized email, consent applied for the template's purpose,
identifier, consent and blocked columns dropped; templates run as plain SQL with their default
parameters bound as literals (through sqlglot's AST, never by string formatting).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from cleanroom.types import ParamSpec

QUERIES = Path(__file__).resolve().parents[2] / "queries"
TEMPLATE_FILES = sorted(QUERIES.glob("*.sql"))
SHIPPED = (
    "exposed_conversion", "last_touch_attribution", "roas", "incrementality_lift",
    "audience_overlap", "reach_frequency", "new_to_brand", "time_to_conversion",
    "channel_overlap_reach", "audience_size",
)  # fmt: skip


def _literal(type_: str, value: Any) -> exp.Expr:
    if type_ == "str":
        return exp.Literal.string(value)
    if type_ in ("int", "float"):
        return exp.Literal.number(value)
    if type_ == "bool":
        return exp.Boolean(this=bool(value))
    if type_ == "date":
        return exp.cast(exp.Literal.string(dt.date.fromisoformat(value).isoformat()), "DATE")
    text = dt.datetime.fromisoformat(value).isoformat(sep=" ")
    return exp.cast(exp.Literal.string(text), "TIMESTAMP")


def bind_parameters(sql: str, params: tuple[ParamSpec, ...], values: dict[str, Any]) -> str:
    """The template with every ``:name`` replaced by a typed literal node (DuckDB SQL)."""
    types = {p.name: p.type for p in params}
    tree = sqlglot.parse_one(sql, read="duckdb")
    for node in list(tree.find_all(exp.Placeholder)):
        type_, value = types[node.name], values[node.name]
        parent = node.parent
        if type_.startswith("list["):
            assert isinstance(parent, exp.In), "list parameters are used as IN lists"
            parent.set("field", None)
            parent.set("expressions", [_literal(type_[5:-1], v) for v in value])
        else:
            node.replace(_literal(type_, value))
    return tree.sql("duckdb")
