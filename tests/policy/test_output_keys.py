"""A selected group key is marked as a key whatever its spelling, so it never gets an interval."""

from __future__ import annotations

from pathlib import Path

from cleanroom.demo.specs import DEMO_POLICY, demo_dataset_specs
from cleanroom.policy import compile_template, parse_template_file
from cleanroom.specs import CollaborationPolicy, DatasetSpec

QUERIES = Path(__file__).resolve().parents[2] / "queries"


def test_every_selected_group_key_is_a_key_output() -> None:
    specs = {name: DatasetSpec.from_dict(d) for name, d in demo_dataset_specs().items()}
    policy = CollaborationPolicy.from_dict(DEMO_POLICY)
    # time_to_conversion selects campaign_id while its key is named internally (cr_key0).
    source = parse_template_file((QUERIES / "time_to_conversion.sql").read_text())
    plan = compile_template(
        source.sql, source.parameters, {}, source.purpose, policy, specs, source.bounds
    ).plan
    by_name = {o.name: o for o in plan.outputs}
    assert by_name["campaign_id"].is_group_key
    assert by_name["days_bucket"].is_group_key
    assert not by_name["buyers"].is_group_key
