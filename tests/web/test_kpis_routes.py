"""The KPI routes on SQLite and PostgreSQL: the retailer reads its own exact opt-in rates,
suppression matches and what a partner's run removed from its data; a partner reads its own
campaign's released KPIs but none of the retailer's exact figures; another partner reads nothing
of either; bad requests are problem+json."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cleanroom.config import Settings
from tests.demo.demo_exact import QUERIES
from tests.web.route_world import (
    ADVERTISER,
    OTHER_PARTNER,
    RETAILER,
    RouteApi,
    email_sha256,
    setup_collaboration,
)
from tests.web.web_testing import assert_problem

KPI_SQL = (QUERIES / "campaign_kpis.sql").read_text(encoding="utf-8")
RUN_PARAMETERS = {"campaign_ids": ["c1", "c2"], "brands": ["acme"]}


@pytest.fixture
def api(pg_settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(pg_settings)
    try:
        yield api
    finally:
        api.close()


def _kpi_run(api: RouteApi, cid: str) -> str:
    submitted = api.submit(cid, KPI_SQL)
    assert submitted.status_code == 201, submitted.get_json()
    tid = str(submitted.get_json()["id"])
    path = f"/v1/collaborations/{cid}/templates/{tid}/approve"
    approved = api.call("POST", path, RETAILER, "retailer_admin", json={"reason": "kpis"})
    assert approved.status_code == 200, approved.get_json()
    body = {"template_id": tid, "parameters": RUN_PARAMETERS, "privacy_loss": {"epsilon": 2.0}}
    run = api.call("POST", f"/v1/collaborations/{cid}/runs", ADVERTISER, "advertiser", json=body)
    assert run.status_code == 202, run.get_json()
    api.run_pending()
    return str(run.get_json()["id"])


def _transactions(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "world" / "transactions.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _get(api: RouteApi, path: str, org: str, role: str) -> Any:
    response = api.call("GET", path, org, role)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_retailer_reads_its_exact_governance_kpis(api: RouteApi, tmp_path: Path) -> None:
    cid, _ = setup_collaboration(api, tmp_path, (ADVERTISER, OTHER_PARTNER))
    rows = _transactions(tmp_path)
    listed = [email_sha256(p) for p in range(7)]
    added = api.call("POST", f"/v1/collaborations/{cid}/suppressions", RETAILER,
                     "retailer_admin", json={"identifiers": listed})  # fmt: skip
    assert added.status_code == 202
    found = _get(api, f"/v1/collaborations/{cid}/kpis/governance", RETAILER, "retailer_admin")
    assert found["org"] == RETAILER
    (item,) = found["opt_in"]  # exposures has no consent column; the CRM is acme's
    assert item["dataset"] == "transactions"
    assert item["rows"] == len(rows)
    assert item["rows_opted_in"] == sum(r["consent_measurement"] == "true" for r in rows)
    assert item["people"] == len({r["email_sha256"] for r in rows})
    matches = {m["dataset"]: m for m in found["suppression"]["datasets"]}
    assert found["suppression"]["listed"] == len(listed)
    assert matches["transactions"]["suppressed_people"] == len(listed)
    assert matches["transactions"]["suppressed_rows"] == sum(
        r["email_sha256"] in listed for r in rows
    )
    assert set(matches) == {"exposures", "transactions"}  # never acme's CRM


@pytest.mark.parametrize(
    ("org", "role"),
    [(ADVERTISER, "advertiser"), (ADVERTISER, "partner_viewer"), (OTHER_PARTNER, "advertiser"),
     (RETAILER, "auditor")],
)  # fmt: skip
def test_nobody_else_sees_the_retailers_figures(
    api: RouteApi, tmp_path: Path, org: str, role: str
) -> None:
    cid, _ = setup_collaboration(api, tmp_path, (ADVERTISER, OTHER_PARTNER))
    found = _get(api, f"/v1/collaborations/{cid}/kpis/governance", org, role)
    assert found["org"] == org
    assert "suppression" not in found
    if org != RETAILER:
        assert found["opt_in"] == []
    text = str(found)
    assert "transactions" not in text or org == RETAILER


def test_the_campaign_kpis_report_by_standing(api: RouteApi, tmp_path: Path) -> None:
    cid, _ = setup_collaboration(api, tmp_path, (ADVERTISER, OTHER_PARTNER))
    path = f"/v1/collaborations/{cid}/kpis?campaign_id=c1"
    assert_problem(api.call("GET", path, ADVERTISER, "advertiser"), 404, "not_found")
    run_id = _kpi_run(api, cid)

    mine = _get(api, path, ADVERTISER, "advertiser")
    assert mine["campaign"]["source"]["run_id"] == run_id
    values = mine["campaign"]["values"]
    assert values["campaign_id"] == {"value": "c1"}
    assert set(values) >= {"conversion_rate", "aov", "repeat_rate", "value_90d_per_exposed"}
    assert all("interval" in cell for name, cell in values.items() if name != "campaign_id")
    assert mine["governance"]["opt_in"] == []  # acme's CRM has no consent column
    assert mine["governance"]["run_filters"] == []  # the run read only the retailer's data
    assert "suppression" not in mine["governance"]

    retailer = _get(api, path, RETAILER, "retailer_admin")
    assert retailer["campaign"]["values"] == values
    filters = {f["dataset"]: f for f in retailer["governance"]["run_filters"]}
    rows = _transactions(tmp_path)
    assert filters["transactions"]["rows_removed_by_consent"] == sum(
        r["consent_measurement"] != "true" for r in rows
    )
    assert filters["exposures"]["rows_removed_by_consent"] == 0

    # Another partner: acme's run is not visible to it, so it has no KPIs to read.
    assert_problem(api.call("GET", path, OTHER_PARTNER, "advertiser"), 404, "not_found")
    run_path = f"/v1/collaborations/{cid}/runs/{run_id}/kpis"
    assert_problem(api.call("GET", run_path, OTHER_PARTNER, "advertiser"), 404, "not_found")
    assert _get(api, run_path, ADVERTISER, "advertiser")["datasets"] == []
    by_retailer = _get(api, run_path, RETAILER, "retailer_admin")
    assert {d["dataset"] for d in by_retailer["datasets"]} == {"exposures", "transactions"}
    assert all("rows_removed_by_suppression" in d for d in by_retailer["datasets"])


def test_bad_requests_are_problems(api: RouteApi, tmp_path: Path) -> None:
    cid, _ = setup_collaboration(api, tmp_path)
    kpis = f"/v1/collaborations/{cid}/kpis"
    assert_problem(api.call("GET", kpis, ADVERTISER, "advertiser"), 400, "invalid_request")
    run_id = _kpi_run(api, cid)
    missing = api.call("GET", f"{kpis}?campaign_id=c9", ADVERTISER, "advertiser")
    assert_problem(missing, 404, "not_found")
    assert run_id
    auditor = api.call("GET", f"{kpis}?campaign_id=c1", ADVERTISER, "auditor")
    assert_problem(auditor, 403, "forbidden")
    outsider = api.call("GET", f"{kpis}/governance", "stranger", "advertiser")
    assert_problem(outsider, 404, "not_found")
    unknown_run = api.call("GET", f"/v1/collaborations/{cid}/runs/run_x/kpis", RETAILER,
                           "retailer_admin")  # fmt: skip
    assert_problem(unknown_run, 404, "not_found")
