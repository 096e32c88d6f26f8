"""Governance KPIs and the ``kpis`` report through the services layer, on SQLite and PostgreSQL:
exact opt-in rates and suppression matches for the data's owner only, the campaign's KPIs as
released (within their intervals of the exact answer), and nothing of another org's data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cleanroom.demo.exact import exact_frame
from cleanroom.demo.world import World
from cleanroom.errors import Forbidden, NotFound
from cleanroom.services.context import Services
from cleanroom.services.kpis import campaign_kpis, governance_kpis, run_filter_kpis
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run
from cleanroom.services.suppressions import add_suppressions
from cleanroom.services.templates import decide_template
from cleanroom.types import Principal
from tests.services.conftest import ADMIN, ANALYST, Room, build_room

VIEWER = Principal("carol", ANALYST.org, "partner_viewer")


@pytest.fixture
def kpi_room(svc: Services, hashed_files: dict[str, Path]) -> Room:
    room = build_room(svc, hashed_files, ("campaign_kpis", "match_rate", "opt_in_rate"))
    # match_rate reads the advertiser's CRM: its owner approves that use too.
    decide_template(svc, ANALYST, room.collab.id, room.templates["match_rate"].id, "approve")
    return room


def _run(svc: Services, room: Room, name: str, who: Principal = ANALYST) -> str:
    body = {"template_id": room.templates[name].id, "parameters": {},
            "privacy_loss": {"epsilon": 3.0, "delta": 1e-7}}  # fmt: skip
    run, _ = create_run(svc, who, room.collab.id, RunRequest.from_json(body))
    RunWorker(svc, "test").run_pending()
    return run.id


def _stored(world: World, name: str) -> pd.DataFrame:
    """The dataset as ingestion stores it (rows with an identifier, consent kept)."""
    return exact_frame(world, name, None)


def _suppress(svc: Services, room: Room, world: World, people: int) -> set[str]:
    keys = list(dict.fromkeys(_stored(world, "customers")["pid"]))[:people]
    add_suppressions(svc, ADMIN, room.collab.id, identifiers=keys)
    return set(keys)


def test_opt_in_rate_is_exact_for_the_owner(
    svc: Services, kpi_room: Room, small_world: World
) -> None:
    found = governance_kpis(svc, ADMIN, kpi_room.collab.id)
    assert found["org"] == ADMIN.org
    assert found["exact"] is True
    by_dataset = {item["dataset"]: item for item in found["opt_in"]}
    # The retailer's datasets with a consent column; never the advertiser's CRM.
    assert set(by_dataset) == {"customers", "transactions"}
    for name, item in by_dataset.items():
        frame = _stored(small_world, name)
        consented = frame[frame["consent_measurement"]]
        assert item["purpose"] == "measurement"
        assert item["rows"] == len(frame)
        assert item["rows_opted_in"] == len(consented)
        assert item["people"] == frame["pid"].nunique()
        assert item["people_opted_in"] == consented["pid"].nunique()
        assert item["people_rate"] == pytest.approx(item["people_opted_in"] / item["people"])
        assert 0 < item["row_rate"] < 1


def test_a_partner_sees_only_its_own_datasets_and_no_suppression(
    svc: Services, kpi_room: Room
) -> None:
    for who in (ANALYST, VIEWER):
        found = governance_kpis(svc, who, kpi_room.collab.id)
        assert found["org"] == ANALYST.org
        assert found["opt_in"] == []  # the CRM has no consent column; the retailer's are hidden
        assert "suppression" not in found


def test_suppression_matches_for_the_retailer_admin(
    svc: Services, kpi_room: Room, small_world: World
) -> None:
    listed = _suppress(svc, kpi_room, small_world, 25)
    found = governance_kpis(svc, ADMIN, kpi_room.collab.id)
    suppression = found["suppression"]
    assert suppression["listed"] == len(listed)
    by_dataset = {item["dataset"]: item for item in suppression["datasets"]}
    assert set(by_dataset) == {"customers", "exposures", "transactions", "holdout"}
    for name, item in by_dataset.items():
        frame = _stored(small_world, name)
        on_list = frame[frame["pid"].isin(listed)]
        assert item["suppressed_people"] == on_list["pid"].nunique(), name
        assert item["suppressed_rows"] == len(on_list), name
    assert by_dataset["customers"]["suppressed_people"] == len(listed)
    auditor = Principal("dan", ADMIN.org, "auditor")
    assert "suppression" not in governance_kpis(svc, auditor, kpi_room.collab.id)


def test_run_filters_count_the_rows_consent_removed(
    svc: Services, kpi_room: Room, small_world: World
) -> None:
    _suppress(svc, kpi_room, small_world, 10)
    run_id = _run(svc, kpi_room, "campaign_kpis")
    found = run_filter_kpis(svc, ADMIN, kpi_room.collab.id, run_id)
    assert found["purpose"] == "measurement"
    by_dataset = {item["dataset"]: item for item in found["datasets"]}
    assert set(by_dataset) == {"exposures", "transactions"}
    transactions = _stored(small_world, "transactions")
    removed = by_dataset["transactions"]
    assert removed["rows_removed_by_consent"] == int((~transactions["consent_measurement"]).sum())
    assert by_dataset["exposures"]["consent_column"] is None
    assert by_dataset["exposures"]["rows_removed_by_consent"] == 0
    assert "rows_removed_by_suppression" in removed
    # The partner that ran it owns neither dataset: it sees no figures of them.
    assert run_filter_kpis(svc, ANALYST, kpi_room.collab.id, run_id)["datasets"] == []


def test_the_kpis_report_of_a_campaign(svc: Services, kpi_room: Room, small_world: World) -> None:
    with pytest.raises(NotFound):  # nothing released yet
        campaign_kpis(svc, ANALYST, kpi_room.collab.id, "c1")
    run_id = _run(svc, kpi_room, "campaign_kpis")
    _run(svc, kpi_room, "match_rate")
    assert "opt_in_rate" not in campaign_kpis(svc, ANALYST, kpi_room.collab.id, "c1")
    opt_in_run = _run(svc, kpi_room, "opt_in_rate")
    found = campaign_kpis(svc, ANALYST, kpi_room.collab.id, "c1")
    # The partner's view of the retailer's opt-in rate: the DP release, with its interval.
    opt_in = found["opt_in_rate"]
    assert opt_in["source"]["run_id"] == opt_in_run
    assert (opt_in["opt_in"]["dataset"], opt_in["opt_in"]["purpose"]) == (
        "customers", "measurement",
    )  # fmt: skip
    for group in opt_in["opt_in"]["groups"]:
        lo, hi = group["interval"]
        assert 0.0 <= lo <= group["rate"] <= hi <= 1.0
    assert found["campaign"]["source"]["run_id"] == run_id
    values = found["campaign"]["values"]
    assert values["campaign_id"] == {"value": "c1"}
    assert values["conversion_rate"]["interval"] is not None
    for column in ("conversion_rate", "aov", "repeat_rate", "value_90d_per_exposed"):
        if values[column]["interval"] is None:  # not estimable: the denominator may be 0
            continue
        lo, hi = values[column]["interval"]
        assert lo <= values[column]["value"] <= hi
    buyers, exposed = values["buyers"], values["exposed_shoppers"]
    assert values["conversion_rate"]["value"] == pytest.approx(buyers["value"] / exposed["value"])
    assert [r["crm_segment"]["value"] for r in found["match_rate"]["rows"]] == [
        "loyal", "lapsed", "prospect",
    ]  # fmt: skip
    # The advertiser's governance part: its own data only (no consent column on its CRM).
    assert found["governance"]["opt_in"] == []
    assert found["governance"]["run_filters"] == []
    with pytest.raises(NotFound):
        campaign_kpis(svc, ANALYST, kpi_room.collab.id, "c9")
    # The retailer reads the partner's released report and its own exact figures.
    retailer = campaign_kpis(svc, ADMIN, kpi_room.collab.id, "c1")
    assert retailer["campaign"]["values"] == values
    assert {i["dataset"] for i in retailer["governance"]["opt_in"]} == {"customers", "transactions"}
    assert {i["dataset"] for i in retailer["governance"]["run_filters"]} == {
        "exposures", "transactions",
    }  # fmt: skip


def test_an_outsider_and_a_wrong_role_are_refused(svc: Services, kpi_room: Room) -> None:
    with pytest.raises(NotFound):
        governance_kpis(svc, Principal("eve", "beta", "advertiser"), kpi_room.collab.id)
    auditor = Principal("dan", ADMIN.org, "auditor")
    with pytest.raises(Forbidden):  # the kpis report reads reports, which auditors may not
        campaign_kpis(svc, auditor, kpi_room.collab.id, "c1")
