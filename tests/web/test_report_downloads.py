"""Report downloads served from the per-process rendering cache: same bytes as a fresh
rendering, an audit event for every download, and no access check skipped on a cache hit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanroom.config import Settings
from cleanroom.services.reports import RenderedReports
from tests.web.route_world import ADVERTISER, OTHER_PARTNER, RETAILER, RouteApi, setup_collaboration


@pytest.fixture
def api(pg_settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(pg_settings)
    try:
        yield api
    finally:
        api.close()


def _downloads(api: RouteApi, cid: str, run_id: str) -> list[dict[str, object]]:
    audit = api.call("GET", f"/v1/collaborations/{cid}/audit?limit=500", RETAILER, "auditor")
    return [
        e["details"]
        for e in audit.get_json()["items"]
        if e["name"] == "report.downloaded" and e["details"]["run_id"] == run_id
    ]


def test_repeated_downloads_are_identical_and_each_audited(api: RouteApi, tmp_path: Path) -> None:
    cid, tid = setup_collaboration(api, tmp_path, partners=(ADVERTISER, OTHER_PARTNER))
    run_id = api.start_run(cid, tid).get_json()["id"]
    assert api.run_pending() == 1
    path = f"/v1/collaborations/{cid}/runs/{run_id}/report"
    stored = api.services().store.get_report(run_id).data()

    first = api.call("GET", path, ADVERTISER, "advertiser")
    second = api.call("GET", path + "?format=json", ADVERTISER, "partner_viewer")
    assert first.status_code == second.status_code == 200
    assert first.data == second.data == json.dumps(stored, sort_keys=True, indent=2).encode()
    assert first.headers["Content-Type"] == "application/json"
    for fmt in ("csv", "parquet"):
        once = api.call("GET", f"{path}?format={fmt}", RETAILER, "retailer_admin")
        twice = api.call("GET", f"{path}?format={fmt}", ADVERTISER, "advertiser")
        assert once.status_code == twice.status_code == 200
        assert once.data == twice.data
    assert len(_downloads(api, cid, run_id)) == 6


def test_a_cached_report_still_checks_access(api: RouteApi, tmp_path: Path) -> None:
    cid, tid = setup_collaboration(api, tmp_path, partners=(ADVERTISER, OTHER_PARTNER))
    run_id = api.start_run(cid, tid).get_json()["id"]
    assert api.run_pending() == 1
    path = f"/v1/collaborations/{cid}/runs/{run_id}/report"
    assert api.call("GET", path, ADVERTISER, "advertiser").status_code == 200  # now cached

    other = api.call("GET", path, OTHER_PARTNER, "advertiser")  # another partner's run
    assert (other.status_code, other.get_json()["code"]) == (404, "not_found")
    outsider = api.call("GET", path, "stranger", "advertiser")
    assert (outsider.status_code, outsider.get_json()["code"]) == (404, "not_found")
    auditor = api.call("GET", path, ADVERTISER, "auditor")  # may not read reports
    assert (auditor.status_code, auditor.get_json()["code"]) == (403, "forbidden")
    bad = api.call("GET", path + "?format=xml", ADVERTISER, "advertiser")
    assert (bad.status_code, bad.get_json()["code"]) == (400, "invalid_request")
    assert len(_downloads(api, cid, run_id)) == 1


def test_rendering_cache_is_bounded() -> None:
    cache = RenderedReports(max_bytes=100)
    cache.put(("big", "json"), b"x" * 26)  # over a quarter of the budget: never cached
    assert cache.get(("big", "json")) is None
    for i in range(10):
        cache.put((f"r{i}", "csv"), b"y" * 20)
    kept = [i for i in range(10) if cache.get((f"r{i}", "csv")) is not None]
    assert kept == [5, 6, 7, 8, 9]
    cache.get(("r5", "csv"))  # recently used: survives the next insertion
    cache.put(("r10", "csv"), b"z" * 20)
    assert cache.get(("r5", "csv")) is not None
    assert cache.get(("r6", "csv")) is None
