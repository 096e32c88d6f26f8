"""Tenancy on every ``/v1`` route: outsiders get 404, members without the role 403, and one
partner never sees another partner's runs, reports or budget.

The routes are enumerated from Flask's URL map, so a new route without a row in ``CASES`` fails
``test_every_collaboration_route_has_a_tenancy_case``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cleanroom.config import Settings
from tests.web.route_world import (
    ADVERTISER,
    OTHER_PARTNER,
    OUTSIDER,
    RETAILER,
    RUN_BODY,
    SPECS,
    TEMPLATE_SQL,
    RouteApi,
    email_sha256,
    setup_collaboration,
)
from tests.web.web_testing import assert_problem

OTHER_RETAILER = "otherco"
Ids = dict[str, str]


def _crm_upload(ids: Ids) -> dict[str, Any]:
    csv_text = "email_sha256,segment\n" + f"{email_sha256(1)},loyal\n"
    return {
        "data": {
            "file": (io.BytesIO(csv_text.encode()), "crm.csv"),
            "spec": json.dumps(SPECS["crm"]),
        }
    }


def _json(body: dict[str, Any]) -> Callable[[Ids], dict[str, Any]]:
    return lambda ids: {"json": body}


def _run(ids: Ids) -> dict[str, Any]:
    return {"json": {**RUN_BODY, "template_id": ids["tid"]}}


def _none(ids: Ids) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Case:
    """How to call one route: a role allowed to, and a member role that is not (None: any is)."""

    allowed_role: str
    denied: tuple[str, str] | None  # (org, role) of a member who gets 403
    request: Callable[[Ids], dict[str, Any]] = _none


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/v1/collaborations/<cid>"): Case("partner_viewer", None),
    ("POST", "/v1/collaborations/<cid>/datasets"): Case(
        "advertiser", (ADVERTISER, "partner_viewer"), _crm_upload
    ),
    ("GET", "/v1/collaborations/<cid>/datasets"): Case("advertiser", (ADVERTISER, "auditor")),
    ("GET", "/v1/collaborations/<cid>/datasets/<did>"): Case("advertiser", (RETAILER, "auditor")),
    ("DELETE", "/v1/collaborations/<cid>/datasets/<did>"): Case(
        "advertiser", (ADVERTISER, "partner_viewer")
    ),
    ("POST", "/v1/collaborations/<cid>/suppressions"): Case(
        "retailer_admin",
        (ADVERTISER, "advertiser"),
        _json({"identifiers": [email_sha256(3)]}),
    ),
    ("POST", "/v1/collaborations/<cid>/suppressions/remove"): Case(
        "retailer_admin",
        (ADVERTISER, "advertiser"),
        _json({"identifiers": [email_sha256(3)]}),
    ),
    ("GET", "/v1/collaborations/<cid>/suppressions"): Case(
        "retailer_admin", (ADVERTISER, "advertiser")
    ),
    ("POST", "/v1/collaborations/<cid>/runs/<rid>/cancel"): Case(
        "advertiser", (ADVERTISER, "partner_viewer"), _json({})
    ),
    ("POST", "/v1/collaborations/<cid>/templates"): Case(
        "advertiser", (RETAILER, "retailer_admin"), _json({"sql": TEMPLATE_SQL})
    ),
    ("GET", "/v1/collaborations/<cid>/templates"): Case("partner_viewer", None),
    ("GET", "/v1/collaborations/<cid>/templates/<tid>"): Case("auditor", None),
    # An advertiser of the org owning the crm the template reads may approve it as data owner.
    ("POST", "/v1/collaborations/<cid>/templates/<tid>/approve"): Case(
        "retailer_admin", (ADVERTISER, "partner_viewer"), _json({})
    ),
    ("POST", "/v1/collaborations/<cid>/templates/<tid>/reject"): Case(
        "retailer_admin", (ADVERTISER, "partner_viewer"), _json({})
    ),
    ("POST", "/v1/collaborations/<cid>/templates/<tid>/revoke"): Case(
        "retailer_admin", (ADVERTISER, "retailer_admin"), _json({})
    ),
    ("POST", "/v1/collaborations/<cid>/runs/preview"): Case(
        "advertiser", (RETAILER, "retailer_admin"), _run
    ),
    ("POST", "/v1/collaborations/<cid>/runs"): Case(
        "advertiser", (ADVERTISER, "partner_viewer"), _run
    ),
    ("GET", "/v1/collaborations/<cid>/runs"): Case("advertiser", (ADVERTISER, "auditor")),
    ("GET", "/v1/collaborations/<cid>/runs/<rid>"): Case("partner_viewer", (RETAILER, "auditor")),
    ("GET", "/v1/collaborations/<cid>/runs/<rid>/report"): Case(
        "partner_viewer", (ADVERTISER, "auditor")
    ),
    ("GET", "/v1/collaborations/<cid>/kpis"): Case("advertiser", (ADVERTISER, "auditor")),
    ("GET", "/v1/collaborations/<cid>/kpis/governance"): Case("auditor", None),
    ("GET", "/v1/collaborations/<cid>/runs/<rid>/kpis"): Case(
        "partner_viewer", (ADVERTISER, "auditor")
    ),
    ("GET", "/v1/collaborations/<cid>/budget"): Case("auditor", None),
    ("POST", "/v1/collaborations/<cid>/budget/<org>/raise"): Case(
        "retailer_admin", (ADVERTISER, "advertiser"), _json({"add": {"epsilon": 1.0}})
    ),
    ("PATCH", "/v1/collaborations/<cid>"): Case(
        "retailer_admin", (RETAILER, "auditor"), _json({"policy": {"min_users_per_row": 20}})
    ),
    ("POST", "/v1/collaborations/<cid>/partners"): Case(
        "retailer_admin", (ADVERTISER, "advertiser"), _json({"org": "gamma"})
    ),
    ("POST", "/v1/collaborations/<cid>/partners/<org>/end"): Case(
        "retailer_admin", (OTHER_PARTNER, "advertiser"), _json({})
    ),
    ("GET", "/v1/collaborations/<cid>/audit"): Case("auditor", None),
    ("GET", "/v1/collaborations/<cid>/audit/verify"): Case("partner_viewer", None),
}
NOT_COLLABORATION_SCOPED = {
    ("GET", "/v1/whoami"),
    ("GET", "/v1/collaborations"),
    ("POST", "/v1/collaborations"),
}


@pytest.fixture
def api(settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(settings)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def world(api: RouteApi, tmp_path: Path) -> Ids:
    """Collaboration A (shopco with acme and beta) with a succeeded run of acme, and B, whose
    members (otherco, stranger) are the outsiders."""
    cid, tid = setup_collaboration(api, tmp_path, partners=(ADVERTISER, OTHER_PARTNER))
    started = api.start_run(cid, tid)
    assert started.status_code == 202
    assert api.run_pending() == 1
    datasets = api.call("GET", f"/v1/collaborations/{cid}/datasets", ADVERTISER, "advertiser")
    did = next(d["id"] for d in datasets.get_json()["items"] if d["name"] == "crm")
    body = {"name": "elsewhere", "partner_orgs": [OUTSIDER]}
    other = api.call("POST", "/v1/collaborations", OTHER_RETAILER, "retailer_admin", json=body)
    assert other.status_code == 201
    ids = {"cid": cid, "tid": tid, "rid": started.get_json()["id"], "did": did}
    return {**ids, "org": OTHER_PARTNER}  # the partner org the partner/budget routes name


def collaboration_routes(api: RouteApi) -> set[tuple[str, str]]:
    found = set()
    for rule in api.app.url_map.iter_rules():
        if rule.rule.startswith("/v1/"):
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                found.add((method, rule.rule))
    return found


def url(rule: str, ids: Ids) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: ids[m.group(1)], rule)


def test_every_collaboration_route_has_a_tenancy_case(api: RouteApi) -> None:
    assert collaboration_routes(api) == set(CASES) | NOT_COLLABORATION_SCOPED


def audit_count(api: RouteApi, cid: str) -> int:
    verified = api.call("GET", f"/v1/collaborations/{cid}/audit/verify", RETAILER, "auditor")
    return int(verified.get_json()["events"])


def test_outsiders_get_404_on_every_route(api: RouteApi, world: Ids) -> None:
    before = audit_count(api, world["cid"])
    for (method, rule), case in CASES.items():
        outsider = OTHER_RETAILER if case.allowed_role == "retailer_admin" else OUTSIDER
        response = api.call(
            method, url(rule, world), outsider, case.allowed_role, **case.request(world)
        )
        assert response.status_code == 404, (method, rule, response.get_json())
        assert_problem(response, 404, "not_found")
    # an outsider's request leaves no trace in a collaboration it must not learn exists
    assert audit_count(api, world["cid"]) == before


def test_members_without_the_role_get_403_on_every_route(api: RouteApi, world: Ids) -> None:
    refused = 0
    for (method, rule), case in CASES.items():
        if case.denied is None:
            continue
        org, role = case.denied
        response = api.call(method, url(rule, world), org, role, **case.request(world))
        assert response.status_code == 403, (method, rule, org, role, response.get_json())
        assert_problem(response, 403, "forbidden")
        refused += 1
    page = api.call(
        "GET", f"/v1/collaborations/{world['cid']}/audit?limit=1000", RETAILER, "auditor"
    )
    names = [event["name"] for event in page.get_json()["items"]]
    assert names.count("request.refused") >= refused


def test_collaboration_level_routes(api: RouteApi, world: Ids) -> None:
    listed = api.call("GET", "/v1/collaborations", OUTSIDER, "auditor").get_json()
    assert [c["name"] for c in listed["items"]] == ["elsewhere"]
    body = {"name": "mine", "partner_orgs": [RETAILER]}
    refused = api.call("POST", "/v1/collaborations", ADVERTISER, "advertiser", json=body)
    assert_problem(refused, 403, "forbidden")


def test_a_partner_never_sees_another_partners_runs_reports_or_budget(
    api: RouteApi, world: Ids
) -> None:
    cid, rid = world["cid"], world["rid"]
    for role in ("advertiser", "partner_viewer"):
        run = api.call("GET", f"/v1/collaborations/{cid}/runs/{rid}", OTHER_PARTNER, role)
        assert_problem(run, 404, "not_found")
        report = f"/v1/collaborations/{cid}/runs/{rid}/report"
        assert_problem(api.call("GET", report, OTHER_PARTNER, role), 404, "not_found")
        runs = api.call("GET", f"/v1/collaborations/{cid}/runs", OTHER_PARTNER, role)
        assert runs.get_json() == {"items": []}
        budget = api.call("GET", f"/v1/collaborations/{cid}/budget", OTHER_PARTNER, role)
        assert [line["org"] for line in budget.get_json()["items"]] == [OTHER_PARTNER]
        assert budget.get_json()["items"][0]["spent"]["epsilon"] == 0
    # nor run or preview the other partner's template
    for path in ("runs", "runs/preview"):
        response = api.call(
            "POST", f"/v1/collaborations/{cid}/{path}", OTHER_PARTNER, "advertiser", **_run(world)
        )
        assert_problem(response, 404, "not_found")
    # the retailer admin sees every partner's line and run; the owner partner its own
    budget = api.call("GET", f"/v1/collaborations/{cid}/budget", RETAILER, "retailer_admin")
    assert [line["org"] for line in budget.get_json()["items"]] == [ADVERTISER, OTHER_PARTNER]
    own = api.call("GET", f"/v1/collaborations/{cid}/runs", ADVERTISER, "partner_viewer")
    assert [r["id"] for r in own.get_json()["items"]] == [rid]
