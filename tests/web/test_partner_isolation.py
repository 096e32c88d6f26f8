"""Partner isolation on every route, on SQLite and PostgreSQL: two competing advertisers and a
retailer in one collaboration, driven through the HTTP API.

Advertiser ``acme`` (A) submits templates with distinctive SQL, names and parameter values, runs
one to success and one to failure and registers datasets. Then every route of the app (enumerated
from Flask's URL map; a route without a row in ``EXPECTED`` fails the test) is called with A's ids
as ``beta``'s (B) advertiser, viewer and auditor, the retailer admin and the retailer's auditor.
Statuses follow the permission and visibility tables; every body B is served (JSON, CSV, Parquet
bytes) is scanned for A's SQL fragments, names, parameter values, ids, actors and privacy loss; the
retailer and its auditor see A's things; the audit chain verifies for every member from what it
is served.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from cleanroom.config import Settings
from cleanroom.store.chain import first_unverified
from tests.web.route_world import (
    ADVERTISER,
    OTHER_PARTNER,
    RETAILER,
    SPECS,
    TEMPLATE_SQL,
    RouteApi,
    email_sha256,
    write_csv,
    write_world,
)
from tests.web.test_tenancy import url

A, B = ADVERTISER, OTHER_PARTNER
Who = tuple[str, str]
B_ADVERTISER: Who = (B, "advertiser")
B_VIEWER: Who = (B, "partner_viewer")
B_AUDITOR: Who = (B, "auditor")
ADMIN: Who = (RETAILER, "retailer_admin")
AUDITOR: Who = (RETAILER, "auditor")
ADVERSARIES = (B_ADVERTISER, B_VIEWER, B_AUDITOR)
SEE_ALL = (ADMIN, AUDITOR)
CALLERS = (*ADVERSARIES, *SEE_ALL)

# A's secrets: what B must never be served. Each is distinctive enough not to occur by chance.
A_EPSILON, A_FAILING_EPSILON = 1.2345678, 0.8765432
A_RAISE = 0.7654321  # the retailer's raise of A's budget (10 + A_RAISE is A's new total)
A_BRAND = "zeta-brand-8812"
A_TEMPLATE_NAME = "zeta_crm_reach"
A_SQL = f"""-- name: {A_TEMPLATE_NAME}
-- description: zeta-secret-description-4471
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2"]
-- param: brand str = "{A_BRAND}"
-- bounds: zeta_sales_4471 0 20000
SELECT e.campaign_id, COUNT(DISTINCT e.pid) AS zeta_reach_4471,
       SUM(t.amount_cents) AS zeta_sales_4471
FROM exposures AS e
JOIN crm AS c ON c.pid = e.pid
LEFT JOIN transactions AS t ON t.pid = e.pid AND t.brand = :brand
WHERE e.campaign_id IN :campaign_ids
GROUP BY e.campaign_id
"""
A_TIERS_SPEC: dict[str, Any] = {
    "name": "zeta_loyalty_tiers",
    "kind": "personal",
    "max_rows_per_user": 1,
    "retention_days": 90,
    "purposes": ["measurement"],
    "columns": {
        "email_sha256": {"role": "identifier"},
        "tier": {"role": "dimension", "values": ["zeta-gold-5512", "zeta-silver-5512"]},
    },
}
FIXED_SECRETS = (
    "zeta-secret-description-4471", "zeta_reach_4471", "zeta_sales_4471", A_TEMPLATE_NAME,
    A_BRAND, "zeta_loyalty_tiers", "zeta-gold-5512", repr(A_EPSILON), repr(A_FAILING_EPSILON),
    repr(A_RAISE), repr(10.0 + A_RAISE),
    "advertiser@acme", "partner_viewer@acme", "execution_failed",
)  # fmt: skip


@dataclass
class World:
    cid: str
    ids: dict[str, str]  # path parameter -> A's id (tid, rid, did)
    secrets: list[str]  # FIXED_SECRETS plus A's ids and budget figures


def _json(body: dict[str, Any]) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"json": body}


def _run(world: World) -> dict[str, Any]:
    body = {"template_id": world.ids["tid"], "parameters": {"brand": "x"}}
    return {"json": {**body, "privacy_loss": {"epsilon": 0.5}}}


def _upload(world: World) -> dict[str, Any]:
    csv_text = "email_sha256,segment\n" + "".join(f"{email_sha256(i)},loyal\n" for i in range(3))
    form = {"file": (io.BytesIO(csv_text.encode()), "crm.csv"), "spec": json.dumps(SPECS["crm"])}
    return {"data": form}


def _none(world: World) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Route:
    """Expected status per caller when called with A's ids, and how to build the request."""

    statuses: dict[Who, int]
    request: Callable[[World], dict[str, Any]] = _none


