"""Every shipped template: its header parses, it runs as plain SQL on the demo world (the exact
answer path) with its default parameters, it passes the policy for the demo collaboration, and
its rewrite computes the exact answer on the demo world before noise (no bound binds there)."""

from __future__ import annotations

import math

import duckdb
import pytest

from cleanroom.demo.specs import DEMO_POLICY, demo_dataset_specs
from cleanroom.policy import (
    Analysis,
    TemplateSource,
    analyze_template,
    compile_template,
    parse_template_file,
)
from cleanroom.types import Col, CollaborationPolicy, DatasetSpec, ReleasePlan
from tests.demo.demo_exact import QUERIES, SHIPPED, TEMPLATE_FILES, bind_parameters

# fmt: off
EXPECTED_COLUMNS = {
    "exposed_conversion": ["campaign_id", "exposed_shoppers", "buyers", "sales"],
    "last_touch_attribution": ["campaign_id", "placement", "attributed_buyers", "orders", "sales"],
    "roas": ["campaign_id", "spend_cents", "attributed_buyers", "attributed_sales", "roas"],
    "incrementality_lift": ["campaign_id", "cell", "users", "buyers", "sales"],
    "audience_overlap": ["crm_segment", "region", "people"],
    "reach_frequency": ["campaign_id", "frequency_bucket", "reach", "impressions"],
    "new_to_brand": ["campaign_id", "new_to_brand_buyers", "orders", "sales"],
    "time_to_conversion": ["campaign_id", "days_bucket", "buyers"],
    "channel_overlap_reach": ["channels", "reach", "buyers"],
    "audience_size": ["region", "audience_size"],
    "audience_composition": ["age_band", "eligible", "reached", "converted"],
    "campaign_kpis": [
        "campaign_id", "exposed_shoppers", "buyers", "repeat_buyers", "orders", "sales",
        "sales_90d", "conversion_rate", "aov", "repeat_rate", "value_90d_per_exposed",
    ],
    "match_rate": ["crm_segment", "list_size", "matched", "match_rate"],
    "opt_in_rate": ["consented", "people"],
}
# fmt: on


POLICY = CollaborationPolicy.from_dict(DEMO_POLICY)
SPECS = {name: DatasetSpec.from_dict(spec) for name, spec in demo_dataset_specs().items()}
# Group keys without a public domain (their rows go through threshold partition selection).
THRESHOLD_KEYS = {"roas": {"spend_cents"}}


def _source(name: str) -> TemplateSource:
    return parse_template_file((QUERIES / f"{name}.sql").read_text(encoding="utf-8"))


def test_the_shipped_set_is_complete() -> None:
    assert sorted(p.stem for p in TEMPLATE_FILES) == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_header_parses_with_defaults_for_every_parameter(name: str) -> None:
    source = _source(name)
    assert source.name == name
    assert source.description
    assert source.purpose in ("measurement", "audience_sizing", "fairness")
    assert source.parameters, "every shipped template is parameterized"
    assert all(p.has_default for p in source.parameters)
    assert "campaign_ids" not in {p.name for p in source.parameters} or next(
        p for p in source.parameters if p.name == "campaign_ids"
    ).default == ["c1", "c2", "c3", "c4"]
    assert (source.purpose == "fairness") == (name == "audience_composition")
    assert (source.consent is not None) == (name == "opt_in_rate")


@pytest.mark.parametrize("name", SHIPPED)
def test_exact_answer_with_default_parameters_is_not_empty(
    name: str, exact_connections: dict[str, duckdb.DuckDBPyConnection]
) -> None:
    columns, rows = _exact_answer(name, exact_connections)
    assert columns == EXPECTED_COLUMNS[name]
    assert rows
    assert all(None not in row for row in rows)


def _exact_answer(
    name: str, connections: dict[str, duckdb.DuckDBPyConnection]
) -> tuple[list[str], list[tuple[object, ...]]]:
    source = _source(name)
    assert source.purpose is not None
    defaults = {p.name: p.default for p in source.parameters}
    sql = bind_parameters(source.sql, source.parameters, defaults)
    if source.consent is not None:  # a consent analysis sees its dataset with ``consented``
        cursor = connections[f"{source.purpose}/consent:{source.consent}"].execute(sql)
    else:
        cursor = connections[source.purpose].execute(sql)
    return [d[0] for d in cursor.description], cursor.fetchall()


def _analyze(name: str) -> Analysis:
    source = _source(name)
    assert source.purpose is not None
    return analyze_template(
        source.sql, source.parameters, source.purpose, POLICY, SPECS, source.bounds,
        line_offset=source.line_offset, consent=source.consent,
    )  # fmt: skip


def _roles(plan: ReleasePlan) -> tuple[dict[str, str], dict[str, str]]:
    """Output name -> result column, for the group keys and for the plain measurements."""
    key_columns = {k.name for k in plan.group_keys}
    measure_columns = {m.column for m in plan.measurements}
    keys, measures = {}, {}
    for out in plan.outputs:
        if isinstance(out.expr, Col) and out.expr.name in key_columns:
            keys[out.name] = out.expr.name
        elif isinstance(out.expr, Col) and out.expr.name in measure_columns:
            measures[out.name] = out.expr.name
    return keys, measures


@pytest.mark.parametrize("name", SHIPPED)
def test_policy_accepts_with_the_expected_release(name: str) -> None:
    analysis = _analyze(name)
    assert list(analysis.outputs) == EXPECTED_COLUMNS[name]
    keys, _ = _roles(analysis.plan)
    domains = {k.name: k.public_domain for k in analysis.plan.group_keys}
    no_domain = {out for out, column in keys.items() if domains[column] is None}
    assert no_domain == THRESHOLD_KEYS.get(name, set())
    # A person touches at most the policy's groups, or the public key combinations when fewer.
    combinations = math.prod(len(k.public_domain or ()) for k in analysis.plan.group_keys)
    expected = DEMO_POLICY["max_groups_per_user"]
    if analysis.plan.group_keys and all(k.public_domain for k in analysis.plan.group_keys):
        expected = min(expected, combinations)
    assert analysis.plan.max_groups_per_user == (expected if keys else 1)


@pytest.mark.parametrize("name", SHIPPED)
def test_rewrite_equals_the_exact_answer_on_the_demo_world(
    name: str,
    exact_connections: dict[str, duckdb.DuckDBPyConnection],
    engine_views: duckdb.DuckDBPyConnection,
) -> None:
    """Before noise, the compiled query gives the exact answer: the demo's bounds never bind."""
    source = _source(name)
    assert source.purpose is not None
    compiled = compile_template(
        source.sql, source.parameters, {}, source.purpose, POLICY, SPECS, source.bounds,
        line_offset=source.line_offset, consent=source.consent,
    )  # fmt: skip
    assert compiled.spark_sql
    keys, measures = _roles(compiled.plan)
    assert measures, "every template releases at least one plain measurement"
    cursor = engine_views.execute(compiled.duckdb_sql)
    engine_names = [d[0] for d in cursor.description]
    engine = {
        tuple(row[keys[k]] for k in keys): tuple(float(row[m]) for m in measures.values())
        for row in (dict(zip(engine_names, r, strict=True)) for r in cursor.fetchall())
    }
    columns, rows = _exact_answer(name, exact_connections)
    exact = {
        tuple(row[k] for k in keys): tuple(float(row[m]) for m in measures)
        for row in (dict(zip(columns, r, strict=True)) for r in rows)
    }
    assert engine == exact
