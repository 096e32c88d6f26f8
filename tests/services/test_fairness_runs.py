"""A fairness analysis end to end through the services: the shipped audience_composition on the
demo world (whose campaign c3 was planted to under-reach the 55+ age band) releases each band's
counts, the report's ``fairness`` member flags exactly that campaign's 55+ band, and the flag is
in the audit log the retailer reads. A measurement report has no ``fairness`` member."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom.services.audit import list_audit
from cleanroom.services.context import Services
from cleanroom.services.reports import get_report
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run
from tests.services.conftest import ADMIN, ANALYST, Room, build_room


@pytest.fixture
def fair_room(svc: Services, hashed_files: dict[str, Path]) -> Room:
    return build_room(svc, hashed_files, ("audience_composition", "exposed_conversion"))


def _report(
    svc: Services, room: Room, name: str, params: dict[str, object], epsilon: float = 1.0
) -> dict[str, object]:
    body = {"template_id": room.templates[name].id, "parameters": params,
            "privacy_loss": {"epsilon": epsilon}}  # fmt: skip
    run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(body))
    RunWorker(svc, "test").run_pending()
    return get_report(svc, ANALYST, room.collab.id, run.id)


def test_only_the_skewed_campaign_is_flagged_and_audited(svc: Services, fair_room: Room) -> None:
    """At epsilon 5 the reached audience decides: exactly c3's 55+ band is flagged (planted at
    about 0.4; every other band's ratio is near 1, its interval about +-0.05). The converted
    audience of this small world is a few dozen people per band, some of them truly near the 0.8
    ratio, so its flags follow the noise: each must obey the rule (the interval lies below the
    policy's ratio) and be audited, whichever way the noise went."""
    reached, flagged = {}, {}
    for campaign in ("c1", "c2", "c3", "c4"):
        params = {"campaign_id": campaign}
        report = _report(svc, fair_room, "audience_composition", params, epsilon=5.0)
        fairness = report["fairness"]
        assert isinstance(fairness, dict)
        assert fairness["attribute"] == "age_band"
        assert fairness["eligible"] == "eligible"
        assert [a["audience"] for a in fairness["audiences"]] == ["reached", "converted"]
        for audience in fairness["audiences"]:
            assert [g["group"] for g in audience["groups"]] == ["18-34", "35-54", "55+"]
            for group in audience["groups"]:
                lo, hi = group["ratio_interval"]
                assert lo <= group["ratio"] <= hi
                assert group["flagged"] == (hi < 0.8)
        reached[campaign] = [g["group"] for g in fairness["audiences"][0]["groups"] if g["flagged"]]
        flagged[campaign] = fairness["flagged_groups"]
    assert reached == {"c1": [], "c2": [], "c3": ["55+"], "c4": []}
    assert "55+" in flagged["c3"]

    events = [e for e in list_audit(svc, ADMIN, fair_room.collab.id, limit=1000)
              if e.name == "run.flagged_for_review"]  # fmt: skip
    assert sorted(tuple(e.details["groups"]) for e in events) == sorted(
        tuple(groups) for groups in flagged.values() if groups
    )
    assert all(
        e.details["template_id"] == fair_room.templates["audience_composition"].id for e in events
    )


def test_a_measurement_report_has_no_fairness_member(svc: Services, fair_room: Room) -> None:
    report = _report(svc, fair_room, "exposed_conversion", {})
    assert "fairness" not in report