def _each(status: int) -> dict[Who, int]:
    return dict.fromkeys(CALLERS, status)


def _statuses(b_adv: int, b_view: int, b_aud: int, admin: int, auditor: int) -> dict[Who, int]:
    return dict(zip(CALLERS, (b_adv, b_view, b_aud, admin, auditor), strict=True))


C = "/v1/collaborations/<cid>"
# 404: hidden by the visibility table (as an unknown id); 403: the role may not (permissions).
EXPECTED: dict[tuple[str, str], Route] = {
    ("GET", "/healthz"): Route(_each(200)),
    ("GET", "/readyz"): Route(_each(200)),
    ("GET", "/openapi.json"): Route(_each(200)),
    ("GET", "/metrics"): Route(_each(404)),  # for operators, with their own token only
    ("GET", "/v1/whoami"): Route(_each(200)),
    ("GET", "/v1/collaborations"): Route(_each(200)),
    ("POST", "/v1/collaborations"): Route(
        _statuses(403, 403, 403, 201, 403), _json({"name": "x", "partner_orgs": ["gamma"]})
    ),
    ("GET", C): Route(_each(200)),
    # B's advertiser registers its own "crm" (names are per org); the retailer may not shadow it
    ("POST", f"{C}/datasets"): Route(_statuses(201, 403, 403, 409, 403), _upload),
    ("GET", f"{C}/datasets"): Route(_statuses(200, 200, 403, 200, 403)),
    ("GET", f"{C}/datasets/<did>"): Route(_statuses(404, 404, 403, 200, 403)),
    ("DELETE", f"{C}/datasets/<did>"): Route(_statuses(404, 403, 403, 403, 403)),
    ("POST", f"{C}/suppressions"): Route(
        _statuses(403, 403, 403, 202, 403), _json({"identifiers": [email_sha256(7)]})
    ),
    ("POST", f"{C}/suppressions/remove"): Route(
        _statuses(403, 403, 403, 200, 403), _json({"identifiers": [email_sha256(8)]})
    ),
    ("GET", f"{C}/suppressions"): Route(_statuses(403, 403, 403, 200, 403)),
    ("POST", f"{C}/templates"): Route(
        _statuses(201, 403, 403, 403, 403), _json({"sql": TEMPLATE_SQL})
    ),
    ("GET", f"{C}/templates"): Route(_each(200)),
    ("GET", f"{C}/templates/<tid>"): Route(_statuses(404, 404, 404, 200, 200)),
    # an advertiser decides as a data owner, on templates it sees: B does not see A's
    ("POST", f"{C}/templates/<tid>/approve"): Route(_statuses(404, 403, 403, 409, 403), _json({})),
    ("POST", f"{C}/templates/<tid>/reject"): Route(_statuses(404, 403, 403, 409, 403), _json({})),
    ("POST", f"{C}/runs/preview"): Route(_statuses(404, 403, 403, 403, 403), _run),
    ("POST", f"{C}/runs"): Route(_statuses(404, 403, 403, 403, 403), _run),
    ("GET", f"{C}/runs"): Route(_statuses(200, 200, 403, 200, 403)),
    ("GET", f"{C}/runs/<rid>"): Route(_statuses(404, 404, 403, 200, 403)),
    ("GET", f"{C}/runs/<rid>/report"): Route(_statuses(404, 404, 403, 200, 403)),
    # A's run has finished: the retailer's cancel is a 409, B never learns it exists
    ("POST", f"{C}/runs/<rid>/cancel"): Route(_statuses(404, 403, 403, 409, 403), _json({})),
    # the kpis report reads released reports: B sees no campaign_kpis run of its own, nor does
    # the retailer here (A ran another template); auditors may not read reports
    ("GET", f"{C}/kpis"): Route(_statuses(404, 404, 403, 404, 403)),
    ("GET", f"{C}/kpis/governance"): Route(_each(200)),  # the caller's own org's data only
    ("GET", f"{C}/runs/<rid>/kpis"): Route(_statuses(404, 404, 403, 200, 403)),
    ("GET", f"{C}/budget"): Route(_each(200)),
    ("GET", f"{C}/audit"): Route(_each(200)),
    ("GET", f"{C}/audit/verify"): Route(_each(200)),
    ("PATCH", C): Route(
        _statuses(403, 403, 403, 200, 403), _json({"policy": {"min_users_per_row": 12}})
    ),
    ("POST", f"{C}/budget/<org>/raise"): Route(
        _statuses(403, 403, 403, 200, 403), _json({"add": {"epsilon": A_RAISE}})
    ),
    ("POST", f"{C}/partners"): Route(_statuses(403, 403, 403, 201, 403), _json({"org": "gamma"})),
    # last: the retailer's revocation changes A's template, the end of A's membership A
    ("POST", f"{C}/templates/<tid>/revoke"): Route(_statuses(403, 403, 403, 200, 403), _json({})),
    ("POST", f"{C}/partners/<org>/end"): Route(_statuses(403, 403, 403, 200, 403), _json({})),
}


