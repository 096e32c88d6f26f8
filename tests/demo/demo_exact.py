"""Helpers for the demo tests: the exact-answer path and parameter binding.

The "exact answer" path: the generated CSVs loaded into DuckDB as tables named like the datasets,
with ``pid`` = SHA-256 hex of the normalized email, consent applied for the template's purpose,
identifier, consent and blocked columns dropped; templates run as plain SQL with their default
parameters bound as literals (by the policy's binder, never by string formatting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from cleanroom.demo.exact import exact_frame
from cleanroom.demo.specs import demo_dataset_specs
from cleanroom.demo.world import World
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


# The views of the shipped templates: each purpose, and the consent analysis opt_in_rate's
# (customers with ``consented``, unfiltered), keyed as the exact-answer helpers look them up.
EXACT_VIEWS = (
    ("measurement", None), ("audience_sizing", None), ("fairness", None),
    ("measurement", "customers"),
)  # fmt: skip


def exact_connections_for(world: World) -> dict[str, duckdb.DuckDBPyConnection]:
    """View key (``purpose``, or ``purpose/consent:<dataset>``) -> a DuckDB connection holding
    the world's datasets as a template of that view sees them (plain SQL runs on it)."""
    out: dict[str, duckdb.DuckDBPyConnection] = {}
    for purpose, consent in EXACT_VIEWS:
        con = duckdb.connect()
        for name in demo_dataset_specs():
            frame = exact_frame(world, name, purpose, consented=name == consent)
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
        out[purpose if consent is None else f"{purpose}/consent:{consent}"] = con
    return out
