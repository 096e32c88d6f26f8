"""End to end over HTTP against a real gunicorn with 2 workers: the whole flow, and a budget race
of concurrent run requests that never overspends."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

from tests.system.live_server import LiveServer, serve
from tests.web.route_world import (
    ADVERTISER,
    OWNERS,
    POLICY,
    RETAILER,
    RUN_BODY,
    SPECS,
    TEMPLATE_SQL,
    World,
    write_world,
)

TIMEOUT = 60  # seconds, per request
RUN_SECONDS = 120.0  # the in-process workers pick up and finish a run within this
RACERS = 20
ADMITTED = 3

pytestmark = pytest.mark.slow


@pytest.fixture
def live_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with serve(tmp_path, database_url) as server:
        yield server


def role_of(org: str) -> str:
    return "retailer_admin" if org == RETAILER else "advertiser"


def checked(response: requests.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json() if "json" in response.headers.get("Content-Type", "") else None


def prepare(server: LiveServer, world: World, policy: dict[str, Any]) -> tuple[str, str]:
    """Collaboration, datasets, approved template over HTTP: (cid, tid)."""
    admin = server.headers(RETAILER, "retailer_admin")
    body = {"name": "q3", "partner_orgs": [ADVERTISER], "policy": policy}
    collab = checked(
        requests.post(
            f"{server.base}/v1/collaborations", json=body, headers=admin, timeout=TIMEOUT
        ),
        201,
    )
    cid = collab["id"]
    for name, path in world.files.items():
        with path.open("rb") as handle:
            response = requests.post(
                f"{server.base}/v1/collaborations/{cid}/datasets",
                files={"file": (path.name, handle)},
                data={"spec": json.dumps(SPECS[name])},
                headers=server.headers(OWNERS[name], role_of(OWNERS[name])),
                timeout=TIMEOUT,
            )
        checked(response, 201)
    advertiser = server.headers(ADVERTISER, "advertiser")
    template = checked(
        requests.post(
            f"{server.base}/v1/collaborations/{cid}/templates",
            json={"sql": TEMPLATE_SQL},
            headers=advertiser,
            timeout=TIMEOUT,
        ),
        201,
    )
    approve = f"{server.base}/v1/collaborations/{cid}/templates/{template['id']}/approve"
    decided = checked(requests.post(approve, json={}, headers=admin, timeout=TIMEOUT), 200)
    assert decided["awaiting_approval"] == [ADVERTISER]  # the template reads acme's crm
    checked(requests.post(approve, json={}, headers=advertiser, timeout=TIMEOUT), 200)
    return cid, template["id"]


def wait_for(server: LiveServer, location: str) -> dict[str, Any]:
    headers = server.headers(ADVERTISER, "partner_viewer")
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        run: dict[str, Any] = checked(
            requests.get(server.base + location, headers=headers, timeout=TIMEOUT), 200
        )
        if run["status"] in ("succeeded", "failed"):
            return run
        time.sleep(0.2)
    pytest.fail(f"the run did not finish within {RUN_SECONDS} s")


def test_full_flow_over_http(live_server: LiveServer, tmp_path: Path) -> None:
    server = live_server
    cid, tid = prepare(server, write_world(tmp_path / "world"), POLICY)
    advertiser = server.headers(ADVERTISER, "advertiser")
    started = requests.post(
        f"{server.base}/v1/collaborations/{cid}/runs",
        json={**RUN_BODY, "template_id": tid},
        headers={**advertiser, "Idempotency-Key": "flow-1"},
        timeout=TIMEOUT,
    )
    run = checked(started, 202)
    assert run["status"] in ("queued", "running")
    finished = wait_for(server, started.headers["Location"])
    assert finished["status"] == "succeeded", finished
    report_url = f"{server.base}/v1/collaborations/{cid}/runs/{run['id']}/report"
    report = checked(requests.get(report_url, headers=advertiser, timeout=TIMEOUT), 200)
    assert report["run_id"] == run["id"]
    assert report["columns"] == ["campaign_id", "reach", "sales"]
    as_csv = requests.get(report_url, params={"format": "csv"}, headers=advertiser, timeout=TIMEOUT)
    assert as_csv.status_code == 200
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["Content-Disposition"]
    assert len(list(csv.DictReader(io.StringIO(as_csv.text)))) == len(report["rows"])
    as_parquet = requests.get(
        report_url, params={"format": "parquet"}, headers=advertiser, timeout=TIMEOUT
    )
    assert as_parquet.status_code == 200
    table = pq.read_table(io.BytesIO(as_parquet.content))
    assert json.loads(table.schema.metadata[b"cleanroom.report"])["run_id"] == run["id"]
    budget = checked(
        requests.get(
            f"{server.base}/v1/collaborations/{cid}/budget", headers=advertiser, timeout=TIMEOUT
        ),
        200,
    )
    assert budget["items"][0]["spent"]["epsilon"] == pytest.approx(run["privacy_loss"]["epsilon"])
    auditor = server.headers(RETAILER, "auditor")
    verified = checked(
        requests.get(
            f"{server.base}/v1/collaborations/{cid}/audit/verify", headers=auditor, timeout=TIMEOUT
        ),
        200,
    )
    assert verified["ok"] is True
    assert verified["events"] > 5


def test_concurrent_runs_never_overspend(live_server: LiveServer, tmp_path: Path) -> None:
    server = live_server
    policy = {**POLICY, "epsilon_budget": float(ADMITTED), "max_epsilon_per_run": 1.0}
    cid, tid = prepare(server, write_world(tmp_path / "world", people=120), policy)
    url = f"{server.base}/v1/collaborations/{cid}/runs"
    headers = server.headers(ADVERTISER, "advertiser")
    body = {**RUN_BODY, "template_id": tid, "privacy_loss": {"epsilon": 1.0}}
    start = threading.Barrier(RACERS, timeout=TIMEOUT)

    def race(_: int) -> requests.Response:
        start.wait()
        return requests.post(url, json=body, headers=headers, timeout=TIMEOUT)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        responses = list(pool.map(race, range(RACERS)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] * ADMITTED + [409] * (RACERS - ADMITTED), [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        problem = refused.json()
        assert problem["code"] == "budget_exhausted"
        assert problem["remaining"]["epsilon"] < 1.0
    budget = checked(
        requests.get(
            f"{server.base}/v1/collaborations/{cid}/budget", headers=headers, timeout=TIMEOUT
        ),
        200,
    )
    line = budget["items"][0]
    assert line["spent"]["epsilon"] == pytest.approx(float(ADMITTED))
    assert line["spent"]["epsilon"] <= line["total"]["epsilon"] + 1e-9
    runs = checked(requests.get(url, headers=headers, timeout=TIMEOUT), 200)
    assert len(runs["items"]) == ADMITTED
    for accepted in (r for r in responses if r.status_code == 202):
        assert wait_for(server, accepted.headers["Location"])["status"] == "succeeded"
