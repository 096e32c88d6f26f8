"""The whole workflow through the routes, on SQLite and PostgreSQL: collaboration, uploads,
suppressions, approval, preview, run, report in three formats, budget and audit."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cleanroom.config import Settings
from tests.web.route_world import (
    ADVERTISER,
    RETAILER,
    RUN_BODY,
    SPECS,
    RouteApi,
    email_sha256,
    write_world,
)


@pytest.fixture
def api(pg_settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(pg_settings)
    try:
        yield api
    finally:
        api.close()


def test_full_flow(api: RouteApi, tmp_path: Path) -> None:
    cid = api.open_collaboration()
    listed = api.call("GET", "/v1/collaborations", ADVERTISER, "partner_viewer").get_json()
    assert [c["id"] for c in listed["items"]] == [cid]
    one = api.call("GET", f"/v1/collaborations/{cid}", ADVERTISER, "auditor").get_json()
    assert one["policy"]["min_users_per_row"] == 10

    ids = api.register_world(cid, write_world(tmp_path / "world"))
    assert not any((api.settings.data_dir / "tmp").iterdir())  # uploads' temp files are gone
    datasets = api.call("GET", f"/v1/collaborations/{cid}/datasets", ADVERTISER, "advertiser")
    assert {d["name"] for d in datasets.get_json()["items"]} == set(SPECS)
    exposures = api.call(
        "GET", f"/v1/collaborations/{cid}/datasets/{ids['exposures']}", RETAILER, "retailer_admin"
    ).get_json()
    assert exposures["current_version"]["row_count"] > 0
    assert "rows" not in exposures

    opt_outs = {"identifiers": [email_sha256(1), email_sha256(2)]}
    path = f"/v1/collaborations/{cid}/suppressions"
    added = api.call("POST", path, RETAILER, "retailer_admin", json=opt_outs)
    assert (added.status_code, added.get_json()) == (202, {"added": 2})
    upload = {"file": (io.BytesIO(f"email_sha256\n{email_sha256(2)}\n".encode()), "opt.csv")}
    again = api.call("POST", path, RETAILER, "retailer_admin", data=upload)
    assert (again.status_code, again.get_json()) == (202, {"added": 0})

    submitted = api.submit(cid)
    assert submitted.status_code == 201
    template = submitted.get_json()
    assert (template["status"], template["version"]) == ("pending", 1)
    assert template["analysis"]["outputs"] == ["campaign_id", "reach", "sales"]
    tid = template["id"]
    pending_run = api.start_run(cid, tid)
    assert pending_run.get_json()["code"] == "template_not_approved"
    approve = f"/v1/collaborations/{cid}/templates/{tid}/approve"
    by_retailer = api.call("POST", approve, RETAILER, "retailer_admin", json={})
    # It reads acme's personal crm: the retailer's approval alone is not enough.
    assert (by_retailer.get_json()["status"], by_retailer.get_json()["awaiting_approval"]) == (
        "pending",
        [ADVERTISER],
    )
    assert api.start_run(cid, tid).get_json()["code"] == "template_not_approved"
    approved = api.call("POST", approve, ADVERTISER, "advertiser", json={})
    assert approved.get_json()["status"] == "approved"

    preview_body = {**RUN_BODY, "template_id": tid}
    preview = api.call(
        "POST",
        f"/v1/collaborations/{cid}/runs/preview",
        ADVERTISER,
        "advertiser",
        json=preview_body,
    )
    assert preview.status_code == 200, preview.get_json()
    assert set(preview.get_json()["accuracy"]["half_widths"]) == {"reach", "sales"}
    budget_path = f"/v1/collaborations/{cid}/budget"
    before = api.call("GET", budget_path, ADVERTISER, "advertiser").get_json()
    assert preview.get_json()["remaining"] == before["items"][0]["remaining"]

    started = api.start_run(cid, tid)
    assert started.status_code == 202, started.get_json()
    run = started.get_json()
    assert run["status"] == "queued"
    assert started.headers["Location"] == f"/v1/collaborations/{cid}/runs/{run['id']}"
    report_path = f"/v1/collaborations/{cid}/runs/{run['id']}/report"
    early = api.call("GET", report_path, ADVERTISER, "advertiser")
    assert (early.status_code, early.get_json()["code"]) == (409, "conflict")

    assert api.run_pending() == 1
    status = api.call("GET", started.headers["Location"], ADVERTISER, "partner_viewer").get_json()
    assert (status["status"], status["progress"]) == ("succeeded", 1.0), status
    assert "error" not in status

    as_json = api.call("GET", report_path, ADVERTISER, "advertiser")
    assert as_json.status_code == 200
    assert as_json.mimetype == "application/json"
    assert as_json.headers["Content-Disposition"] == (
        f'attachment; filename="report-{run["id"]}.json"'
    )
    report = as_json.get_json()
    assert report["run_id"] == run["id"]
    assert report["columns"] == ["campaign_id", "reach", "sales"]
    assert {row["campaign_id"] for row in report["rows"]} <= {"c1", "c2"}
    as_csv = api.call("GET", report_path + "?format=csv", RETAILER, "retailer_admin")
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [r["campaign_id"] for r in rows] == [r["campaign_id"] for r in report["rows"]]
    as_parquet = api.call("GET", report_path + "?format=parquet", ADVERTISER, "partner_viewer")
    assert as_parquet.mimetype == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(as_parquet.get_data()))
    assert table.column_names == report["columns"]
    meta = json.loads(table.schema.metadata[b"cleanroom.report"])
    assert meta["run_id"] == run["id"]
    assert meta["privacy_loss"] == report["privacy_loss"]

    after = api.call("GET", budget_path, ADVERTISER, "advertiser").get_json()
    spent = after["items"][0]["spent"]
    assert after["collaboration_id"] == cid
    assert spent["epsilon"] == pytest.approx(
        before["items"][0]["spent"]["epsilon"] + run["privacy_loss"]["epsilon"]
    )
    assert spent["delta"] == pytest.approx(run["privacy_loss"]["delta"])

    audit = api.call("GET", f"/v1/collaborations/{cid}/audit", ADVERTISER, "auditor").get_json()
    names = [event["name"] for event in audit["items"]]
    for expected in (
        "collaboration.created",
        "dataset.registered",
        "suppression.added",
        "template.submitted",
        "template.approved",
        "run.created",
        "budget.charged",
        "run.succeeded",
        "report.downloaded",
    ):
        assert expected in names
    assert [e["seq"] for e in audit["items"]] == list(range(1, len(names) + 1))
    verified = api.call("GET", f"/v1/collaborations/{cid}/audit/verify", RETAILER, "auditor")
    assert verified.get_json() == {"ok": True, "events": len(names), "first_broken_seq": None}
