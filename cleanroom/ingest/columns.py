"""How each declared column is read, checked and typed, as DuckDB SQL.

Stored types by role:

- ``timestamp`` -> TIMESTAMP (UTC, naive). Text may be a date (``2024-05-01``) or an ISO timestamp;
  an offset or zone (``+02:00``, ``Z``, ``America/New_York``) is honoured and converted to UTC,
  no offset means UTC.
- ``metric`` -> by its declared ``type``: BIGINT for ``integer`` (the default; money in minor
  units stays exact, a fractional value is refused), DOUBLE for ``number``. The stored type is a
  function of the spec and never of the values: one person's value must not change how a
  template computes over everyone. NaN and infinities are refused. Values outside the declared
  bounds are kept: bounding is per person per group and happens at query time.
- ``dimension`` -> VARCHAR, or BIGINT when the declared public ``values`` are all integers (so a
  value compares equal to its declared domain). Blank text becomes NULL.
- ``consent`` -> BOOLEAN from true/false, 1/0, yes/no (any case). Blank means NULL (no consent).

A plan is a typed ``value`` (NULL where the file has no value *or* an unreadable one) and a
``present`` flag (the file has a non-blank value). A row is bad exactly where ``present`` holds
and the value is NULL (problem ``kind``) or, for DOUBLE and TIMESTAMP, not finite
(``finite_kind``). The fast path tests that in one combined flag; the error path (``validate``)
tests each problem separately to name it and find its first row.
"""

from __future__ import annotations

from dataclasses import dataclass

from cleanroom.errors import DatasetInvalid
from cleanroom.ingest.identifiers import blank, quote, stripped
from cleanroom.specs import ColumnSpec

PROBLEMS = {
    "not_timestamp": "is not a date or timestamp",
    "not_number": "is not a number",
    "not_finite": "is NaN or infinite (metrics must be finite numbers)",
    "not_integer": "is not an integer (the declared values are integers)",
    "not_whole": (
        "is not a whole number that fits a 64-bit integer (the metric's type is integer; "
        'declare "type": "number" for fractional values)'
    ),
    "not_boolean": "is not a consent flag (true/false, 1/0 or yes/no)",
    "out_of_range": "does not fit a 64-bit integer",
}

_SMALL_INTS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")
_BIG_INTS = ("UBIGINT", "HUGEINT", "UHUGEINT")
_FLOATS = ("FLOAT", "DOUBLE", "REAL")
_TIMES = ("DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME")
_TEXTUAL = (*_SMALL_INTS, *_BIG_INTS, *_FLOATS, *_TIMES, "BOOLEAN", "UUID", "TIME", "DECIMAL")
_INTEGER_RE = "'\\s*[+-]?[0-9]+\\s*'"
_TRUE = "('true', '1', 'yes')"
_FALSE = "('false', '0', 'no')"


@dataclass(frozen=True)
class Check:
    """TRUE on a row of ``column`` whose value has problem ``kind`` (a key of PROBLEMS)."""

    column: str
    kind: str
    sql: str

    def problem(self, row: int) -> str:
        return f"column '{self.column}': the value at row {row} {PROBLEMS[self.kind]}"


