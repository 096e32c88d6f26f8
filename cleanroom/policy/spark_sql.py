"""Spark SQL for a rewritten template, with DuckDB's semantics where the two engines differ.

sqlglot transpiles syntax; a few functions mean different things on the two engines, so the
rewrite's DuckDB tree is adjusted before it is generated as Spark SQL:

- ``DATE_DIFF(unit, a, b)`` counts unit boundaries crossed in DuckDB (``'week'``: whole days
  divided by 7); Spark's ``DATEDIFF(unit, a, b)`` counts whole elapsed units.
- ``INTERVAL (n) DAY`` (a parameter bound in parentheses) is DuckDB-only syntax; Spark takes
  ``INTERVAL 'n' DAY`` or an interval times a number.
- ``EXTRACT``/``DATE_PART``: DuckDB's ``dow`` is 0 for Sunday (Spark's is 1), ``second`` is an
  integer (Spark's has the fraction), ``epoch`` is seconds; ``isodow``/``isoyear`` have other names.
- ``DATE_TRUNC`` of a date is a timestamp in DuckDB (Spark's ``TRUNC`` keeps a date).
- ``TRY(x)`` (the totality rewrite) is DuckDB-only: Spark runs ``x`` with ANSI mode off, where
  what would raise gives NULL instead; ``HASH`` (the caps' keyed hash) becomes ``XXHASH64``.

>>> import sqlglot
>>> tree = sqlglot.parse_one("SELECT DATE_DIFF('day', a, b + INTERVAL (14) DAY) AS d FROM t",
...     read="duckdb")
>>> print(spark_sql(tree))
SELECT DATEDIFF(CAST(b + INTERVAL '14' DAY AS DATE), CAST(a AS DATE)) AS d FROM t
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

# DuckDB unit spellings -> the canonical unit (plurals and aliases DuckDB accepts).
_UNIT_ALIASES = {
    "D": "DAY",
    "DAYS": "DAY",
    "H": "HOUR",
    "HOURS": "HOUR",
    "HR": "HOUR",
    "M": "MINUTE",
    "MIN": "MINUTE",
    "MINUTES": "MINUTE",
    "S": "SECOND",
    "SEC": "SECOND",
    "SECONDS": "SECOND",
    "W": "WEEK",
    "WEEKS": "WEEK",
    "MON": "MONTH",
    "MONTHS": "MONTH",
    "Y": "YEAR",
    "YEARS": "YEAR",
    "YR": "YEAR",
    "QUARTERS": "QUARTER",
    "MILLISECONDS": "MILLISECOND",
    "MS": "MILLISECOND",
    "MICROSECONDS": "MICROSECOND",
    "US": "MICROSECOND",
    "DAYOFMONTH": "DAY",
    "DAYOFYEAR": "DOY",
    "DAYOFWEEK": "DOW",
    "WEEKDAY": "DOW",
    "WEEKOFYEAR": "WEEK",
}
_MICROS = {"HOUR": 3_600_000_000, "MINUTE": 60_000_000, "SECOND": 1_000_000, "MILLISECOND": 1000}

# Spark expressions over placeholder columns __a / __b (parsed once, copied per use).
_DAY_DIFF = "DATEDIFF(CAST(__b AS DATE), CAST(__a AS DATE))"
_DIFFS = {
    "DAY": _DAY_DIFF,
    "WEEK": f"({_DAY_DIFF} DIV 7)",
    "MONTH": "((YEAR(__b) * 12 + MONTH(__b)) - (YEAR(__a) * 12 + MONTH(__a)))",
    "QUARTER": "((YEAR(__b) * 4 + QUARTER(__b)) - (YEAR(__a) * 4 + QUARTER(__a)))",
    "YEAR": "(YEAR(__b) - YEAR(__a))",
    **{
        unit: (
            # floor(micros / n) exactly, in integers: (x - pmod(x, n)) DIV n
            f"(((UNIX_MICROS(CAST(__b AS TIMESTAMP)) - PMOD(UNIX_MICROS(CAST(__b AS TIMESTAMP)), "
            f"{n})) DIV {n}) - ((UNIX_MICROS(CAST(__a AS TIMESTAMP)) - "
            f"PMOD(UNIX_MICROS(CAST(__a AS TIMESTAMP)), {n})) DIV {n}))"
        )
        for unit, n in _MICROS.items()
    },
}
_PARTS = {
    "DOW": "(DAYOFWEEK(__a) - 1)",
    "ISODOW": "(WEEKDAY(__a) + 1)",
    "SECOND": "SECOND(__a)",
    "EPOCH": "(UNIX_MICROS(CAST(__a AS TIMESTAMP)) / 1000000)",
    "MILLISECOND": "CAST(FLOOR(EXTRACT(SECOND FROM __a) * 1000) AS BIGINT)",
    "MICROSECOND": "CAST(FLOOR(EXTRACT(SECOND FROM __a) * 1000000) AS BIGINT)",
    "ISOYEAR": "EXTRACT(YEAROFWEEK FROM __a)",
}
_INTERVAL_UNITS = {"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"}
_INTERVAL_SCALED = {"WEEK": ("DAY", 7), "QUARTER": ("MONTH", 3)}
_PARSED: dict[str, exp.Expr] = {}


def unit_name(unit: exp.Expr | str | None) -> str:
    """The canonical upper-case unit of a DuckDB unit argument ('days' -> 'DAY').

    >>> unit_name(exp.Literal.string("days")), unit_name(exp.var("isodow"))
    ('DAY', 'ISODOW')
    """
    text = unit if isinstance(unit, str) else (unit.name if unit is not None else "")
    text = text.strip().upper()
    return _UNIT_ALIASES.get(text, text)


def _fill(template: str, **args: exp.Expr) -> exp.Expr:
    if template not in _PARSED:
        _PARSED[template] = sqlglot.parse_one(template, read="spark")
    tree = _PARSED[template].copy()
    # Every placeholder is a function argument, so the expression needs no parentheses.
    for column in list(tree.find_all(exp.Column)):
        if column.name.startswith("__"):
            column.replace(args[column.name[2:]].copy())
    return tree


def _date_diff(node: exp.DateDiff) -> exp.Expr | None:
    # Every DateDiff of a DuckDB-read tree is DuckDB's date_diff (sqlglot flags the boundary
    # units only, not 'week', which DuckDB counts as whole calendar days divided by 7).
    template = _DIFFS.get(unit_name(node.args.get("unit")))
    if template is None:
        return None  # an exotic unit: Spark's own DATEDIFF (or its error) stands
    return _fill(template, a=node.expression, b=node.this)


def _amount(node: exp.Expr) -> str | None:
    """The integer text of a literal interval amount (``14``, ``(14)``, ``'14'``, ``-3``)."""
    while isinstance(node, exp.Paren):
        node = node.this
    sign = ""
    if isinstance(node, exp.Neg):
        sign, node = "-", node.this
    if isinstance(node, exp.Literal) and node.this.strip().lstrip("-").isdigit():
        text = sign + node.this.strip()
        return str(int(text))
    return None


def _interval(node: exp.Interval) -> exp.Expr | None:
    unit = unit_name(node.args.get("unit"))
    factor = 1
    if unit in _INTERVAL_SCALED:
        unit, factor = _INTERVAL_SCALED[unit]
    if unit not in _INTERVAL_UNITS or node.this is None:
        return None
    amount = _amount(node.this)
    if amount is not None:
        return exp.Interval(this=exp.Literal.string(str(int(amount) * factor)), unit=exp.var(unit))
    one = exp.Interval(this=exp.Literal.string(str(factor)), unit=exp.var(unit))
    return exp.paren(exp.Mul(this=exp.paren(node.this.copy(), copy=False), expression=one))


def _extract(part: str, value: exp.Expr) -> exp.Expr:
    part = unit_name(part)
    template = _PARTS.get(part)
    if template is not None:
        return _fill(template, a=value)
    return exp.Extract(this=exp.var(part), expression=value.copy())


def _rewrite(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.DateDiff):
        return _date_diff(node)
    if isinstance(node, exp.Interval):
        return _interval(node)
    if isinstance(node, exp.Extract):
        return _extract(node.name, node.expression)
    if (
        isinstance(node, exp.Anonymous)
        and str(node.name).lower() in ("date_part", "datepart")
        and len(node.expressions) == 2
        and isinstance(node.expressions[0], exp.Literal)
        and node.expressions[0].is_string
    ):
        return _extract(node.expressions[0].this, node.expressions[1])
    if isinstance(node, exp.Anonymous) and str(node.name).upper() == "HASH":
        # The caps' keyed hash: Spark's HASH is 32-bit murmur3; XXHASH64 has DuckDB's width.
        return exp.Anonymous(this="XXHASH64", expressions=[e.copy() for e in node.expressions])
    if isinstance(node, exp.Try):
        # The session runs with ANSI mode off (engine.spark_engine): overflow, division by zero
        # and bad casts give NULL (or wrap) instead of failing, which is what TRY asks for.
        inner: exp.Expr = node.this
        return inner.copy()
    if isinstance(node, exp.DateTrunc):
        # DuckDB truncates a date to a timestamp; Spark's DATE_TRUNC does too (TRUNC would not).
        unit = exp.var(unit_name(node.args.get("unit")))
        return exp.TimestampTrunc(this=node.this.copy(), unit=unit)
    return None


def spark_sql(tree: exp.Expr, *, copy: bool = True) -> str:
    """Spark SQL for the DuckDB-dialect ``tree``, with DuckDB's semantics.

    ``tree`` is left untouched unless ``copy=False`` (for a caller that no longer needs it).
    """
    root = tree.copy() if copy else tree
    # Deepest nodes first, so a rewritten parent embeds its already rewritten arguments.
    for node in reversed(list(root.walk(bfs=False))):
        replacement = _rewrite(node)
        if replacement is None:
            continue
        if node is root:
            root = replacement
        else:
            node.replace(replacement)
    return root.sql(dialect="spark", comments=False, copy=False)  # ``root`` is private
