"""Exact (noise-free) answers of a template, for demos and acceptance checks on synthetic data.

The template's own SQL, with its parameters bound as typed literals by ``policy`` (never by string
formatting), runs as plain SQL on the engine over files the caller names: tables named like the
datasets, keyed by ``pid``, consent already applied for the template's purpose. This is the
truth a released report is compared with; it never runs on a collaboration's stored data and is
not reachable from the API.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleanroom.config import Settings
from cleanroom.engine import DuckDBEngine
from cleanroom.policy import bind_template_sql, parse_template_file


@dataclass(frozen=True)
class ExactAnswer:
    """The plain query's result: its columns and rows (values as Python scalars)."""

    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "rows": [dict(r) for r in self.rows]}


def exact_answer(
    settings: Settings,
    template_text: str,
    tables: Mapping[str, Path],
    values: Mapping[str, Any] | None = None,
) -> ExactAnswer:
    """Run the template file's SQL, bound with ``values`` (else defaults), over ``tables``
    (dataset name -> Parquet file under ``settings.data_dir``) on a sandboxed DuckDB."""
    sql = bind_template_sql(parse_template_file(template_text), values)
    engine = DuckDBEngine(settings)
    try:
        table = engine.execute(sql, {name: str(path) for name, path in tables.items()}, [])
    finally:
        engine.close()
    rows = tuple({k: _scalar(v) for k, v in row.items()} for row in table.to_pylist())
    return ExactAnswer(tuple(table.column_names), rows)


def _scalar(value: Any) -> Any:
    # DuckDB answers SUM over integers as DECIMAL/HUGEINT; reports carry plain numbers.
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