@pytest.fixture
def api(pg_settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(pg_settings)
    try:
        yield api
    finally:
        api.close()


def _ok(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _a_world(api: RouteApi, tmp_path: Path) -> World:
    """The collaboration with A's activity (and a little of B's own)."""
    cid = api.open_collaboration((A, B))
    world = write_world(tmp_path / "world")
    ids = api.register_world(cid, world)
    tiers = tmp_path / "tiers.csv"
    rows = [{"email_sha256": email_sha256(i), "tier": "zeta-gold-5512"} for i in range(50)]
    write_csv(tiers, rows)
    a_tiers = _ok(api.upload(cid, A, A_TIERS_SPEC, tiers), 201)
    # B's own datasets (the same names as A's: names are per org) and template
    for name in ("crm", "campaign_spend"):
        _ok(api.upload(cid, B, SPECS[name], world.files[name]), 201)
    _ok(api.submit(cid, org=B), 201)
    submitted = _ok(api.call("POST", f"/v1/collaborations/{cid}/templates", A, "advertiser",
                             json={"sql": A_SQL}), 201)  # fmt: skip
    tid = submitted["id"]
    approve = f"/v1/collaborations/{cid}/templates/{tid}/approve"
    _ok(api.call("POST", approve, *ADMIN, json={"reason": "ok"}))
    _ok(api.call("POST", approve, A, "advertiser", json={}))  # as the owner of the crm it reads
    body = {"template_id": tid, "parameters": {"brand": A_BRAND, "campaign_ids": ["c1"]}}
    ran = api.call("POST", f"/v1/collaborations/{cid}/runs", A, "advertiser",
                   json={**body, "privacy_loss": {"epsilon": A_EPSILON}})  # fmt: skip
    rid = _ok(ran, 202)["id"]
    assert api.run_pending() == 1
    report = f"/v1/collaborations/{cid}/runs/{rid}/report"
    _ok(api.call("GET", report, A, "partner_viewer"))
    # a second run fails for real: a file it reads is gone from the data directory
    failing = api.call("POST", f"/v1/collaborations/{cid}/runs", A, "advertiser",
                       json={**body, "privacy_loss": {"epsilon": A_FAILING_EPSILON}})  # fmt: skip
    failed_rid = _ok(failing, 202)["id"]
    crm = api.services().store.get_dataset(ids["crm"]).current
    assert crm is not None
    stored = api.settings.data_dir / crm.path
    if stored.is_dir():
        shutil.rmtree(stored)
    else:
        stored.unlink()
    assert api.run_pending() == 1
    failed = _ok(api.call("GET", f"/v1/collaborations/{cid}/runs/{failed_rid}", A, "advertiser"))
    assert failed["status"] == "failed"
    assert (
        _ok(api.call("GET", f"/v1/collaborations/{cid}/runs/{rid}", A, "advertiser"))["status"]
        == "succeeded"
    )
    line = next(
        line
        for line in _ok(api.call("GET", f"/v1/collaborations/{cid}/budget", A, "advertiser"))[
            "items"
        ]
        if line["org"] == A
    )
    figures = [repr(line[k]["epsilon"]) for k in ("spent", "remaining")]
    a_ids = [tid, rid, failed_rid, ids["crm"], ids["campaign_spend"], a_tiers["id"]]
    return World(
        cid,
        {"tid": tid, "rid": rid, "did": ids["crm"], "failed_rid": failed_rid},
        [*FIXED_SECRETS, *a_ids, *figures],
    )


def _rules(api: RouteApi) -> set[tuple[str, str]]:
    found = set()
    for rule in api.app.url_map.iter_rules():
        # The console's pages call the same services; tests/web/test_console_pages.py holds its
        # isolation cases.
        if rule.endpoint == "static" or rule.endpoint.startswith("console.") or rule.rule == "/":
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            found.add((method, rule.rule))
    return found


def test_every_route_has_an_isolation_row(api: RouteApi) -> None:
    assert _rules(api) == set(EXPECTED), "add the new route to EXPECTED (and the tables)"


def _bodies(response: TestResponse) -> str:
    """Everything served, as text: JSON and CSV as is, Parquet bytes decoded leniently (its
    key-value metadata and dictionary pages hold strings in the clear)."""
    return response.get_data().decode("utf-8", errors="replace")


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


def _variants(method: str, rule: str) -> list[str]:
    if rule.endswith("/report"):
        return ["?format=json", "?format=csv", "?format=parquet"]
    if rule.endswith("/audit"):
        return ["?limit=1000"]
    if rule.endswith(">/kpis"):
        return ["?campaign_id=c1"]
    return [""]


def test_every_route_as_the_other_partner_the_retailer_and_the_auditor(
    api: RouteApi, tmp_path: Path
) -> None:
    world = _a_world(api, tmp_path)
    assert _rules(api) == set(EXPECTED)
    path_ids = {"cid": world.cid, "org": A, **world.ids}
    served: dict[Who, list[str]] = {who: [] for who in CALLERS}
    for (method, rule), expected in EXPECTED.items():
        for who in CALLERS:
            for query in _variants(method, rule):
                response = api.call(
                    method, url(rule, path_ids) + query, *who, **expected.request(world)
                )
                assert response.status_code == expected.statuses[who], (
                    method, rule, query, who, response.get_data(as_text=True),
                )  # fmt: skip
                text = _bodies(response)
                served[who].append(text)
                if who in ADVERSARIES:
                    assert not _leaks(text, world.secrets), (method, rule, query, who, text)
    # after the retailer changed A's budget and membership, every read shows B nothing more
    for (method, rule), expected in EXPECTED.items():
        if method != "GET":
            continue
        for who in ADVERSARIES:
            for query in _variants(method, rule):
                response = api.call(method, url(rule, path_ids) + query, *who)
                assert response.status_code == expected.statuses[who], (rule, who)
                assert not _leaks(_bodies(response), world.secrets), (rule, query, who)
    # the failed run is hidden from B just as the succeeded one
    for who in ADVERSARIES:
        response = api.call("GET", f"/v1/collaborations/{world.cid}/runs/{world.ids['failed_rid']}",
                            *who)  # fmt: skip
        assert response.status_code in (403, 404)
        assert not _leaks(_bodies(response), world.secrets)
    # the retailer and its auditor were shown A's things (the scan is not vacuous)
    admin_text, auditor_text = "\n".join(served[ADMIN]), "\n".join(served[AUDITOR])
    for secret in ("zeta_sales_4471", A_TEMPLATE_NAME, A_BRAND, repr(A_EPSILON), world.ids["tid"]):
        assert secret in admin_text, secret
        assert secret in auditor_text, secret  # templates and the audit log in full
    assert "zeta-gold-5512" in admin_text  # A's dataset spec: the retailer sees every dataset
    assert "execution_failed" in admin_text  # the failed run's error, for the retailer


def _audit(api: RouteApi, cid: str, who: Who) -> list[dict[str, Any]]:
    page = _ok(api.call("GET", f"/v1/collaborations/{cid}/audit?limit=1000", *who))
    items: list[dict[str, Any]] = page["items"]
    return items


def test_the_audit_log_withholds_the_other_partners_events_and_verifies_for_everyone(
    api: RouteApi, tmp_path: Path
) -> None:
    world = _a_world(api, tmp_path)
    stored = api.services().store.list_audit(world.cid, limit=1000)
    members = [*CALLERS, (A, "advertiser"), (A, "partner_viewer"), (A, "auditor")]
    for who in members:
        events = _audit(api, world.cid, who)
        assert [e["hash"] for e in events] == [r.hash for r in stored]  # every position
        assert first_unverified(events) is None, who  # recomputed from what was served
        verified = _ok(api.call("GET", f"/v1/collaborations/{world.cid}/audit/verify", *who))
        assert verified == {"ok": True, "events": len(stored), "first_broken_seq": None}
        withheld = [e for e in events if e.get("withheld")]
        for e in withheld:
            assert set(e) == {"collaboration_id", "seq", "name", "org", "created_at",
                              "prev_hash", "hash", "digest", "withheld"}  # fmt: skip
        if who[0] != RETAILER:
            # the other partner's events are withheld: for B every event about A's templates,
            # runs, reports, budget and datasets (the retailer's decisions on A's template and
            # downloads of A's reports included), and for A every event about B's
            other = A if who[0] == B else B
            about = [e for e in events if _about(other, e, stored, world)]
            assert about, who
            assert all(e.get("withheld") for e in about), who
            assert all(_about(other, e, stored, world) for e in withheld), who
        if who[0] == B:
            assert not _leaks(json.dumps(events), world.secrets)
            # the retailer's own events are shared: its datasets and the collaboration
            assert any(e["name"] == "collaboration.created" and "details" in e for e in events)
        if who in SEE_ALL:
            assert not withheld, who  # the retailer org sees everything
    names = {e["name"] for e in _audit(api, world.cid, B_VIEWER) if e.get("withheld")}
    assert {
        "template.submitted", "template.approved", "run.created", "budget.charged",
        "run.succeeded", "run.failed", "report.downloaded", "dataset.registered",
    } <= names  # fmt: skip


def _about(org: str, event: dict[str, Any], stored: list[Any], world: World) -> bool:
    """True when the stored event is ``org``'s (by its org, or by naming one of its ids)."""
    record = next(r for r in stored if r.seq == event["seq"])
    if record.org == org:
        return True
    if record.org == RETAILER and org == A:
        text = json.dumps(dict(record.details))
        return any(i in text for i in world.ids.values())
    return False


def test_a_template_name_another_partner_used_is_not_taken(api: RouteApi, tmp_path: Path) -> None:
    world = _a_world(api, tmp_path)
    path = f"/v1/collaborations/{world.cid}/templates"
    mine = _ok(api.call("POST", path, B, "advertiser", json={"sql": A_SQL}), 201)
    assert (mine["name"], mine["version"], mine["org"]) == (A_TEMPLATE_NAME, 1, B)
    again = _ok(api.call("POST", path, B, "advertiser", json={"sql": A_SQL}), 201)
    assert again["version"] == 2
    assert _ok(api.call("POST", path, A, "advertiser", json={"sql": A_SQL}), 201)["version"] == 2
    listed = _ok(api.call("GET", path, B, "partner_viewer"))["items"]
    assert {(t["org"], t["version"]) for t in listed if t["name"] == A_TEMPLATE_NAME} == {
        (B, 1), (B, 2),
    }  # fmt: skip
    everyone = _ok(api.call("GET", path, *AUDITOR))["items"]
    assert {(t["org"], t["version"]) for t in everyone if t["name"] == A_TEMPLATE_NAME} == {
        (A, 1), (A, 2), (B, 1), (B, 2),
    }  # fmt: skip


def test_dataset_names_are_per_partner(api: RouteApi, tmp_path: Path) -> None:
    world = _a_world(api, tmp_path)  # A and B each registered a "crm"
    listed = _ok(api.call("GET", f"/v1/collaborations/{world.cid}/datasets", B, "advertiser"))
    assert {(d["name"], d["owner_org"]) for d in listed["items"]} == {
        ("exposures", RETAILER), ("transactions", RETAILER), ("crm", B), ("campaign_spend", B),
    }  # fmt: skip
    b_crm = next(d for d in listed["items"] if d["name"] == "crm")
    assert b_crm["id"] != world.ids["did"]
    assert b_crm["current_version"]["version"] == 1  # not A's version 2
    assert b_crm["current_version"]["row_count"] > 0  # its own figures
    crm = write_world(tmp_path / "b").files["crm"]
    again = _ok(api.upload(world.cid, B, SPECS["crm"], crm), 201)
    assert (again["id"], again["version"]) == (b_crm["id"], 2)
    everyone = _ok(api.call("GET", f"/v1/collaborations/{world.cid}/datasets", *ADMIN))
    assert sorted(d["owner_org"] for d in everyone["items"] if d["name"] == "crm") == [A, B]
    # the retailer may not take a partner's name (a partner's templates read both by name)
    response = api.upload(world.cid, RETAILER, SPECS["crm"], crm)
    assert response.status_code == 409
    assert not re.search(r"acme|zeta", response.get_data(as_text=True))
