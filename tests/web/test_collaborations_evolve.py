"""Collaborations that evolve, end to end through the routes on SQLite and PostgreSQL: amending
the policy (tightening freely, loosening only when flagged), dates, adding and removing partners,
raising budgets and approval by every data owner. Each change is in the audit log; each bad
request gets a clear error and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from cleanroom.config import Settings
from tests.web.route_world import (
    ADVERTISER,
    OTHER_PARTNER,
    OUTSIDER,
    OWNERS,
    POLICY,
    RETAILER,
    RUN_BODY,
    SPECS,
    RouteApi,
    setup_collaboration,
    write_world,
)
from tests.web.web_testing import assert_problem

ADMIN = (RETAILER, "retailer_admin")
ANALYST = (ADVERTISER, "advertiser")
# Reads only the retailer's data: the retailer's approval is enough.
RETAILER_ONLY_SQL = """-- name: reach_only
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2"]
SELECT e.campaign_id, COUNT(DISTINCT e.pid) AS reach
FROM exposures AS e
WHERE e.campaign_id IN :campaign_ids
GROUP BY e.campaign_id
"""


@pytest.fixture
def api(pg_settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(pg_settings)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def room(api: RouteApi, tmp_path: Path) -> tuple[str, str]:
    """shopco with acme and beta, the world registered and the crm template approved."""
    return setup_collaboration(api, tmp_path, partners=(ADVERTISER, OTHER_PARTNER))


def _json(response: TestResponse, status: int) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def collab_of(api: RouteApi, cid: str, who: tuple[str, str] = ADMIN) -> dict[str, Any]:
    return dict(_json(api.call("GET", f"/v1/collaborations/{cid}", *who), 200))


def events(api: RouteApi, cid: str, who: tuple[str, str] = ADMIN) -> list[dict[str, Any]]:
    page = api.call("GET", f"/v1/collaborations/{cid}/audit?limit=1000", *who)
    return list(_json(page, 200)["items"])


def named(api: RouteApi, cid: str, name: str, who: tuple[str, str] = ADMIN) -> list[Any]:
    return [e for e in events(api, cid, who) if e["name"] == name]


def patch(api: RouteApi, cid: str, body: dict[str, Any], who: tuple[str, str] = ADMIN) -> Any:
    return api.call("PATCH", f"/v1/collaborations/{cid}", *who, json=body)


def run(api: RouteApi, cid: str, tid: str, epsilon: float = 1.0) -> TestResponse:
    return api.start_run(cid, tid, epsilon=epsilon)


def budget_of(api: RouteApi, cid: str, org: str) -> dict[str, Any]:
    lines = _json(api.call("GET", f"/v1/collaborations/{cid}/budget", *ADMIN), 200)["items"]
    return dict(next(line for line in lines if line["org"] == org))


def assert_verifies(api: RouteApi, cid: str) -> None:
    for who in (ADMIN, ANALYST, (OTHER_PARTNER, "advertiser"), (RETAILER, "auditor")):
        verified = _json(api.call("GET", f"/v1/collaborations/{cid}/audit/verify", *who), 200)
        assert verified["ok"] is True


# -- amending the policy ----------------------------------------------------------------------


def test_tightening_applies_at_once_and_is_audited(api: RouteApi, room: tuple[str, str]) -> None:
    cid, tid = room
    body = {"policy": {"min_users_per_row": 20, "max_epsilon_per_run": 1.0}, "reason": "legal"}
    done = _json(patch(api, cid, body), 200)
    assert done["changes"] == [
        {"field": "min_users_per_row", "from": 10, "to": 20, "effect": "tightens"},
        {"field": "max_epsilon_per_run", "from": 2.0, "to": 1.0, "effect": "tightens"},
    ]
    assert (done["loosening"], done["warnings"]) == ([], [])
    assert done["collaboration"]["revision"] == 1
    # every member reads the new terms at once (the cache of this process was replaced)
    assert collab_of(api, cid, ANALYST)["policy"]["min_users_per_row"] == 20
    refused = assert_problem(run(api, cid, tid, epsilon=1.5), 400, "invalid_request")
    assert "maximum per run (1.0)" in refused["detail"]
    started = _json(run(api, cid, tid, epsilon=1.0), 202)
    assert api.run_pending() == 1
    report = api.call("GET", f"/v1/collaborations/{cid}/runs/{started['id']}/report", *ANALYST)
    assert _json(report, 200)["min_users_per_row"] == 20  # the approved template ran as tightened
    (event,) = named(api, cid, "collaboration.updated")
    assert event["details"]["changes"] == done["changes"]
    assert event["details"]["loosening"] == []
    assert event["details"]["allow_loosening"] is False
    assert event["details"]["reason"] == "legal"
    for who in (ANALYST, (OTHER_PARTNER, "partner_viewer")):  # the terms are every member's
        (seen,) = named(api, cid, "collaboration.updated", who)
        assert seen["details"]["changes"] == done["changes"]
    assert_verifies(api, cid)


def test_loosening_needs_the_flag_and_is_recorded_as_such(
    api: RouteApi, room: tuple[str, str]
) -> None:
    cid, _ = room
    mixed = {"policy": {"min_users_per_row": 40, "max_epsilon_per_run": 3.0}}
    refused = assert_problem(patch(api, cid, mixed), 409, "policy_loosening")
    assert refused["loosening"] == ["max_epsilon_per_run"]
    assert "allow_loosening" in refused["detail"]
    after = collab_of(api, cid)
    assert (after["policy"], after["revision"]) == (POLICY, 0)  # not even the tightening applied
    assert named(api, cid, "collaboration.updated") == []
    refusals = [e for e in named(api, cid, "request.refused") if e["org"] == RETAILER]
    assert refusals[-1]["details"] == {"action": "collaboration.update", "code": "policy_loosening"}

    done = _json(patch(api, cid, {**mixed, "allow_loosening": True, "reason": "pilot"}), 200)
    assert done["loosening"] == ["max_epsilon_per_run"]
    (warning,) = done["warnings"]
    assert "weakens the privacy guarantee already given" in warning
    assert collab_of(api, cid)["policy"]["max_epsilon_per_run"] == 3.0
    (event,) = named(api, cid, "collaboration.updated")
    assert event["details"]["loosening"] == ["max_epsilon_per_run"]
    assert event["details"]["allow_loosening"] is True
    assert {c["field"]: c["effect"] for c in event["details"]["changes"]} == {
        "min_users_per_row": "tightens",
        "max_epsilon_per_run": "loosens",
    }


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        ({"policy": {"max_epsilon_per_run": 50.0}}, 400, "invalid_request", "<= epsilon_budget"),
        ({"policy": {"min_users_per_row": 5}}, 400, "invalid_request", "must be at least 10"),
        ({"policy": {"colour": "red"}}, 400, "invalid_request", "unknown member 'colour'"),
        ({"ends_at": "tomorrow"}, 400, "invalid_request", "ISO-8601 timestamp"),
        ({"ends_at": "2026-01-01T00:00:00"}, 400, "invalid_request", "with a time zone"),
        (
            {"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"},
            400,
            "invalid_request",
            "later than starts_at",
        ),
        ({"allow_loosening": "yes"}, 400, "invalid_request", "must be a boolean"),
    ],
)
def test_bad_amendments_are_refused_and_change_nothing(
    api: RouteApi, tmp_path: Path, body: dict[str, Any], status: int, code: str, fragment: str
) -> None:
    cid = api.open_collaboration()
    problem = assert_problem(patch(api, cid, body), status, code)
    assert fragment in problem["detail"]
    after = collab_of(api, cid)
    assert (after["policy"], after["revision"], after["ends_at"]) == (POLICY, 0, None)
    assert named(api, cid, "collaboration.updated") == []


def test_only_the_retailer_admin_amends(api: RouteApi, room: tuple[str, str]) -> None:
    cid, _ = room
    body = {"policy": {"min_users_per_row": 20}}
    assert_problem(patch(api, cid, body, ANALYST), 403, "forbidden")
    assert_problem(patch(api, cid, body, (RETAILER, "auditor")), 403, "forbidden")
    assert_problem(patch(api, cid, body, (OUTSIDER, "retailer_admin")), 404, "not_found")
    assert collab_of(api, cid)["policy"]["min_users_per_row"] == 10


def test_an_amendment_that_changes_nothing_writes_nothing(api: RouteApi, tmp_path: Path) -> None:
    cid = api.open_collaboration()
    before = len(events(api, cid))
    done = _json(patch(api, cid, {"policy": {"min_users_per_row": 10, "purposes": [
        "audience_sizing", "measurement"]}}), 200)  # fmt: skip
    assert (done["changes"], done["collaboration"]["revision"]) == ([], 0)
    assert len(events(api, cid)) == before


# -- dates ------------------------------------------------------------------------------------


def test_ending_the_collaboration_refuses_runs_and_keeps_data(
    api: RouteApi, room: tuple[str, str], tmp_path: Path
) -> None:
    cid, tid = room
    queued = _json(run(api, cid, tid), 202)
    done = _json(patch(api, cid, {"ends_at": "now", "reason": "campaign over"}), 200)
    assert [(c["field"], c["from"], c["effect"]) for c in done["changes"]] == [
        ("ends_at", None, "tightens")
    ]
    assert done["collaboration"]["status"] == "ended"
    closed = assert_problem(run(api, cid, tid), 409, "collaboration_closed")
    assert "ended at" in closed["detail"]
    preview = api.call(
        "POST", f"/v1/collaborations/{cid}/runs/preview", *ANALYST,
        json={**RUN_BODY, "template_id": tid},
    )  # fmt: skip
    assert_problem(preview, 409, "collaboration_closed")
    assert_problem(api.submit(cid, RETAILER_ONLY_SQL), 409, "collaboration_closed")
    upload = api.upload(cid, RETAILER, SPECS["transactions"], write_world(tmp_path / "w2").files[
        "transactions"])  # fmt: skip
    assert_problem(upload, 409, "collaboration_closed")
    add = api.call("POST", f"/v1/collaborations/{cid}/partners", *ADMIN, json={"org": "gamma"})
    assert_problem(add, 409, "collaboration_closed")
    # the run queued before the end is refused when it executes (its charge stays)
    assert api.run_pending() == 1
    failed = _json(api.call("GET", f"/v1/collaborations/{cid}/runs/{queued['id']}", *ANALYST), 200)
    assert (failed["status"], failed["error"]["code"]) == ("failed", "collaboration_closed")
    # reads go on, and datasets follow their retention (nothing is purged by the end)
    datasets = _json(api.call("GET", f"/v1/collaborations/{cid}/datasets", *ADMIN), 200)
    assert all(d["current_version"] is not None for d in datasets["items"])
    assert named(api, cid, "collaboration.updated")[0]["details"]["reason"] == "campaign over"

    # reopening is a loosening: refused without the flag, then recorded as one
    assert_problem(patch(api, cid, {"ends_at": None}), 409, "policy_loosening")
    reopened = _json(patch(api, cid, {"ends_at": None, "allow_loosening": True}), 200)
    assert (reopened["loosening"], reopened["collaboration"]["status"]) == (["ends_at"], "open")
    _json(run(api, cid, tid), 202)
    assert_verifies(api, cid)


def test_runs_wait_for_the_start_date(api: RouteApi, tmp_path: Path) -> None:
    starts = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    body = {"name": "q4", "partner_orgs": [ADVERTISER], "policy": POLICY,
            "starts_at": starts.isoformat()}  # fmt: skip
    created = _json(api.call("POST", "/v1/collaborations", *ADMIN, json=body), 201)
    cid = created["id"]
    assert (created["status"], created["starts_at"]) == ("scheduled", starts.isoformat())
    # datasets, templates and approvals can be prepared before the start
    api.register_world(cid, write_world(tmp_path))
    tid = api.approved_template(cid)
    closed = assert_problem(run(api, cid, tid), 409, "collaboration_closed")
    assert "opens at" in closed["detail"]
    assert_problem(patch(api, cid, {"starts_at": "now"}), 409, "policy_loosening")
    opened = _json(patch(api, cid, {"starts_at": "now", "allow_loosening": True}), 200)
    assert opened["collaboration"]["status"] == "open"
    _json(run(api, cid, tid), 202)
    # a later start again (a pause) only tightens
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    paused = _json(patch(api, cid, {"starts_at": later}), 200)
    assert paused["changes"][0]["effect"] == "tightens"
    assert_problem(run(api, cid, tid), 409, "collaboration_closed")


# -- partners ---------------------------------------------------------------------------------


def test_adding_a_partner_with_a_budget_of_its_own(api: RouteApi, tmp_path: Path) -> None:
    cid = api.open_collaboration()
    body = {"org": OTHER_PARTNER, "budget": {"epsilon": 4.0}, "reason": "new brand"}
    added = _json(api.call("POST", f"/v1/collaborations/{cid}/partners", *ADMIN, json=body), 201)
    assert added["collaboration"]["partner_orgs"] == [ADVERTISER, OTHER_PARTNER]
    assert added["budget"]["total"] == {"epsilon": 4.0, "delta": POLICY["delta_budget"]}
    assert budget_of(api, cid, OTHER_PARTNER)["total"]["epsilon"] == 4.0
    assert budget_of(api, cid, ADVERTISER)["total"]["epsilon"] == 10.0  # the others' stay
    # the newcomer is a member at once, and sees its own line only
    newcomer = (OTHER_PARTNER, "advertiser")
    assert collab_of(api, cid, newcomer)["id"] == cid
    own = _json(api.call("GET", f"/v1/collaborations/{cid}/budget", *newcomer), 200)["items"]
    assert [line["org"] for line in own] == [OTHER_PARTNER]
    (event,) = named(api, cid, "partner.added")
    assert event["details"]["partner_org"] == OTHER_PARTNER
    assert event["details"]["reason"] == "new brand"
    (line_set,) = named(api, cid, "budget.set")
    assert line_set["details"]["total"] == {"epsilon": 4.0, "delta": POLICY["delta_budget"]}
    assert named(api, cid, "budget.set", newcomer)[0]["details"]["partner_org"] == OTHER_PARTNER
    # a policy change still applies to its line, on top of its own adjustment
    _json(patch(api, cid, {"policy": {"epsilon_budget": 8.0}}), 200)
    assert budget_of(api, cid, OTHER_PARTNER)["total"]["epsilon"] == 2.0
    assert budget_of(api, cid, ADVERTISER)["total"]["epsilon"] == 8.0


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        ({"org": ADVERTISER}, 409, "conflict", "already a partner"),
        ({"org": RETAILER}, 400, "invalid_request", "retailer's own org"),
        ({"org": "gamma", "budget": {"epsilon": 0}}, 400, "invalid_request", "positive"),
        ({"org": "gamma", "budget": {}}, 400, "invalid_request", "budget must be an object"),
        ({"org": ""}, 400, "invalid_request", "at least 1"),
    ],
)
def test_bad_partner_additions_change_nothing(
    api: RouteApi, body: dict[str, Any], status: int, code: str, fragment: str
) -> None:
    cid = api.open_collaboration()
    path = f"/v1/collaborations/{cid}/partners"
    problem = assert_problem(api.call("POST", path, *ADMIN, json=body), status, code)
    assert fragment in problem["detail"]
    assert collab_of(api, cid)["partner_orgs"] == [ADVERTISER]
    assert named(api, cid, "partner.added") == []
    assert_problem(api.call("POST", path, *ANALYST, json={"org": "gamma"}), 403, "forbidden")


def test_ending_a_membership(api: RouteApi, room: tuple[str, str]) -> None:
    cid, tid = room
    done = _json(run(api, cid, tid), 202)
    assert api.run_pending() == 1
    queued = _json(run(api, cid, tid), 202)
    end = f"/v1/collaborations/{cid}/partners/{ADVERTISER}/end"
    ended = _json(api.call("POST", end, *ADMIN, json={"reason": "contract over"}), 200)
    assert ended["membership"]["org"] == ADVERTISER
    assert ended["membership"]["ended_at"]
    assert ended["purged_datasets"] == []
    assert ended["collaboration"]["partner_orgs"] == [OTHER_PARTNER]
    assert ended["collaboration"]["former_partner_orgs"] == [ADVERTISER]

    refused = assert_problem(run(api, cid, tid), 403, "membership_ended")
    assert "can still read" in refused["detail"]
    assert_problem(api.submit(cid, RETAILER_ONLY_SQL), 403, "membership_ended")
    raise_path = f"/v1/collaborations/{cid}/budget/{ADVERTISER}/raise"
    raised = api.call("POST", raise_path, *ADMIN, json={"add": {"epsilon": 1.0}})
    assert_problem(raised, 409, "conflict")
    assert api.run_pending() == 1  # the queued run is refused when it executes
    failed = _json(api.call("GET", f"/v1/collaborations/{cid}/runs/{queued['id']}", *ANALYST), 200)
    assert failed["error"]["code"] == "membership_ended"
    # what it did stays readable: its report, its budget line, the log
    report = f"/v1/collaborations/{cid}/runs/{done['id']}/report"
    assert api.call("GET", report, ADVERTISER, "partner_viewer").status_code == 200
    line = _json(api.call("GET", f"/v1/collaborations/{cid}/budget", *ANALYST), 200)["items"]
    assert line[0]["spent"]["epsilon"] == pytest.approx(2.0)
    assert collab_of(api, cid, ANALYST)["former_partner_orgs"] == [ADVERTISER]
    (event,) = named(api, cid, "partner.removed")
    assert event["details"] == {
        "partner_org": ADVERTISER, "purge_data": False, "reason": "contract over"
    }  # fmt: skip
    assert named(api, cid, "partner.removed", ANALYST)[0]["details"]["partner_org"] == ADVERTISER

    # ending it again is a conflict; its data is purged on request, later
    assert_problem(api.call("POST", end, *ADMIN, json={}), 409, "conflict")
    purged = _json(api.call("POST", end, *ADMIN, json={"purge_data": True}), 200)
    names = sorted(p["name"] for p in purged["purged_datasets"])
    assert names == sorted(n for n, owner in OWNERS.items() if owner == ADVERTISER)
    datasets = _json(api.call("GET", f"/v1/collaborations/{cid}/datasets", *ADMIN), 200)["items"]
    for dataset in datasets:
        assert (dataset["current_version"] is None) == (OWNERS[dataset["name"]] == ADVERTISER)
    deleted = named(api, cid, "dataset.deleted")
    assert {e["details"]["name"] for e in deleted} == set(names)
    assert {(e["actor"], e["org"]) for e in deleted} == {("system", ADVERTISER)}
    assert_verifies(api, cid)


def test_ending_a_membership_refuses_bad_requests(api: RouteApi, room: tuple[str, str]) -> None:
    cid, _ = room
    base = f"/v1/collaborations/{cid}/partners"
    assert_problem(api.call("POST", f"{base}/nobody/end", *ADMIN, json={}), 404, "not_found")
    assert_problem(
        api.call("POST", f"{base}/{RETAILER}/end", *ADMIN, json={}), 400, "invalid_request"
    )
    assert_problem(
        api.call("POST", f"{base}/{ADVERTISER}/end", *ANALYST, json={}), 403, "forbidden"
    )
    bad = api.call("POST", f"{base}/{ADVERTISER}/end", *ADMIN, json={"purge_data": "yes"})
    assert_problem(bad, 400, "invalid_request")
    assert collab_of(api, cid)["partner_orgs"] == [ADVERTISER, OTHER_PARTNER]
    assert named(api, cid, "partner.removed") == []


def test_a_former_partner_can_rejoin_with_its_line(api: RouteApi, room: tuple[str, str]) -> None:
    cid, tid = room
    _json(run(api, cid, tid), 202)
    end = f"/v1/collaborations/{cid}/partners/{ADVERTISER}/end"
    _json(api.call("POST", end, *ADMIN, json={}), 200)
    path = f"/v1/collaborations/{cid}/partners"
    with_budget = {"org": ADVERTISER, "budget": {"epsilon": 50.0}}
    assert_problem(api.call("POST", path, *ADMIN, json=with_budget), 400, "invalid_request")
    back = _json(api.call("POST", path, *ADMIN, json={"org": ADVERTISER}), 201)
    assert back["budget"]["spent"]["epsilon"] == pytest.approx(1.0)  # spent loss does not go away
    assert back["collaboration"]["former_partner_orgs"] == []
    _json(run(api, cid, tid), 202)
    assert named(api, cid, "partner.added")[-1]["details"]["rejoined"] is True


# -- budgets ----------------------------------------------------------------------------------


def test_raising_a_budget_warns_and_is_audited(api: RouteApi, room: tuple[str, str]) -> None:
    cid, tid = room
    path = f"/v1/collaborations/{cid}/budget/{ADVERTISER}/raise"
    body = {"add": {"epsilon": 2.0}, "reason": "q4 extension"}
    raised = _json(api.call("POST", path, *ADMIN, json=body), 200)
    assert raised["budget"]["total"]["epsilon"] == 12.0
    assert raised["previous_total"] == {"epsilon": 10.0, "delta": POLICY["delta_budget"]}
    assert "weakens the privacy guarantee already given" in raised["warning"]
    assert "epsilon=10" in raised["warning"]
    assert "epsilon=12" in raised["warning"]
    own = _json(api.call("GET", f"/v1/collaborations/{cid}/budget", *ANALYST), 200)["items"]
    assert own[0]["total"]["epsilon"] == 12.0
    assert budget_of(api, cid, OTHER_PARTNER)["total"]["epsilon"] == 10.0  # one partner's only
    to = _json(api.call("POST", path, *ADMIN, json={"total": {"epsilon": 15.0}}), 200)
    assert to["budget"]["total"] == {"epsilon": 15.0, "delta": POLICY["delta_budget"]}
    # the larger line is spendable: 15 runs' worth at epsilon 1 (the policy's 10 would stop at 10)
    for _ in range(15):
        _json(run(api, cid, tid), 202)
    assert_problem(run(api, cid, tid), 409, "budget_exhausted")
    first, second = named(api, cid, "budget.raised")
    assert first["details"] == {
        "partner_org": ADVERTISER,
        "previous_total": {"epsilon": 10.0, "delta": POLICY["delta_budget"]},
        "total": {"epsilon": 12.0, "delta": POLICY["delta_budget"]},
        "reason": "q4 extension",
    }
    assert second["details"]["total"]["epsilon"] == 15.0
    assert len(named(api, cid, "budget.raised", ANALYST)) == 2  # the affected partner sees them
    assert_verifies(api, cid)


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        ({"add": {"epsilon": -1.0}}, 400, "invalid_request", "must be at least 0"),
        ({"add": {"epsilon": 0.0}}, 400, "invalid_request", "by more than 0"),
        ({"total": {"epsilon": 5.0}}, 400, "invalid_request", "a raise can only add"),
        ({"total": {"epsilon": 10.0}}, 400, "invalid_request", "already has these totals"),
        ({"add": {"epsilon": 1.0}, "total": {"epsilon": 20.0}}, 400, "invalid_request", "either"),
        ({}, 400, "invalid_request", "either"),
        ({"add": {}}, 400, "invalid_request", "at least 1 member"),
    ],
)
def test_bad_raises_change_nothing(
    api: RouteApi, body: dict[str, Any], status: int, code: str, fragment: str
) -> None:
    cid = api.open_collaboration()
    path = f"/v1/collaborations/{cid}/budget/{ADVERTISER}/raise"
    problem = assert_problem(api.call("POST", path, *ADMIN, json=body), status, code)
    assert fragment in problem["detail"]
    assert budget_of(api, cid, ADVERTISER)["total"]["epsilon"] == 10.0
    assert named(api, cid, "budget.raised") == []


def test_raises_need_the_retailer_admin_and_a_partner(api: RouteApi) -> None:
    cid = api.open_collaboration()
    body = {"add": {"epsilon": 1.0}}
    base = f"/v1/collaborations/{cid}/budget"
    assert_problem(api.call("POST", f"{base}/{ADVERTISER}/raise", *ANALYST, json=body), 403,
                   "forbidden")  # fmt: skip
    assert_problem(api.call("POST", f"{base}/nobody/raise", *ADMIN, json=body), 404, "not_found")
    assert_problem(api.call("POST", f"{base}/{RETAILER}/raise", *ADMIN, json=body), 404,
                   "not_found")  # fmt: skip
    assert budget_of(api, cid, ADVERTISER)["total"]["epsilon"] == 10.0


# -- approval by every data owner -------------------------------------------------------------


def test_a_template_reading_a_partners_crm_needs_that_partners_approval(
    api: RouteApi, tmp_path: Path
) -> None:
    cid = api.open_collaboration((ADVERTISER, OTHER_PARTNER))
    api.register_world(cid, write_world(tmp_path / "world"))
    tid = _json(api.submit(cid), 201)["id"]
    approve = f"/v1/collaborations/{cid}/templates/{tid}/approve"
    by_retailer = _json(api.call("POST", approve, *ADMIN, json={"reason": "looks fine"}), 200)
    assert (by_retailer["status"], by_retailer["awaiting_approval"]) == ("pending", [ADVERTISER])
    retailer, owner = by_retailer["approvals"]
    assert (retailer["org"], retailer["as"], retailer["decision"]) == (
        RETAILER,
        "retailer",
        "approved",
    )
    assert retailer["datasets"] == ["crm", "exposures", "transactions"]
    assert retailer["decided_by"] == f"retailer_admin@{RETAILER}"
    assert (owner["org"], owner["as"], owner["datasets"], owner["decision"]) == (
        ADVERTISER, "data_owner", ["crm"], None,
    )  # fmt: skip
    # the retailer's approval alone is not enough
    assert_problem(run(api, cid, tid), 409, "template_not_approved")
    # nobody else decides for the owner
    assert_problem(
        api.call("POST", approve, ADVERTISER, "partner_viewer", json={}), 403, "forbidden"
    )
    assert_problem(
        api.call("POST", approve, OTHER_PARTNER, "advertiser", json={}), 404, "not_found"
    )
    assert_problem(api.call("POST", approve, *ADMIN, json={}), 409, "conflict")  # already did

    approved = _json(api.call("POST", approve, *ANALYST, json={"reason": "our crm"}), 200)
    assert (approved["status"], approved["awaiting_approval"]) == ("approved", [])
    assert approved["approvals"][1]["decision"] == "approved"
    assert approved["approvals"][1]["reason"] == "our crm"
    # the review shows who approved what, to the retailer and to the owner
    for who in (ADMIN, ANALYST, (RETAILER, "auditor")):
        review = _json(api.call("GET", f"/v1/collaborations/{cid}/templates/{tid}", *who), 200)
        assert [(a["org"], a["decision"]) for a in review["approvals"]] == [
            (RETAILER, "approved"), (ADVERTISER, "approved"),
        ]  # fmt: skip
    _json(run(api, cid, tid), 202)
    decisions = named(api, cid, "template.approved")
    assert [(e["org"], e["details"]["approved_as"], e["details"]["status"]) for e in decisions] == [
        (RETAILER, "retailer", "pending"), (ADVERTISER, "data_owner", "approved"),
    ]  # fmt: skip
    assert decisions[0]["details"]["awaiting"] == [ADVERTISER]
    assert_verifies(api, cid)


def test_the_owner_may_approve_first_or_reject(api: RouteApi, tmp_path: Path) -> None:
    cid = api.open_collaboration()
    api.register_world(cid, write_world(tmp_path / "world"))
    first = _json(api.submit(cid), 201)["id"]
    path = f"/v1/collaborations/{cid}/templates/{first}"
    assert _json(api.call("POST", path + "/approve", *ANALYST, json={}), 200)["status"] == "pending"
    assert _json(api.call("POST", path + "/approve", *ADMIN, json={}), 200)["status"] == "approved"

    second = _json(api.submit(cid), 201)["id"]  # version 2, needs both again
    path = f"/v1/collaborations/{cid}/templates/{second}"
    rejected = _json(api.call("POST", path + "/reject", *ANALYST, json={"reason": "not ours"}), 200)
    assert rejected["status"] == "rejected"
    assert rejected["approvals"][1]["decision"] == "rejected"
    assert_problem(api.call("POST", path + "/approve", *ADMIN, json={}), 409, "conflict")
    (event,) = named(api, cid, "template.rejected")
    assert (event["org"], event["details"]["approved_as"]) == (ADVERTISER, "data_owner")


def test_a_template_reading_only_the_retailers_data_needs_only_the_retailer(
    api: RouteApi, tmp_path: Path
) -> None:
    cid = api.open_collaboration()
    api.register_world(cid, write_world(tmp_path / "world"))
    tid = _json(api.submit(cid, RETAILER_ONLY_SQL), 201)["id"]
    approve = f"/v1/collaborations/{cid}/templates/{tid}/approve"
    refused = assert_problem(api.call("POST", approve, *ANALYST, json={}), 403, "forbidden")
    assert "reads no personal dataset of acme" in refused["detail"]
    approved = _json(api.call("POST", approve, *ADMIN, json={}), 200)
    assert (approved["status"], len(approved["approvals"])) == ("approved", 1)
    body = {"template_id": tid, "privacy_loss": {"epsilon": 1.0}}
    _json(api.call("POST", f"/v1/collaborations/{cid}/runs", *ANALYST, json=body), 202)
