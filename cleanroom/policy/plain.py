"""A template's own SQL with its parameters bound, unrewritten: for exact answers on synthetic
data (the demo's truth, benchmarks' physical-limit query), never for a collaboration's data.

>>> from cleanroom.policy import parse_template_file
>>> src = parse_template_file("-- name: t\\n-- purpose: measurement\\n"
...     "-- param: ids list[str] = [\\"c1\\"]\\n-- param: n int = 3\\n"
...     "SELECT c, COUNT(DISTINCT pid) AS k FROM e WHERE c IN :ids AND x > :n GROUP BY c")
>>> bind_template_sql(src, {"n": 5})
"SELECT c, COUNT(DISTINCT pid) AS k FROM e WHERE c IN ('c1') AND x > 5 GROUP BY c"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cleanroom.errors import TemplateRejected
from cleanroom.policy.bind import bind_parameters
from cleanroom.policy.header import TemplateSource
from cleanroom.policy.parse import parse_select
from cleanroom.policy.violations import ViolationCollector


def bind_template_sql(source: TemplateSource, values: Mapping[str, Any] | None = None) -> str:
    """The template's SELECT in DuckDB SQL with every ``:name`` bound as a typed literal
    (``values``, else the parameter's default); ``TemplateRejected`` when one is missing or
    mistyped. Nothing is checked or rewritten beyond parsing and binding."""
    collector = ViolationCollector(source.sql, source.line_offset)
    tree = parse_select(source.sql, collector)
    collector.raise_if_any()
    if tree is None:
        raise TemplateRejected([])
    bind_parameters(tree, source.parameters, dict(values or {}), collector)
    collector.raise_if_any()
    return tree.sql("duckdb")