@dataclass(frozen=True)
class ColumnPlan:
    """The stored expression of one declared column, and what must hold for it."""

    name: str
    value_sql: str  # the typed, stored value
    present_sql: str  # TRUE where the file holds a non-blank value
    kind: str = "not_number"  # the problem where present but the value is NULL
    finite_kind: str | None = None  # the problem where the value is not finite (DOUBLE, TIMESTAMP)
    # An integer metric: its DOUBLE reading, so that the error path tells a value that is no
    # number at all (``not_number``) from a number that is not whole (``kind``).
    reading_sql: str | None = None

    def checks(self) -> tuple[Check, ...]:
        """One check per problem, over the full-precision value (the error path)."""
        missing = f"({self.present_sql} AND ({self.value_sql}) IS NULL)"
        if self.reading_sql is not None:
            unread = f"({self.present_sql} AND ({self.reading_sql}) IS NULL)"
            return (
                Check(self.name, "not_number", unread),
                Check(self.name, self.kind, f"({missing} AND NOT {unread})"),
            )
        out = [Check(self.name, self.kind, missing)]
        if self.finite_kind is not None:
            out.append(Check(self.name, self.finite_kind, f"(NOT isfinite({self.value_sql}))"))
        return tuple(out)

    def bad_sql(self, value_alias: str, present_alias: str) -> str:
        """TRUE where the row cannot be stored, over the already computed value and flag."""
        extra = f" OR NOT isfinite({value_alias})" if self.finite_kind is not None else ""
        return f"({present_alias} AND ({value_alias} IS NULL{extra}))"


def _base(source_type: str) -> str:
    upper = source_type.upper()
    return "TIMESTAMPTZ" if upper.startswith("TIMESTAMP WITH TIME ZONE") else upper.split("(")[0]


def _decimal_scale(source_type: str) -> int:
    inside = source_type[source_type.index("(") + 1 : source_type.index(")")]
    return int(inside.split(",")[1])


def _type_error(spec: ColumnSpec, source_type: str, holds: str) -> DatasetInvalid:
    return DatasetInvalid(
        f"column '{spec.name}' has type {source_type} in the file, which cannot hold {holds}",
        column=spec.name,
    )


def _integer_plan(spec: ColumnSpec, col: str, source_type: str) -> ColumnPlan | None:
    """BIGINT from an integer-typed (or integral decimal) source; None for other types."""
    base = _base(source_type)
    present = f"({col} IS NOT NULL)"
    if base in _SMALL_INTS:
        return ColumnPlan(spec.name, f"CAST({col} AS BIGINT)", present)
    if base in _BIG_INTS or (base == "DECIMAL" and _decimal_scale(source_type) == 0):
        return ColumnPlan(spec.name, f"try_cast({col} AS BIGINT)", present, "out_of_range")
    return None


def _timestamp_plan(spec: ColumnSpec, col: str, source_type: str) -> ColumnPlan:
    base = _base(source_type)
    if base == "VARCHAR":
        present = f"(NOT {blank(col)})"
        # The cast refuses a bare date padded with spaces: strip only where it failed.
        parsed = (
            f"coalesce(try_cast({col} AS TIMESTAMPTZ), try_cast({stripped(col)} AS TIMESTAMPTZ))"
        )
        value = f"CASE WHEN {present} THEN timezone('UTC', {parsed}) END"
    elif base == "TIMESTAMPTZ":
        present, value = f"({col} IS NOT NULL)", f"timezone('UTC', {col})"
    elif base in _TIMES:
        present, value = f"({col} IS NOT NULL)", f"CAST({col} AS TIMESTAMP)"
    else:
        raise _type_error(spec, source_type, "dates or timestamps")
    return ColumnPlan(spec.name, value, present, "not_timestamp", "not_timestamp")


def _metric_plan(spec: ColumnSpec, col: str, source_type: str) -> ColumnPlan:
    base = _base(source_type)
    textual = base == "VARCHAR"
    present = f"(NOT {blank(col)})" if textual else f"({col} IS NOT NULL)"
    if spec.number_type == "number":
        if textual:
            value = f"CASE WHEN {present} THEN try_cast({col} AS DOUBLE) END"
        elif base in (*_SMALL_INTS, *_BIG_INTS, *_FLOATS, "DECIMAL"):
            value = f"CAST({col} AS DOUBLE)"
        else:
            raise _type_error(spec, source_type, "numbers")
        return ColumnPlan(spec.name, value, present, "not_number", "not_finite")
    integer_plan = _integer_plan(spec, col, source_type)
    if integer_plan is not None:
        return integer_plan
    if not textual and base not in (*_FLOATS, "DECIMAL"):
        raise _type_error(spec, source_type, "numbers")
    # A whole number only: the BIGINT cast rounds 12.5, so it must equal the DOUBLE reading
    # (NaN, infinities and values beyond 64 bits have no BIGINT reading and are refused too).
    number, integer = f"try_cast({col} AS DOUBLE)", f"try_cast({col} AS BIGINT)"
    value = f"CASE WHEN {present} AND {integer} = {number} THEN {integer} END"
    return ColumnPlan(spec.name, value, present, "not_whole", reading_sql=number)


