"""Rate limits on uploads, runs and previews: per principal and per client address, ``429
too_many_requests`` with ``Retry-After``, nothing charged or stored for a refused request; other
routes and other groups are not limited, and a limit of 0 turns a kind off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import TestResponse

from cleanroom.config import Settings
from cleanroom.services.auth import mint_token
from tests.web.route_world import (
    ADVERTISER,
    RUN_BODY,
    SPECS,
    RouteApi,
    setup_collaboration,
    write_world,
)
from tests.web.web_testing import assert_problem

LIMITED = {"rate_limit_per_principal": 2, "rate_limit_per_address": 3}


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[tuple[RouteApi, str, str]]:
    """A collaboration set up without limits, then served by an app with ``LIMITED``."""
    setup = RouteApi(settings.replace(rate_limit_per_principal=0, rate_limit_per_address=0))
    try:
        cid, tid = setup_collaboration(setup, tmp_path)
    finally:
        setup.close()
    api = RouteApi(settings.replace(**LIMITED))
    try:
        yield api, cid, tid
    finally:
        api.close()


def assert_limited(response: TestResponse) -> None:
    body = assert_problem(response, 429, "too_many_requests")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "retry in" in body["detail"]


def test_previews_limited_per_principal_and_per_address(world: tuple[RouteApi, str, str]) -> None:
    api, cid, tid = world
    path = f"/v1/collaborations/{cid}/runs/preview"
    body = {**RUN_BODY, "template_id": tid}

    def preview(subject: str, address: str = "127.0.0.1") -> TestResponse:
        token = mint_token(api.settings, ADVERTISER, "advertiser", subject)
        headers = {"Authorization": f"Bearer {token}"}
        environ = {"REMOTE_ADDR": address}
        return api.client.post(path, json=body, headers=headers, environ_base=environ)

    assert preview("ana@acme").status_code == 200
    assert preview("ana@acme").status_code == 200
    assert_limited(preview("ana@acme"))  # this principal's 2 a minute are used
    assert preview("bob@acme").status_code == 200
    assert_limited(preview("bob@acme"))  # this address's 3 a minute are used
    assert preview("bob@acme", address="10.0.0.9").status_code == 200  # another address
    # Another group and unlimited routes are unaffected.
    assert (
        api.call("GET", f"/v1/collaborations/{cid}/runs", ADVERTISER, "advertiser").status_code
        == 200
    )
    assert api.start_run(cid, tid).status_code == 202


def test_a_refused_run_charges_nothing(world: tuple[RouteApi, str, str]) -> None:
    api, cid, tid = world
    assert api.start_run(cid, tid).status_code == 202
    assert api.start_run(cid, tid).status_code == 202
    assert_limited(api.start_run(cid, tid))
    budget = api.call("GET", f"/v1/collaborations/{cid}/budget", ADVERTISER, "advertiser")
    line = next(b for b in budget.get_json()["items"] if b["org"] == ADVERTISER)
    assert line["spent"]["epsilon"] == pytest.approx(2.0)  # two runs of 1.0, not three
    runs = api.call("GET", f"/v1/collaborations/{cid}/runs", ADVERTISER, "advertiser")
    assert len(runs.get_json()["items"]) == 2


def test_a_refused_upload_stores_nothing(world: tuple[RouteApi, str, str], tmp_path: Path) -> None:
    api, cid, _ = world
    files = write_world(tmp_path / "again").files
    for _ in range(2):
        uploaded = api.upload(cid, ADVERTISER, SPECS["campaign_spend"], files["campaign_spend"])
        assert uploaded.status_code == 201, uploaded.get_json()
    assert_limited(api.upload(cid, ADVERTISER, SPECS["campaign_spend"], files["campaign_spend"]))
    listed = api.call("GET", f"/v1/collaborations/{cid}/datasets", ADVERTISER, "advertiser")
    spend = next(d for d in listed.get_json()["items"] if d["name"] == "campaign_spend")
    assert spend["current_version"]["version"] == 3  # the first upload and two more


def test_zero_turns_the_limits_off(settings: Settings, tmp_path: Path) -> None:
    api = RouteApi(settings.replace(rate_limit_per_principal=0, rate_limit_per_address=0))
    try:
        cid, tid = setup_collaboration(api, tmp_path)
        body = {**RUN_BODY, "template_id": tid}
        path = f"/v1/collaborations/{cid}/runs/preview"
        statuses = {
            api.call("POST", path, ADVERTISER, "advertiser", json=body).status_code
            for _ in range(12)
        }
        assert statuses == {200}
    finally:
        api.close()


def test_the_openapi_document_lists_429_on_limited_routes_only(settings: Settings) -> None:
    api = RouteApi(settings)
    try:
        paths = api.client.get("/openapi.json").get_json()["paths"]
    finally:
        api.close()
    limited = {
        ("/v1/collaborations/{cid}/datasets", "post"),
        ("/v1/collaborations/{cid}/runs", "post"),
        ("/v1/collaborations/{cid}/runs/preview", "post"),
    }
    for path, operations in paths.items():
        for method, operation in operations.items():
            listed = "429" in operation["responses"]
            assert listed == ((path, method) in limited), (path, method)
            if listed:
                ref = operation["responses"]["429"]["$ref"]
                assert ref == "#/components/responses/TooManyRequests"
    document = api.client.get("/openapi.json").get_json()
    for name in ("TooManyRequests", "Unavailable"):
        assert "Retry-After" in document["components"]["responses"][name]["headers"]
