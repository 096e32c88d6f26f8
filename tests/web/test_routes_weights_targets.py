"""Weights and accuracy targets through the routes, on SQLite and PostgreSQL: a preview with
``targets`` answers ``target`` (the smallest epsilon meeting them) and a run keeps its request's
``weights``; bad names and non-positive numbers are 400 invalid_request naming them, and
``targets`` belong to the preview only. The OpenAPI document describes the new members."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cleanroom.config import Settings
from tests.web.route_world import ADVERTISER, RUN_BODY, RouteApi, setup_collaboration


@pytest.fixture
def api(pg_settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(pg_settings)
    try:
        yield api
    finally:
        api.close()


def _post(api: RouteApi, path: str, body: dict[str, Any]) -> Any:
    return api.call("POST", path, ADVERTISER, "advertiser", json=body)


def test_targets_and_weights(api: RouteApi, tmp_path: Path) -> None:
    cid, tid = setup_collaboration(api, tmp_path)
    preview_path, runs_path = (
        f"/v1/collaborations/{cid}/runs/preview",
        f"/v1/collaborations/{cid}/runs",
    )
    body = {**RUN_BODY, "template_id": tid, "privacy_loss": {"epsilon": 1.0}}
    plain = _post(api, preview_path, body).get_json()
    half = plain["accuracy"]["half_widths"]["sales"]
    aimed = _post(api, preview_path, {**body, "targets": {"sales": 2 * half},
                                      "weights": {"sales": 3}})  # fmt: skip
    assert aimed.status_code == 200, aimed.get_json()
    target = aimed.get_json()["target"]
    assert (target["met"], target["affordable"]) == (True, True)
    assert 0 < target["epsilon"] < 1
    assert target["half_widths"]["sales"] <= 2 * half
    assert aimed.get_json()["weights"] == {"sales": 3.0}
    assert "target" not in plain

    started = _post(api, runs_path, {**body, "weights": {"sales": 3}})
    assert started.status_code == 202, started.get_json()
    assert started.get_json()["weights"] == {"sales": 3.0}
    assert api.run_pending() == 1
    report = api.call("GET", f"{runs_path}/{started.get_json()['id']}/report", ADVERTISER,
                      "advertiser").get_json()  # fmt: skip
    parts = {p["column"]: p["weight"] for p in report["loss_split"]["parts"]}
    assert parts["sales"] == 3.0


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"weights": {"salse": 3, "rech": 1}}, ["'rech'", "'salse'"]),
        ({"weights": {"sales": 0}}, ["weights.sales"]),
        ({"weights": {"sales": -2}}, ["weights.sales"]),
        ({"targets": {"salse": 100}}, ["'salse'"]),
        ({"targets": {"sales": 0}}, ["targets.sales"]),
        ({"targets": {"sales": -5}}, ["targets.sales"]),
    ],
)
def test_bad_weights_and_targets_are_400(
    api: RouteApi, tmp_path: Path, extra: dict[str, Any], words: list[str]
) -> None:
    cid, tid = setup_collaboration(api, tmp_path)
    body = {**RUN_BODY, "template_id": tid, "privacy_loss": {"epsilon": 1.0}, **extra}
    answer = _post(api, f"/v1/collaborations/{cid}/runs/preview", body)
    problem = answer.get_json()
    assert (answer.status_code, problem["code"]) == (400, "invalid_request"), problem
    text = str(problem)
    assert all(w in text for w in words), problem


def test_a_run_request_refuses_targets(api: RouteApi, tmp_path: Path) -> None:
    cid, tid = setup_collaboration(api, tmp_path)
    body = {**RUN_BODY, "template_id": tid, "targets": {"sales": 100}}
    answer = _post(api, f"/v1/collaborations/{cid}/runs", body)
    assert (answer.status_code, answer.get_json()["code"]) == (400, "invalid_request")
    assert "targets" in str(answer.get_json())
    budget = api.call("GET", f"/v1/collaborations/{cid}/budget", ADVERTISER, "advertiser")
    assert budget.get_json()["items"][0]["spent"]["epsilon"] == 0


def test_the_openapi_document_describes_weights_and_targets(api: RouteApi) -> None:
    document = api.client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert "weights" in schemas["RunRequest"]["properties"]
    assert "targets" not in schemas["RunRequest"]["properties"]
    assert {"weights", "targets"} <= set(schemas["RunPreviewRequest"]["properties"])
    assert "target" in schemas["RunPreview"]["properties"]
    assert "weights" in schemas["Run"]["properties"]