def _dimension_plan(spec: ColumnSpec, col: str, source_type: str) -> ColumnPlan:
    base = _base(source_type)
    integer_domain = spec.values is not None and all(isinstance(v, int) for v in spec.values)
    if integer_domain:
        if base == "VARCHAR":
            present = f"(NOT {blank(col)})"
            shaped = f"regexp_full_match({col}, {_INTEGER_RE})"
            value = f"CASE WHEN {present} AND {shaped} THEN try_cast({col} AS BIGINT) END"
            return ColumnPlan(spec.name, value, present, "not_integer")
        integer_plan = _integer_plan(spec, col, source_type)
        if integer_plan is None:
            raise _type_error(spec, source_type, "the integer values this column declares")
        return integer_plan
    if base == "VARCHAR":
        present = f"(NOT {blank(col)})"
        return ColumnPlan(spec.name, f"CASE WHEN {present} THEN {col} END", present)
    if base in (*_TEXTUAL, "TIMESTAMPTZ"):
        return ColumnPlan(spec.name, f"CAST({col} AS VARCHAR)", f"({col} IS NOT NULL)")
    raise _type_error(spec, source_type, "dimension values")


def _consent_plan(spec: ColumnSpec, col: str, source_type: str) -> ColumnPlan:
    base = _base(source_type)
    present = f"({col} IS NOT NULL)"
    if base == "BOOLEAN":
        return ColumnPlan(spec.name, col, present, "not_boolean")
    if base == "VARCHAR":
        present = f"(NOT {blank(col)})"
        word, padded = f"lower({col})", f"lower({stripped(col)})"
        value = (
            f"CASE WHEN {word} IN {_TRUE} THEN TRUE WHEN {word} IN {_FALSE} THEN FALSE "
            f"WHEN {padded} IN {_TRUE} THEN TRUE WHEN {padded} IN {_FALSE} THEN FALSE END"
        )
    elif base in (*_SMALL_INTS, *_BIG_INTS):
        value = f"CASE WHEN {col} = 1 THEN TRUE WHEN {col} = 0 THEN FALSE END"
    else:
        raise _type_error(spec, source_type, "consent flags")
    return ColumnPlan(spec.name, value, present, "not_boolean")


def column_plan(spec: ColumnSpec, source_column: str, source_type: str) -> ColumnPlan:
    """The plan for a stored (not identifier, not blocked) column read from the file's
    column ``source_column`` of DuckDB type ``source_type``.

    >>> plan = column_plan(ColumnSpec("amount", "metric", bounds=(0, 10)), "Amount", "VARCHAR")
    >>> [c.kind for c in plan.checks()]
    ['not_number', 'not_whole']
    >>> spec = ColumnSpec("weight", "metric", bounds=(0, 10), number_type="number")
    >>> [c.kind for c in column_plan(spec, "Weight", "VARCHAR").checks()]
    ['not_number', 'not_finite']
    """
    col = quote(source_column)
    if spec.role == "timestamp":
        return _timestamp_plan(spec, col, source_type)
    if spec.role == "metric":
        return _metric_plan(spec, col, source_type)
    if spec.role in ("dimension", "sensitive"):  # a sensitive column is stored as a dimension
        return _dimension_plan(spec, col, source_type)
    if spec.role == "consent":
        return _consent_plan(spec, col, source_type)
    raise DatasetInvalid(f"column '{spec.name}': role {spec.role} is not stored as a column")
