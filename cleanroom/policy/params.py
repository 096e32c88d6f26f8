"""Typed template parameters: checking values and building the literals bound into the AST.

Values become sqlglot literal nodes, never text spliced into SQL.

>>> literal_for("int", 14).sql()
'14'
>>> [e.sql() for e in list_literals("list[str]", ["a'b", "c"])]
["'a''b'", "'c'"]
>>> check_param_value("int", "14")
'must be an integer from -2147483648 to 2147483647'
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlglot import exp

from cleanroom.ranges import FLOAT_PARAMETER, INT_PARAMETER

MAX_LIST = 1000  # values in one list parameter
MAX_STR = 1000  # characters in one string value

# Stand-ins used to analyze a template before any run supplies values.
PLACEHOLDER_VALUES: dict[str, Any] = {
    "str": "x",
    "int": 0,
    "float": 0.0,
    "bool": True,
    "date": "2000-01-01",
    "timestamp": "2000-01-01T00:00:00",
    "list[str]": ["x"],
    "list[int]": [0],
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar_problem(type_: str, value: Any) -> str | None:
    if type_ == "str":
        if not isinstance(value, str):
            return "must be a string"
        if len(value) > MAX_STR:
            return f"must be at most {MAX_STR} characters"
        return None
    if type_ == "int":
        ok = _is_int(value) and INT_PARAMETER.contains(value)
        return None if ok else f"must be {INT_PARAMETER.describe()}"
    if type_ == "float":
        return None if FLOAT_PARAMETER.contains(value) else f"must be {FLOAT_PARAMETER.describe()}"
    if type_ == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if type_ in ("date", "timestamp"):
        if not isinstance(value, str):
            return f"must be an ISO-8601 {type_} string"
        try:
            if type_ == "date":
                dt.date.fromisoformat(value)
            else:
                dt.datetime.fromisoformat(value)
        except ValueError:
            return f"must be an ISO-8601 {type_} string"
        return None
    return f"has unknown type '{type_}'"


def check_param_value(type_: str, value: Any) -> str | None:
    """Why ``value`` does not fit ``type_`` (a phrase like 'must be an integer'), or None."""
    if type_.startswith("list["):
        if not isinstance(value, list | tuple) or not value:
            return "must be a non-empty list"
        if len(value) > MAX_LIST:
            return f"must have at most {MAX_LIST} values"
        inner = type_[5:-1]
        for item in value:
            if _scalar_problem(inner, item):
                return f"must be a list of {'strings' if inner == 'str' else 'integers'}"
        return None
    return _scalar_problem(type_, value)


def literal_for(type_: str, value: Any) -> exp.Expr:
    """A typed literal node for a checked scalar value."""
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


def list_literals(type_: str, values: Any) -> list[exp.Expr]:
    inner = type_[5:-1]
    return [literal_for(inner, v) for v in values]
