"""The console's dataset spec editor: a form that starts from the spec drafted from the file's
header (:mod:`cleanroom.services.spec_draft`) and turns back into a spec.

Every column shows the role the draft proposes and why, and must be confirmed by a person before
the spec is used: an unconfirmed column is a problem, so a guess is never applied silently. The
form holds only text; :func:`spec_from_form` turns it into the JSON spec the API takes, and the
spec parser (:class:`cleanroom.types.DatasetSpec`) stays the one judge of what is valid.

>>> from cleanroom.services.spec_draft import draft_spec_from_columns
>>> form = form_from_draft(draft_spec_from_columns("crm", [("email", None), ("segment", None)]))
>>> [(c.name, c.role, c.confirmed) for c in form.columns]
[('email', 'identifier', False), ('segment', 'dimension', False)]
>>> spec, problems = spec_from_form(form)
>>> [(p.column, p.message) for p in problems]  # doctest: +NORMALIZE_WHITESPACE
[('email', "column 'email': confirm its role (proposed: identifier)"),
 ('segment', "column 'segment': confirm its role (proposed: dimension)")]
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cleanroom.errors import DatasetProblem
from cleanroom.services.spec_draft import SpecDraft
from cleanroom.types import COLUMN_ROLES, DATASET_KINDS, METRIC_TYPES

ROLES = COLUMN_ROLES
NUMBER_TYPES = METRIC_TYPES
KINDS = DATASET_KINDS
DEFAULT_AGGREGATES = "SUM, AVG"


@dataclass(frozen=True)
class ColumnRow:
    """One column of the editor, every field as the form holds it (text)."""

    name: str
    role: str
    proposed: str  # the draft's role, shown until confirmed
    reason: str = ""
    confirmed: bool = False
    lo: str = ""
    hi: str = ""
    aggregates: str = DEFAULT_AGGREGATES
    number_type: str = "integer"
    values: str = ""  # a dimension's public domain, comma-separated
    purpose: str = ""  # a consent column's purpose


@dataclass(frozen=True)
class SpecForm:
    name: str
    kind: str
    retention_days: str = ""
    max_rows_per_user: str = ""
    purposes: str = "measurement"
    columns: tuple[ColumnRow, ...] = ()
    header_problems: tuple[str, ...] = field(default=())  # the draft's, about the header itself


def form_from_draft(draft: SpecDraft) -> SpecForm:
    """The editor as it first opens: the draft's proposals, none of them confirmed."""
    spec = draft.spec
    rows = []
    for name, col in spec.get("columns", {}).items():
        bounds = col.get("bounds")
        lo, hi = (str(bounds[0]), str(bounds[1])) if isinstance(bounds, list) else ("", "")
        rows.append(
            ColumnRow(
                name=name,
                role=col["role"],
                proposed=col["role"],
                reason=draft.reasons.get(name, ""),
                lo=lo,
                hi=hi,
                aggregates=", ".join(col.get("aggregates", [])) or DEFAULT_AGGREGATES,
                purpose=col.get("purpose", ""),
            )
        )
    personal = spec.get("kind") == "personal"
    return SpecForm(
        name=str(spec.get("name", "")),
        kind=str(spec.get("kind", "personal")),
        max_rows_per_user=str(spec.get("max_rows_per_user", "")) if personal else "",
        purposes=", ".join(spec.get("purposes", [])) if personal else "",
        columns=tuple(rows),
        header_problems=tuple(draft.problems),
    )


def form_from_request(posted: Mapping[str, str], draft: SpecForm) -> SpecForm:
    """The editor as the person left it: ``posted`` form fields over the ``draft``'s columns
    (the columns come from the file, never from the form)."""
    rows = []
    for i, row in enumerate(draft.columns):
        prefix = f"c{i}."

        def text(key: str, default: str, p: str = prefix) -> str:
            return posted.get(p + key, default).strip()

        role = text("role", row.role)
        rows.append(
            replace(
                row,
                role=role if role in ROLES else row.role,
                confirmed=posted.get(prefix + "confirm") == "yes",
                lo=text("lo", row.lo),
                hi=text("hi", row.hi),
                aggregates=text("aggregates", row.aggregates),
                number_type=text("type", row.number_type),
                values=text("values", row.values),
                purpose=text("purpose", row.purpose),
            )
        )
    return replace(
        draft,
        name=posted.get("name", draft.name).strip(),
        retention_days=posted.get("retention_days", draft.retention_days).strip(),
        max_rows_per_user=posted.get("max_rows_per_user", draft.max_rows_per_user).strip(),
        purposes=posted.get("purposes", draft.purposes).strip(),
        columns=tuple(rows),
    )


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _number(text: str) -> int | float | None:
    """A number typed into the form (``1_000`` and ``1,000`` are not numbers; ``1e6`` is)."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def _value(text: str) -> str | int | float:
    """A dimension value: a number when it reads as one, otherwise the text."""
    number = _number(text)
    return text if number is None else number


def _column_spec(row: ColumnRow, problems: list[DatasetProblem]) -> dict[str, Any]:
    def problem(message: str) -> None:
        problems.append(DatasetProblem(f"column '{row.name}': {message}", row.name))

    if not row.confirmed:
        problem(f"confirm its role (proposed: {row.proposed})")
    out: dict[str, Any] = {"role": row.role}
    if row.role == "metric":
        if row.number_type != "integer":
            out["type"] = row.number_type
        if row.lo or row.hi:
            lo, hi = _number(row.lo), _number(row.hi)
            if lo is None or hi is None:
                problem("bounds must be two numbers, the lowest and highest one person may add")
            else:
                out["bounds"] = [lo, hi]
        out["aggregates"] = [a.upper() for a in _split(row.aggregates)]
    elif row.role == "dimension" and row.values:
        out["values"] = [_value(v) for v in _split(row.values)]
    elif row.role == "consent":
        out["purpose"] = row.purpose
    return out


def spec_from_form(form: SpecForm) -> tuple[dict[str, Any], list[DatasetProblem]]:
    """The JSON spec the form describes, and what stops it from being used as it is (located by
    column). The spec parser checks the rest when the dataset is registered."""
    problems: list[DatasetProblem] = []
    columns = {row.name: _column_spec(row, problems) for row in form.columns}
    spec: dict[str, Any] = {"name": form.name, "kind": form.kind, "columns": columns}
    if form.retention_days:
        retention = _number(form.retention_days)
        if retention is None:
            problems.append(DatasetProblem("retention_days must be a whole number of days"))
        spec["retention_days"] = retention
    if form.kind == "personal":
        spec["purposes"] = _split(form.purposes)
        if form.max_rows_per_user:
            most = _number(form.max_rows_per_user)
            if most is None:
                problems.append(DatasetProblem("max_rows_per_user must be a whole number"))
            spec["max_rows_per_user"] = most
    return spec, problems


def spec_json(spec: Mapping[str, Any]) -> str:
    """The spec as the API and ``cleanroom datasets add`` take it, shown under the editor."""
    return json.dumps(spec, indent=2)
