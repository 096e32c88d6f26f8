"""A selected group key is marked as a key whatever its spelling, so it never gets an interval."""

from __future__ import annotations

from cleanroom.policy import compile_template
from tests.policy.collab import DATASETS, POLICY


def test_a_qualified_group_key_is_a_key_output() -> None:
    sql = (
        "SELECT e.campaign_id, COUNT(DISTINCT e.pid) AS reach FROM exposures AS e "
        "GROUP BY e.campaign_id"
    )
    plan = compile_template(sql, [], {}, "measurement", POLICY, DATASETS).plan
    by_name = {o.name: o for o in plan.outputs}
    assert by_name["campaign_id"].is_group_key
    assert not by_name["reach"].is_group_key
