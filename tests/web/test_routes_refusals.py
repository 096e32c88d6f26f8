"""Refusals through the routes leave nothing behind: rejected templates, exhausted budgets, replays,
revoked templates, raw identifiers, purged datasets (store-sensitive ones on both stores)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanroom.config import Settings
from tests.web.route_world import (
    ADVERTISER,
    POLICY,
    REJECTED_SQL,
    RETAILER,
    SPECS,
    RouteApi,
    setup_collaboration,
    write_world,
)
from tests.web.web_testing import assert_problem


@pytest.fixture
def api(pg_settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(pg_settings)
    try:
        yield api
    finally:
        api.close()


def audit_names(api: RouteApi, cid: str) -> list[str]:
    page = api.call("GET", f"/v1/collaborations/{cid}/audit?limit=1000", RETAILER, "auditor")
    return [event["name"] for event in page.get_json()["items"]]


def runs_of(api: RouteApi, cid: str) -> list[dict[str, object]]:
    listed = api.call("GET", f"/v1/collaborations/{cid}/runs", RETAILER, "retailer_admin")
    items: list[dict[str, object]] = listed.get_json()["items"]
    return items


def spent(api: RouteApi, cid: str) -> float:
    body = api.call("GET", f"/v1/collaborations/{cid}/budget", ADVERTISER, "advertiser").get_json()
    return float(body["items"][0]["spent"]["epsilon"])


def test_rejected_template_lists_violations_and_stores_nothing(
    api: RouteApi, tmp_path: Path
) -> None:
    cid = api.open_collaboration()
    api.register_world(cid, write_world(tmp_path / "world"))
    body = assert_problem(api.submit(cid, REJECTED_SQL), 422, "template_rejected")
    assert body["errors"]
    for violation in body["errors"]:
        assert set(violation) >= {"code", "message", "line", "column"}
        assert violation["line"] >= 3  # counted from the file's first line, header included
        assert violation["column"] >= 1
    listed = api.call("GET", f"/v1/collaborations/{cid}/templates", RETAILER, "retailer_admin")
    assert listed.get_json() == {"items": []}
    assert "template.submitted" not in audit_names(api, cid)
    assert "request.refused" in audit_names(api, cid)


def test_budget_exhaustion_is_a_409_and_creates_no_run(api: RouteApi, tmp_path: Path) -> None:
    policy = {**POLICY, "epsilon_budget": 1.5, "max_epsilon_per_run": 1.0}
    cid = api.open_collaboration(policy=policy)
    api.register_world(cid, write_world(tmp_path / "world"))
    tid = api.approved_template(cid)
    assert api.start_run(cid, tid).status_code == 202
    body = assert_problem(api.start_run(cid, tid), 409, "budget_exhausted")
    assert body["requested"]["epsilon"] == pytest.approx(1.0)
    assert body["remaining"]["epsilon"] == pytest.approx(0.5)
    assert len(runs_of(api, cid)) == 1
    assert spent(api, cid) == pytest.approx(1.0)


def test_an_idempotency_key_replay_returns_the_run_and_charges_once(
    api: RouteApi, tmp_path: Path
) -> None:
    cid, tid = setup_collaboration(api, tmp_path)
    key = {"headers": {"Idempotency-Key": "4b1c2f8e-run-1"}}
    first = api.start_run(cid, tid, **key)
    replay = api.start_run(cid, tid, **key)
    assert (first.status_code, replay.status_code) == (202, 200)
    assert replay.get_json() == first.get_json()
    assert replay.headers["Location"] == first.headers["Location"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(runs_of(api, cid)) == 1
    assert spent(api, cid) == pytest.approx(1.0)
    other = api.start_run(cid, tid, headers={"Idempotency-Key": "another-key"})
    assert other.status_code == 202
    assert spent(api, cid) == pytest.approx(2.0)
    assert_problem(
        api.start_run(cid, tid, headers={"Idempotency-Key": "has space"}), 400, "invalid_request"
    )


def test_a_revoked_template_cannot_run(api: RouteApi, tmp_path: Path) -> None:
    cid, tid = setup_collaboration(api, tmp_path)
    queued = api.start_run(cid, tid)
    assert queued.status_code == 202
    revoke = f"/v1/collaborations/{cid}/templates/{tid}/revoke"
    revoked = api.call("POST", revoke, RETAILER, "retailer_admin", json={"reason": "too broad"})
    assert (revoked.get_json()["status"], revoked.get_json()["reason"]) == ("revoked", "too broad")
    assert_problem(api.start_run(cid, tid), 409, "template_not_approved")
    assert api.run_pending() == 1  # the run queued before the revocation fails
    run = api.call("GET", queued.headers["Location"], ADVERTISER, "advertiser").get_json()
    assert run["status"] == "failed"
    assert run["error"]["code"] == "template_not_approved"
    report = f"/v1/collaborations/{cid}/runs/{run['id']}/report"
    assert_problem(api.call("GET", report, ADVERTISER, "advertiser"), 409, "conflict")


def test_a_rejected_template_cannot_be_approved_later(api: RouteApi, tmp_path: Path) -> None:
    cid = api.open_collaboration()
    api.register_world(cid, write_world(tmp_path / "world"))
    tid = api.submit(cid).get_json()["id"]
    base = f"/v1/collaborations/{cid}/templates/{tid}"
    rejected = api.call("POST", base + "/reject", RETAILER, "retailer_admin")  # no body: no reason
    assert (rejected.get_json()["status"], rejected.get_json()["reason"]) == ("rejected", None)
    assert (
        api.call("POST", base + "/approve", RETAILER, "retailer_admin", json={}).status_code == 409
    )
    resubmitted = api.submit(cid).get_json()
    assert (resubmitted["version"], resubmitted["status"]) == (2, "pending")


def test_raw_emails_are_refused_and_nothing_is_stored(
    api: RouteApi, settings: Settings, tmp_path: Path
) -> None:
    cid = api.open_collaboration()
    raw = tmp_path / "crm.csv"
    raw.write_text(
        "email_sha256,segment\n" + "".join(f"p{i}@example.com,loyal\n" for i in range(30))
    )
    body = assert_problem(api.upload(cid, ADVERTISER, SPECS["crm"], raw), 422, "dataset_invalid")
    assert "example.com" not in json.dumps(body)
    # Located for a person (or the console) to fix: the column and the first bad data row.
    assert [(e["column"], e["row"]) for e in body["errors"]] == [("email_sha256", 1)]
    listed = api.call("GET", f"/v1/collaborations/{cid}/datasets", ADVERTISER, "advertiser")
    assert listed.get_json() == {"items": []}
    stored = api.settings.datasets_dir / cid
    assert not stored.exists() or not any(stored.iterdir())
    assert not any((api.settings.data_dir / "tmp").iterdir())  # the upload's temp file is gone
    assert "dataset.registered" not in audit_names(api, cid)


def test_bad_uploads_are_400_415_or_422(api: RouteApi, tmp_path: Path) -> None:
    cid = api.open_collaboration()
    path = f"/v1/collaborations/{cid}/datasets"
    no_file = api.call(
        "POST",
        path,
        ADVERTISER,
        "advertiser",
        data={"spec": "{}"},
        content_type="multipart/form-data",
    )
    assert_problem(no_file, 400, "invalid_request")
    as_form = api.call("POST", path, ADVERTISER, "advertiser", data={"spec": "{}"})
    assert_problem(as_form, 415, "unsupported_media_type")
    as_json = api.call("POST", path, ADVERTISER, "advertiser", json={"spec": {}})
    assert_problem(as_json, 415, "unsupported_media_type")
    bad_spec = {"file": (io.BytesIO(b"a\n1\n"), "x.csv"), "spec": "{not json"}
    assert_problem(
        api.call("POST", path, ADVERTISER, "advertiser", data=bad_spec), 400, "invalid_request"
    )
    wrong_kind = {"file": (io.BytesIO(b"a\n1\n"), "x.parquet"), "spec": json.dumps(SPECS["crm"])}
    assert_problem(
        api.call("POST", path, ADVERTISER, "advertiser", data=wrong_kind), 422, "dataset_invalid"
    )


def test_a_purged_dataset_fails_later_runs_with_dataset_expired(
    api: RouteApi, tmp_path: Path
) -> None:
    cid, tid = setup_collaboration(api, tmp_path)
    crm = next(
        d
        for d in api.call(
            "GET", f"/v1/collaborations/{cid}/datasets", ADVERTISER, "advertiser"
        ).get_json()["items"]
        if d["name"] == "crm"
    )
    path = f"/v1/collaborations/{cid}/datasets/{crm['id']}"
    assert_problem(api.call("DELETE", path, RETAILER, "retailer_admin"), 403, "forbidden")
    deleted = api.call("DELETE", path, ADVERTISER, "advertiser")
    assert deleted.status_code == 200
    purged = deleted.get_json()
    assert purged["dataset_id"] == crm["id"]
    assert [v["version"] for v in purged["purged_versions"]] == [1]
    assert api.call("GET", path, ADVERTISER, "advertiser").get_json()["current_version"] is None
    assert_problem(api.start_run(cid, tid), 410, "dataset_expired")
    assert runs_of(api, cid) == []
