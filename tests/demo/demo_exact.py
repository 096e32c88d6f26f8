"""Helpers for the demo tests: the exact-answer path and parameter binding.

The "exact answer" path: the generated CSVs loaded into DuckDB as tables named like the datasets,
with ``pid`` = SHA-256 hex of the normalized email, consent applied for the template's purpose,
identifier, consent and blocked columns dropped; templates run as plain SQL with their default
parameters bound as literals (by the policy's binder, never by string formatting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cleanroom.policy import TemplateSource, bind_template_sql
from cleanroom.types import ParamSpec

QUERIES = Path(__file__).resolve().parents[2] / "queries"
TEMPLATE_FILES = sorted(QUERIES.glob("*.sql"))
SHIPPED = (
    "exposed_conversion", "last_touch_attribution", "roas", "incrementality_lift",
    "audience_overlap", "reach_frequency", "new_to_brand", "time_to_conversion",
    "channel_overlap_reach", "audience_size", "audience_composition", "campaign_kpis",
    "match_rate", "opt_in_rate",
)  # fmt: skip


def bind_parameters(sql: str, params: tuple[ParamSpec, ...], values: dict[str, Any]) -> str:
    """The template with every ``:name`` bound as a typed literal (DuckDB SQL), by the policy's
    own binder."""
    return bind_template_sql(TemplateSource(sql=sql, parameters=params), values)
