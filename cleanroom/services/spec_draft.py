"""A first dataset spec drafted from a CSV or Parquet file's header (``cleanroom datasets
init-spec``): every column gets a proposed role and the reason for it, and the draft carries a
``review`` list that the spec parser refuses, so a proposal is never used without a person
reading it. Problems of the header (names the spec cannot use, no or several identifier
candidates) are all reported at once.

>>> draft = draft_spec_from_columns("crm", [("email", None), ("segment", None), ("Sales $", None)])
>>> print(*draft.problems)
column 'Sales $' cannot be used as a name: rename it to lower-case letters, digits and \
underscores (e.g. sales)
>>> draft.spec["columns"]["email"], draft.spec["columns"]["segment"]
({'role': 'identifier'}, {'role': 'dimension'})
>>> aged = draft_spec_from_columns("crm", [("email", None), ("age_band", None)])
>>> aged.spec["columns"]["age_band"]
{'role': 'sensitive'}
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cleanroom.errors import InvalidRequest
from cleanroom.types import NAME_RE, PID

_IDENTIFIER = re.compile(r"(^|_)(email|phone|msisdn)(_|$)|sha256|hashed")
_CONSENT = re.compile(r"^consent_([a-z][a-z0-9_]*)$")
_TIMESTAMP = re.compile(r"(_ts|_at|_time|_date|^date|^ts)$|timestamp")
_METRIC = re.compile(r"amount|cents|price|revenue|sales|spend|cost|units|quantity|qty|value")
_SENSITIVE = re.compile(r"(^|_)(age|gender|sex|ethnicity|race|religion|disability)(_|$)")
_BLOCKED = re.compile(r"postal|zip|address|name$|^name|birth|dob|ip_addr|device")
METRIC_TODO = "REVIEW: [lo, hi], one person's total per group"


@dataclass
class SpecDraft:
    spec: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # column -> why its role is proposed


_KINDS = ("timestamp", "bool", "number", "text")
_KEY_NAME = re.compile(r"(^|_)(id|code|key|sku|zone|band)$")
SNIFF_ROWS = 200  # data rows of a CSV read to tell numbers and dates from text
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")


def _column_type(arrow_type: Any) -> str | None:
    """``number``, ``timestamp``, ``bool`` or ``text`` for an Arrow type (or an already sniffed
    kind); None when nothing is known."""
    if arrow_type is None or arrow_type in _KINDS:
        return arrow_type  # type: ignore[no-any-return]
    text = str(arrow_type)
    if text.startswith(("timestamp", "date")):
        return "timestamp"
    if text == "bool":
        return "bool"
    if text.startswith(("int", "uint", "float", "double", "decimal")):
        return "number"
    return "text"


def _propose(name: str, kind: str | None) -> tuple[dict[str, Any], str]:
    match = _CONSENT.match(name)
    if match:
        return {"role": "consent", "purpose": match.group(1)}, "named consent_<purpose>"
    if _IDENTIFIER.search(name):
        return {"role": "identifier"}, "looks like an email or phone (hash it with cleanroom hash)"
    if _SENSITIVE.search(name) and kind != "timestamp":
        return {"role": "sensitive"}, "looks like a protected attribute: usable only for bias tests"
    if _BLOCKED.search(name):
        return {"role": "blocked"}, "may identify a person or a household: dropped at ingestion"
    if kind == "timestamp" or (kind in (None, "text") and _TIMESTAMP.search(name)):
        return {"role": "timestamp"}, "a date or time"
    if kind == "number" and _KEY_NAME.search(name):
        return {"role": "dimension"}, "numbers that name things (an id or a code): a key"
    if kind == "number" or (kind is None and _METRIC.search(name)):
        spec = {"role": "metric", "bounds": METRIC_TODO, "aggregates": ["SUM", "AVG"]}
        return spec, "a number to aggregate: set the bounds of one person's contribution"
    return {
        "role": "dimension"
    }, "a key to group or filter by (add 'values' if its domain is public)"


def draft_spec_from_columns(
    name: str, columns: Sequence[tuple[str, Any]], kind: str = "personal"
) -> SpecDraft:
    """The draft for columns ``(name, arrow type or None)``."""
    problems: list[str] = []
    if not NAME_RE.match(name):
        problems.append(f"dataset name '{name}' must be lower-case letters, digits, underscores")
    if not columns:
        problems.append("the file has no header (no columns)")
    seen: set[str] = set()
    specs: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    review: list[str] = []
    for column, arrow_type in columns:
        if column in seen:
            problems.append(f"column '{column}' appears twice")
            continue
        seen.add(column)
        if not NAME_RE.match(column) or column == PID or column.startswith("cr_"):
            fixed = re.sub(r"[^a-z0-9_]+", "_", column.lower()).strip("_") or "column"
            if column == PID or column.startswith("cr_"):
                problems.append(f"column '{column}' uses a reserved name: rename it")
            else:
                problems.append(
                    f"column '{column}' cannot be used as a name: rename it to lower-case "
                    f"letters, digits and underscores (e.g. {fixed})"
                )
            continue
        spec, why = _propose(column, _column_type(arrow_type))
        if kind == "reference" and spec["role"] not in ("dimension", "metric", "timestamp"):
            spec, why = {"role": "dimension"}, "a reference dataset has no personal columns"
        if kind == "reference" and spec["role"] == "metric":
            spec.pop("bounds")
        specs[column] = spec
        reasons[column] = why
        review.append(f"{column}: {spec['role']} ({why})")
    identifiers = [c for c, s in specs.items() if s["role"] == "identifier"]
    if kind == "personal" and not identifiers and columns:
        problems.append("no identifier column found: a personal dataset needs one (e.g. email)")
    if len(identifiers) > 1:
        problems.append(f"several identifier candidates ({', '.join(identifiers)}): keep one")
    draft: dict[str, Any] = {
        "review": ["Delete this list once you have checked every role below.", *review],
        "name": name,
        "kind": kind,
    }
    if kind == "personal":
        draft.update(max_rows_per_user=1000, purposes=["measurement"])
    draft["columns"] = specs
    return SpecDraft(draft, problems, reasons)


def sniff_kind(rows: Sequence[Sequence[str]], index: int) -> str | None:
    """What the non-blank values of column ``index`` of a CSV's first rows look like: all
    numbers, all ISO dates or times, otherwise text (None: no value to look at). Only proposes a
    role; the spec declares the type.

    >>> sniff_kind([["1"], ["2.5"], [""]], 0), sniff_kind([["2026-01-31"]], 0)
    ('number', 'timestamp')
    >>> sniff_kind([["1"], ["x"]], 0), sniff_kind([[""]], 0)
    ('text', None)
    """
    values = [row[index].strip() for row in rows if index < len(row) and row[index].strip()]
    if not values:
        return None
    if all(_NUMBER.fullmatch(v) for v in values):
        return "number"
    if all(_DATE.fullmatch(v) for v in values):
        return "timestamp"
    return "text"


def _is_parquet(path: Path, file_format: str | None) -> bool:
    if file_format is not None:
        return file_format == "parquet"
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


def draft_spec(
    path: Path, name: str | None = None, kind: str = "personal", file_format: str | None = None
) -> SpecDraft:
    """The draft for the header of the CSV or Parquet file at ``path`` (``file_format`` None:
    told by the file's suffix, then by its first bytes)."""
    dataset = name or re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_")
    try:
        if _is_parquet(path, file_format):
            import pyarrow.parquet as pq  # only this format needs it

            schema = pq.read_schema(path)
            columns: list[tuple[str, Any]] = [(f.name, f.type) for f in schema]
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, [])
                sample = [row for _, row in zip(range(SNIFF_ROWS), reader, strict=False)]
            columns = [(c.strip(), sniff_kind(sample, i)) for i, c in enumerate(header)]
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as err:
        raise InvalidRequest(
            f"cannot read the header of {path.name} ({type(err).__name__})"
        ) from None
    return draft_spec_from_columns(dataset, columns, kind)
