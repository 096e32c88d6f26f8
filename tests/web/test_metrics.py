"""``GET /metrics``: Prometheus text that its own parser reads; request counts and latencies by
route template (never a raw path or an id), runs by status, epsilon charged and rows ingested move
with what happens; by default it needs the operator's metrics token (and is not found without
one: store totals span collaborations), can be open or off; a store outage shows as
``cleanroom_store_up 0`` rather than a failed scrape."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from cleanroom.config import Settings
from tests.web.route_world import ADVERTISER, RETAILER, RouteApi, setup_collaboration
from tests.web.web_testing import assert_problem

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: FlaskClient, **headers: str) -> tuple[str, Samples]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_with_requests_runs_budget_and_ingest(
    settings: Settings, tmp_path: Path
) -> None:
    api = RouteApi(settings.replace(metrics="open"))
    try:
        cid, tid = setup_collaboration(api, tmp_path)
        _, before = scrape(api.client)
        route = "/v1/collaborations/<cid>/runs"
        listed = api.call("GET", f"/v1/collaborations/{cid}/runs", RETAILER, "retailer_admin")
        assert listed.status_code == 200
        started = api.start_run(cid, tid)
        assert started.status_code == 202
        _, queued = scrape(api.client)
        api.run_pending()
        text, after = scrape(api.client)

        get = {"method": "GET", "route": route}
        count = "cleanroom_http_requests_total"
        assert (
            value(queued, count, status="200", **get)
            == value(before, count, status="200", **get) + 1
        )
        post = {"method": "POST", "route": route, "status": "202"}
        assert value(queued, count, **post) == value(before, count, **post) + 1
        latency = "cleanroom_http_request_duration_seconds_count"
        assert value(queued, latency, **get) == value(before, latency, **get) + 1
        assert value(queued, "cleanroom_runs", status="queued") == 1
        assert value(after, "cleanroom_runs", status="queued") == 0
        assert value(after, "cleanroom_runs", status="succeeded") == 1
        assert value(before, "cleanroom_budget_epsilon_charged") == 0
        assert value(after, "cleanroom_budget_epsilon_charged") == pytest.approx(1.0)
        assert value(after, "cleanroom_store_up") == 1
        datasets = api.call("GET", f"/v1/collaborations/{cid}/datasets", ADVERTISER, "advertiser")
        assert value(before, "cleanroom_ingest_rows_total") > 0
        # Uploads happened before the first scrape only.
        assert value(after, "cleanroom_ingest_rows_total") == value(
            before, "cleanroom_ingest_rows_total"
        )
        # Route templates only: no collaboration, template, run or dataset id, no org, no path.
        ids = [cid, tid, started.get_json()["id"]]
        ids += [d["id"] for d in datasets.get_json()["items"]]
        for forbidden in [*ids, "shopco", "acme", "/v1/collaborations/col_"]:
            assert forbidden not in text
    finally:
        api.close()


def test_unknown_paths_are_one_label(settings: Settings) -> None:
    api = RouteApi(settings.replace(metrics="open"))
    try:
        for n in range(3):
            assert api.client.get(f"/no/such/path/{n}").status_code == 404
        text, samples = scrape(api.client)
        unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
        assert value(samples, "cleanroom_http_requests_total", **unmatched) == 3
        assert "/no/such/path" not in text
    finally:
        api.close()


def test_by_default_metrics_need_the_operator_token(settings: Settings) -> None:
    untokened = RouteApi(settings)  # the default: metrics = "token", and no token set
    try:
        body = assert_problem(untokened.client.get("/metrics"), 404, "not_found")
        assert "metrics_token" in body["detail"]
        # A partner's bearer token is not the operator's token.
        partner = untokened.headers(ADVERTISER, "advertiser")
        assert_problem(untokened.client.get("/metrics", headers=partner), 404, "not_found")
    finally:
        untokened.close()
    token = "metrics-token-for-tests-0123456789"
    guarded = RouteApi(settings.replace(metrics_token=token))
    try:
        assert_problem(guarded.client.get("/metrics"), 401, "invalid_token")
        partner = guarded.headers(ADVERTISER, "advertiser")
        assert_problem(guarded.client.get("/metrics", headers=partner), 401, "invalid_token")
        scrape(guarded.client, Authorization=f"Bearer {token}")
    finally:
        guarded.close()
    off = RouteApi(settings.replace(metrics="off", metrics_token=token))
    try:
        authorized = off.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert_problem(authorized, 404, "not_found")
    finally:
        off.close()


def test_a_store_outage_is_a_gauge_not_a_failed_scrape(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://u@127.0.0.1:{port}/x"
    api = RouteApi(settings.replace(database_url=url, metrics="open"))
    try:
        _, samples = scrape(api.client)
        assert value(samples, "cleanroom_store_up") == 0
        assert ("cleanroom_runs", (("status", "queued"),)) not in samples
    finally:
        api.close()
