"""Numbers at their extremes: every one the API takes has a range, documented in /openapi.json and
docs/api.md; one outside it is 400 (or 422 for a dataset spec) naming the member, never a 500,
and refused before anything is charged or written (issue 15, defects 6, 8 and 9)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cleanroom import ranges
from cleanroom.config import Settings
from tests.web.route_world import (
    ADVERTISER,
    OWNERS,
    RETAILER,
    SPECS,
    TEMPLATE_SQL,
    RouteApi,
    setup_collaboration,
    write_world,
)

ROOT = Path(__file__).resolve().parents[2]
HUGE = "1" + "0" * 400  # an integer no double holds


@pytest.fixture
def api(pg_settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(pg_settings)
    try:
        yield api
    finally:
        api.close()


def _raw(api: RouteApi, method: str, path: str, org: str, role: str, body: str) -> Any:
    headers = {"Content-Type": "application/json"}
    return api.call(method, path, org, role, data=body, headers=headers)


def _refused(response: Any, status: int = 400) -> str:
    problem = response.get_json()
    assert (response.status_code, problem["code"]) == (status, "invalid_request"), problem
    return str(problem["detail"])


def _spent(api: RouteApi, cid: str) -> float:
    line = api.services().store.get_budget_line(cid, ADVERTISER)
    return float(line.spent_epsilon)


def test_policy_numbers_out_of_range_are_400(api: RouteApi) -> None:
    start = '{"name": "x", "partner_orgs": ["acme"], "policy": {'
    cases = [
        (f'"epsilon_budget": {HUGE}', "policy.epsilon_budget"),
        (f'"min_users_per_row": {HUGE}', "policy.min_users_per_row"),
        ('"min_users_per_row": 10000001', "policy.min_users_per_row"),
        ('"max_groups_per_user": 100000', "policy.max_groups_per_user"),
        ('"epsilon_budget": 1e300, "max_epsilon_per_run": 1e300', "epsilon"),
        ('"delta_budget": 0.9', "policy.delta_budget"),
        ('"budget_refresh": "P999999999999D"', "policy.budget_refresh"),
    ]
    for members, named in cases:
        response = _raw(api, "POST", "/v1/collaborations", RETAILER, "retailer_admin",
                        start + members + "}}")  # fmt: skip
        assert named in _refused(response), members
    assert api.services().store.list_collaborations(RETAILER) == []


def test_run_numbers_out_of_range_are_refused_before_any_charge(
    api: RouteApi, tmp_path: Path
) -> None:
    cid, tid = setup_collaboration(api, tmp_path)
    for path in (f"/v1/collaborations/{cid}/runs/preview", f"/v1/collaborations/{cid}/runs"):
        for loss in (HUGE, "5e-324", "1e-300", "0.0009", "101"):
            body = f'{{"template_id": "{tid}", "privacy_loss": {{"epsilon": {loss}}}}}'
            detail = _refused(_raw(api, "POST", path, ADVERTISER, "advertiser", body))
            assert "epsilon" in detail
        body = f'{{"template_id": "{tid}", "privacy_loss": {{"epsilon": 1, "delta": {HUGE}}}}}'
        assert "delta" in _refused(_raw(api, "POST", path, ADVERTISER, "advertiser", body))
    assert api.services().store.list_runs(cid, ADVERTISER) == []
    assert _spent(api, cid) == 0.0


def _approved(api: RouteApi, cid: str, sql: str) -> str:
    submitted = api.submit(cid, sql)
    assert submitted.status_code == 201, submitted.get_json()
    tid = str(submitted.get_json()["id"])
    approve = f"/v1/collaborations/{cid}/templates/{tid}/approve"
    decided = api.call("POST", approve, RETAILER, "retailer_admin", json={})
    assert decided.status_code == 200, decided.get_json()
    for owner in decided.get_json()["awaiting_approval"]:
        assert api.call("POST", approve, owner, "advertiser", json={}).status_code == 200
    return tid


def test_an_int_parameter_beyond_32_bits_is_refused_before_any_charge(
    api: RouteApi, tmp_path: Path
) -> None:
    cid = api.open_collaboration()
    api.register_world(cid, write_world(tmp_path / "world"))
    sql = (
        TEMPLATE_SQL.replace("-- name: crm_reach", "-- name: windowed")
        .replace(
            '-- param: brand str = "acme"',
            '-- param: brand str = "acme"\n-- param: window_days int = 14',
        )
        .replace(
            "AND t.brand = :brand",
            "AND t.brand = :brand AND t.txn_ts <= e.exposure_ts + INTERVAL (:window_days) DAY",
        )
    )
    tid = _approved(api, cid, sql)
    for days in (2**31, -(2**31) - 1):
        body = {"template_id": tid, "parameters": {"window_days": days},
                "privacy_loss": {"epsilon": 1.0}}  # fmt: skip
        response = api.call("POST", f"/v1/collaborations/{cid}/runs", ADVERTISER, "advertiser",
                            json=body)  # fmt: skip
        problem = response.get_json()
        assert (response.status_code, problem["code"]) == (400, "invalid_parameter"), problem
        assert "2147483647" in json.dumps(problem["problems"])
    assert api.services().store.list_runs(cid, ADVERTISER) == []
    assert _spent(api, cid) == 0.0


def test_a_noise_scale_beyond_the_cap_is_refused_at_preview_and_run(
    api: RouteApi, tmp_path: Path
) -> None:
    cid = api.open_collaboration()
    columns = {**SPECS["transactions"]["columns"]}
    columns["amount_cents"] = {**columns["amount_cents"], "bounds": [0, 1e15]}
    specs = {**SPECS, "transactions": {**SPECS["transactions"], "columns": columns}}
    for name, path in write_world(tmp_path / "world").files.items():
        uploaded = api.upload(cid, OWNERS[name], specs[name], path)
        assert uploaded.status_code == 201, uploaded.get_json()
    wide = TEMPLATE_SQL.replace("-- bounds: sales 0 20000", "-- bounds: sales 0 1e15")
    tid = _approved(api, cid, wide)
    for path in (f"/v1/collaborations/{cid}/runs/preview", f"/v1/collaborations/{cid}/runs"):
        body = {"template_id": tid, "privacy_loss": {"epsilon": 0.001, "delta": 1e-7}}
        response = api.call("POST", path, ADVERTISER, "advertiser", json=body)
        assert "scale of 1e+17" in _refused(response)
    assert api.services().store.list_runs(cid, ADVERTISER) == []
    assert _spent(api, cid) == 0.0


def test_template_and_budget_numbers_out_of_range_are_400(api: RouteApi, tmp_path: Path) -> None:
    cid, _ = setup_collaboration(api, tmp_path)
    templates = f"/v1/collaborations/{cid}/templates"
    sql = json.dumps(TEMPLATE_SQL.replace("-- bounds: sales 0 20000\n", ""))
    for bound in (HUGE, "1e16"):
        body = f'{{"sql": {sql}, "bounds": {{"sales": [0, {bound}]}}}}'
        assert "bounds.sales" in _refused(_raw(api, "POST", templates, ADVERTISER, "advertiser",
                                               body))  # fmt: skip
    raise_path = f"/v1/collaborations/{cid}/budget/{ADVERTISER}/raise"
    for body in (f'{{"add": {{"epsilon": {HUGE}}}}}', '{"total": {"epsilon": 1e308}}',
                 '{"add": {"delta": 0.6}}', '{"add": {"epsilon": 9999.5}}'):  # fmt: skip
        detail = _refused(_raw(api, "POST", raise_path, RETAILER, "retailer_admin", body))
        assert "epsilon" in detail or "delta" in detail, body
    line = api.services().store.get_budget_line(cid, ADVERTISER)
    assert (line.total_epsilon, line.total_delta) == (10.0, 1e-6)


def test_a_spec_number_out_of_range_writes_nothing(api: RouteApi, tmp_path: Path) -> None:
    cid = api.open_collaboration()
    world = write_world(tmp_path / "world")
    for key, value in (("retention_days", 10**9), ("retention_days", 0),
                       ("max_rows_per_user", 10**9)):  # fmt: skip
        spec = {**SPECS["transactions"], key: value}
        response = api.upload(cid, RETAILER, spec, world.files["transactions"])
        problem = response.get_json()
        assert (response.status_code, problem["code"]) == (422, "dataset_invalid"), problem
        assert key in problem["detail"]
    datasets = api.settings.datasets_dir
    assert not datasets.exists() or not any(p.is_file() for p in datasets.rglob("*"))
    assert api.services().store.list_datasets(cid) == []
    longest = {**SPECS["transactions"], "retention_days": ranges.RETENTION_DAYS.high}
    kept = api.upload(cid, RETAILER, longest, world.files["transactions"])
    assert kept.status_code == 201, kept.get_json()


def test_openapi_and_docs_state_the_ranges(api: RouteApi) -> None:
    document = api.client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    epsilon = schemas["RunRequest"]["properties"]["privacy_loss"]["properties"]["epsilon"]
    assert (epsilon["minimum"], epsilon["maximum"]) == (0.001, 100.0)
    policy = schemas["NewCollaboration"]["properties"]["policy"]["properties"]
    assert policy["min_users_per_row"] == ranges.MIN_USERS_PER_ROW.schema()
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = text[text.index("| number | range |") :]
    for name, value in vars(ranges).items():
        if isinstance(value, ranges.Range):
            low, high = (
                (f"{v:g}" if isinstance(v, float) else str(v)).replace("e+", "e")
                for v in (value.low, value.high)
            )
            assert re.search(rf"(?<![\w.]){re.escape(low)} to {re.escape(high)}\b", table), name
