"""What each member reads through the routes, on SQLite and PostgreSQL, with the partner as the
adversary: a dataset's exact figures for its owner org only (and a partner's dataset not at all
for another partner), a failed run's error for the run's org and the retailer only, and an audit
log whose every record any member can verify from what it is served (tests/web/
test_partner_isolation.py drives every route)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cleanroom.config import Settings
from cleanroom.store.chain import first_unverified
from tests.web.route_world import (
    ADVERTISER,
    OTHER_PARTNER,
    OWNERS,
    RETAILER,
    SPECS,
    RouteApi,
    setup_collaboration,
    write_world,
)
from tests.web.web_testing import assert_problem

FIGURES = {"row_count", "dropped_identifiers", "bytes", "max_rows_per_person"}
VERSION_KEYS = {"dataset_id", "version", "created_at", "expires_at", "purged_at"}
EXECUTION_FAILED = {
    "code": "execution_failed",
    "message": "the run failed while executing; the cause is not shown, it may depend on the data",
}
# Every (org, role) that is a member of the collaboration, auditors included.
MEMBERS = [
    (RETAILER, "retailer_admin"),
    (RETAILER, "auditor"),
    (ADVERTISER, "advertiser"),
    (ADVERTISER, "partner_viewer"),
    (ADVERTISER, "auditor"),
    (OTHER_PARTNER, "advertiser"),
    (OTHER_PARTNER, "partner_viewer"),
    (OTHER_PARTNER, "auditor"),
]
READERS = [m for m in MEMBERS if m[1] != "auditor"]  # the roles that read datasets


@pytest.fixture
def api(pg_settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(pg_settings)
    try:
        yield api
    finally:
        api.close()


def _audit(api: RouteApi, cid: str, org: str, role: str) -> list[dict[str, Any]]:
    page = api.call("GET", f"/v1/collaborations/{cid}/audit?limit=1000", org, role)
    assert page.status_code == 200, page.get_json()
    items: list[dict[str, Any]] = page.get_json()["items"]
    return items


def _everyone_verifies(api: RouteApi, cid: str) -> None:
    for org, role in MEMBERS:
        events = _audit(api, cid, org, role)
        assert first_unverified(events) is None, (org, role)
        assert not any("redacted" in e for e in events), (org, role)
        verified = api.call("GET", f"/v1/collaborations/{cid}/audit/verify", org, role)
        assert verified.get_json()["ok"] is True, (org, role)


def test_a_datasets_exact_figures_are_for_its_owner_org_only(api: RouteApi, tmp_path: Path) -> None:
    cid = api.open_collaboration((ADVERTISER, OTHER_PARTNER))
    world = write_world(tmp_path / "world")
    uploaded = {}
    for name, path in world.files.items():
        response = api.upload(cid, OWNERS[name], SPECS[name], path)
        assert response.status_code == 201, response.get_json()
        uploaded[name] = response.get_json()
    store = api.services().store
    for name, registered in uploaded.items():
        current = store.get_dataset(registered["id"]).current
        assert current is not None
        exact = {
            "row_count": current.row_count,
            "dropped_identifiers": current.dropped_identifiers,
            "bytes": current.size_bytes,
            "max_rows_per_person": current.max_rows_per_person,
        }
        # the uploader's org is the owner: its upload answer has the figures
        assert {k: registered["current_version"][k] for k in FIGURES} == exact
        assert registered["ingest"]["rows"] == current.row_count
        owner = OWNERS[name]
        path = f"/v1/collaborations/{cid}/datasets/{registered['id']}"
        for org, role in READERS:
            listed = api.call("GET", f"/v1/collaborations/{cid}/datasets", org, role).get_json()
            mine = [d for d in listed["items"] if d["id"] == registered["id"]]
            if org not in (owner, RETAILER) and owner != RETAILER:  # another partner's dataset
                assert_problem(api.call("GET", path, org, role), 404, "not_found")
                assert mine == []
                continue
            one = api.call("GET", path, org, role).get_json()
            assert mine == [one]
            assert (one["name"], one["owner_org"], one["spec"]) == (
                name, owner, registered["spec"],
            )  # fmt: skip
            version = one["current_version"]
            if org == owner:
                assert {k: version[k] for k in FIGURES} == exact, (name, org, role)
            else:
                assert set(version) == VERSION_KEYS, (name, org, role)
                assert version["version"] == 1
                assert version["created_at"] == registered["current_version"]["created_at"]
    assert uploaded["exposures"]["current_version"]["max_rows_per_person"] > 1  # a real maximum
    for org in (RETAILER, ADVERTISER, OTHER_PARTNER):  # auditors read no dataset routes
        refused = api.call("GET", f"/v1/collaborations/{cid}/datasets", org, "auditor")
        assert_problem(refused, 403, "forbidden")

    # the audit log every member reads: no figures in dataset.registered, and it verifies
    for org, role in MEMBERS:
        registered_events = [
            e for e in _audit(api, cid, org, role) if e["name"] == "dataset.registered"
        ]
        assert len(registered_events) == len(uploaded)
        for e in registered_events:
            if org == OTHER_PARTNER and e["org"] == ADVERTISER:
                assert e["withheld"] is True  # another partner's dataset: no details at all
                assert "details" not in e
                continue
            assert set(e["details"]) == {"dataset_id", "name", "kind", "version"}, e
    _everyone_verifies(api, cid)


def test_a_failed_runs_error_is_for_its_org_and_the_retailer_only(
    api: RouteApi, tmp_path: Path
) -> None:
    cid, tid = setup_collaboration(api, tmp_path, partners=(ADVERTISER, OTHER_PARTNER))
    started = api.start_run(cid, tid)
    assert started.status_code == 202
    rid = started.get_json()["id"]
    # the engine fails for real: a file the run reads is gone from the data directory
    store = api.services().store
    (crm,) = [d.current for d in store.list_datasets(cid) if d.name == "crm"]
    assert crm is not None
    stored = api.settings.data_dir / crm.path
    if stored.is_dir():
        shutil.rmtree(stored)
    else:
        stored.unlink()
    assert api.run_pending() == 1

    run_path = f"/v1/collaborations/{cid}/runs/{rid}"
    for org, role in ((ADVERTISER, "advertiser"), (ADVERTISER, "partner_viewer")):
        run = api.call("GET", run_path, org, role).get_json()
        assert (run["status"], run["error"]) == ("failed", EXECUTION_FAILED)
    admin_view = api.call("GET", run_path, RETAILER, "retailer_admin").get_json()
    assert admin_view["error"] == EXECUTION_FAILED
    listed = api.call("GET", f"/v1/collaborations/{cid}/runs", RETAILER, "retailer_admin")
    assert [r["error"] for r in listed.get_json()["items"]] == [EXECUTION_FAILED]
    for role in ("advertiser", "partner_viewer"):
        assert_problem(api.call("GET", run_path, OTHER_PARTNER, role), 404, "not_found")
        runs = api.call("GET", f"/v1/collaborations/{cid}/runs", OTHER_PARTNER, role)
        assert runs.get_json() == {"items": []}

    for org, role in MEMBERS:
        events = _audit(api, cid, org, role)
        (failed,) = [e for e in events if e["name"] == "run.failed"]
        assert failed["org"] == ADVERTISER
        if org in (ADVERTISER, RETAILER):  # the run's org and the retailer, auditors included
            assert failed["details"] == {"run_id": rid}
            assert failed["restricted"] == {"error": EXECUTION_FAILED}, (org, role)
        else:  # the other partner sees that some run of acme's failed, not which nor why
            assert failed["withheld"] is True
            assert "details" not in failed
            assert "restricted" not in failed, (org, role)
            assert "execution_failed" not in json.dumps(events)
            assert rid not in json.dumps(events)
    _everyone_verifies(api, cid)
