"""The console through Flask's test client: sign-in, session cookie, CSRF, every page for each
role, and the same refusals and isolation as the API (the pages call the same services)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import render_template
from markupsafe import escape

from cleanroom.config import load_settings
from cleanroom.dp import PrivacyLoss, release
from cleanroom.services.auth import mint_token
from cleanroom.services.reports import FORMATS
from cleanroom.web.app import create_app
from cleanroom.web.console.reports import report_view
from tests.conftest import TEST_JWT_SECRET, TEST_SECRET
from tests.dp.dp_plans import attribution_plan, out, ratio, table
from tests.web.console_world import ConsoleUser, csrf_of, two_partner_collaboration
from tests.web.route_world import (
    ADVERTISER,
    OTHER_PARTNER,
    OUTSIDER,
    REJECTED_SQL,
    RETAILER,
    TEMPLATE_SQL,
    RouteApi,
)


@dataclass
class World:
    api: RouteApi
    cid: str
    tid: str
    rid: str
    admin: ConsoleUser
    advertiser: ConsoleUser

    def pages(self) -> dict[str, str]:
        c = f"/console/c/{self.cid}"
        return {
            "overview": c,
            "templates": f"{c}/templates",
            "template": f"{c}/templates/{self.tid}",
            "runs": f"{c}/runs",
            "run": f"{c}/runs/{self.rid}",
            "report": f"{c}/runs/{self.rid}/report",
            "audit": f"{c}/audit",
            "datasets": f"{c}/datasets",
        }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Two partners (acme, beta), the world registered, acme's template approved and run."""
    api, _, cid, tid = two_partner_collaboration(tmp_path_factory, "console")
    started = api.start_run(cid, tid)
    assert started.status_code == 202
    api.run_pending()
    admin = ConsoleUser(api, RETAILER, "retailer_admin").sign_in()
    advertiser = ConsoleUser(api, ADVERTISER, "advertiser").sign_in()
    yield World(api, cid, tid, started.get_json()["id"], admin, advertiser)
    api.close()


def test_the_front_door_leads_to_sign_in(world: World) -> None:
    client = world.api.app.test_client()
    assert client.get("/").headers["Location"] == "/console/"
    landing = client.get("/console/")
    assert landing.status_code == 302
    assert landing.headers["Location"].startswith("/console/sign-in")
    form = client.get("/console/sign-in")
    assert form.status_code == 200
    assert '<label for="token">' in form.get_data(as_text=True)


def test_session_cookie_is_httponly_samesite_and_scoped(world: World) -> None:
    client = world.api.app.test_client()
    form = client.get("/console/sign-in")
    cookie = form.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP in development mode
    secure = world.api.app.test_client().get("/console/sign-in", base_url="https://localhost")
    assert "Secure" in secure.headers["Set-Cookie"]


def test_production_mode_always_marks_the_cookie_secure(tmp_path: Path) -> None:
    settings = load_settings(
        env={}, config_file=None, data_dir=tmp_path, secret_key=TEST_SECRET,
        jwt_secret=TEST_JWT_SECRET, mode="production",
    )  # fmt: skip
    app = create_app({"TESTING": True, "SERVICES_FACTORY": None}, settings)
    assert "Secure" in app.test_client().get("/console/sign-in").headers["Set-Cookie"]


def test_a_bad_token_does_not_sign_in(world: World) -> None:
    client = world.api.app.test_client()
    csrf = csrf_of(client.get("/console/sign-in"))
    refused = client.post("/console/sign-in", data={"token": "not-a-jwt", "csrf_token": csrf})
    assert refused.status_code == 401
    assert "not a well-formed JWT" in refused.get_data(as_text=True)
    assert client.get("/console/collaborations").status_code == 302


def test_every_form_needs_the_session_csrf_token(world: World) -> None:
    client = world.api.app.test_client()
    client.get("/console/sign-in")
    token = mint_token(world.api.settings, RETAILER, "retailer_admin", "x")
    no_token = client.post("/console/sign-in", data={"token": token})
    assert no_token.status_code == 403
    assert "csrf_failed" in no_token.get_data(as_text=True)
    # A signed-in admin's decision with a forged token changes nothing.
    admin = world.admin
    path = f"/console/c/{world.cid}/templates/{world.tid}/revoke"
    forged = admin.client.post(path, data={"csrf_token": "forged", "confirm": "revoke"})
    assert forged.status_code == 403
    assert "revoked" not in admin.text(f"/console/c/{world.cid}/templates/{world.tid}")


def test_a_next_target_outside_the_console_is_ignored(world: World) -> None:
    client = world.api.app.test_client()
    csrf = csrf_of(client.get("/console/sign-in"))
    token = mint_token(world.api.settings, ADVERTISER, "advertiser", "x")
    done = client.post(
        "/console/sign-in",
        data={"token": token, "csrf_token": csrf, "next": "//evil.example/console"},
    )
    assert done.headers["Location"] == "/console/collaborations"


@pytest.mark.parametrize("who", ["admin", "advertiser"])
def test_every_page_renders_for_both_roles(world: World, who: str) -> None:
    user = world.admin if who == "admin" else world.advertiser
    for name, path in world.pages().items():
        response = user.get(path)
        assert response.status_code == 200, name
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        html = response.get_data(as_text=True)
        assert "<h1>" in html or "<h1 " in html, name
        assert "<script" not in html


def test_the_overview_shows_parties_policy_budget_and_activity(world: World) -> None:
    html = world.admin.text(f"/console/c/{world.cid}")
    expected = (RETAILER, ADVERTISER, OTHER_PARTNER, "max epsilon per run", "<meter",
                "Runs like the last one still affordable", "run.created", "exposures")  # fmt: skip
    for needle in expected:
        assert needle in html, needle


def test_the_report_shows_intervals_charts_and_the_api_downloads(world: World) -> None:
    c = f"/console/c/{world.cid}/runs/{world.rid}"
    html = world.advertiser.text(f"{c}/report")
    assert "95% interval" in html
    assert html.count("<svg") == 2  # reach and sales
    api_path = f"/v1/collaborations/{world.cid}/runs/{world.rid}/report?format=csv"
    api_csv = world.api.call("GET", api_path, ADVERTISER, "advertiser")
    console_csv = world.advertiser.get(f"{c}/report.csv")
    assert console_csv.status_code == 200
    assert console_csv.data == api_csv.data
    assert "attachment" in console_csv.headers["Content-Disposition"]
    report = json.loads(world.advertiser.get(f"{c}/report.json").data)
    for row in report["rows"]:
        assert f"{row['reach']:.4g}" in html or f"{row['reach']:,}" in html


def test_the_report_explains_every_output_and_marks_every_flagged_cell(world: World) -> None:
    c = f"/console/c/{world.cid}/runs/{world.rid}"
    html = world.advertiser.text(f"{c}/report")
    report = json.loads(world.advertiser.get(f"{c}/report.json").data)
    explanations = report["explanations"]
    assert escape(explanations["release"]) in html
    for column in report["columns"]:
        assert f'<dt id="explain-{column}">{column}' in html
        assert escape(explanations["outputs"][column]["text"]) in html
    assert html.count('class="note-marker"') == len(explanations["cells"])
    # The intervals shown are the report's own (row_intervals), not value ± half-width.
    for intervals in report["accuracy"]["row_intervals"]:
        lo, hi = intervals["reach"]
        assert f"[{lo:.4g}, {hi:.4g}]" in html or f"[{lo:,.0f}, {hi:,.0f}]" in html


def test_flagged_cells_get_a_footnote_marker_and_clipped_intervals(world: World) -> None:
    """The report page for a release whose noise went below zero (a real release, rendered by
    the console's own view and template)."""
    campaigns = [f"c{i}" for i in range(30)]
    aov = out("aov", ratio("sales", "buyers"))  # derived: undefined where buyers is 0
    plan = attribution_plan(campaigns, min_users=0, extra_outputs=(aov,))
    zeros = table(campaigns, buyers=[0] * 30, sales=[0] * 30)
    services = world.api.services()
    run = services.store.get_run(world.rid)
    collab = services.store.get_collaboration(world.cid)
    stored = services.store.get_report(world.rid).data()
    report = {**stored, **release(plan, zeros, PrivacyLoss(0.5)).to_dict()}
    cells = report["explanations"]["cells"]
    assert cells
    with world.api.app.test_request_context(f"/console/c/{world.cid}/runs/{world.rid}/report"):
        html = render_template(
            "console/report.html", collab=collab, run=run, report=report,
            formats=FORMATS, principal=None, **report_view(report),
        )  # fmt: skip
    assert html.count('class="note-marker"') == len(cells)
    assert "Notes on marked cells" in html
    assert escape(report["explanations"]["notes"]["clipped_to_zero"]) in html
    assert '<li id="note-1" value="1">' in html
    assert '<dt id="explain-aov">aov <span class="muted">(derived)</span></dt>' in html
    assert "<li><strong>buyers</strong>: " in html  # a derived output's inputs, explained
    assert "no value: " in html
    for cell in cells:  # a clipped cell is 0 with an interval cut at 0: [0, half-width]
        if cell["column"] == "aov":
            continue
        lo, hi = report["accuracy"]["row_intervals"][cell["row"]][cell["column"]]
        assert lo == 0
        assert f"[0, {hi:.4g}]" in html or f"[0, {hi:,.0f}]" in html


def test_a_rejected_submission_shows_each_violation_at_its_line(world: World) -> None:
    refused = world.advertiser.post(f"/console/c/{world.cid}/templates", {"sql": REJECTED_SQL})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "line 4, column 8" in html
    assert "blocked_column" in html
    assert "postal_code" in html  # the submitted SQL is shown back, with the flagged lines


def test_submit_review_approve_preview_run_and_revoke(world: World) -> None:
    c = f"/console/c/{world.cid}"
    changed = TEMPLATE_SQL.replace("-- bounds: sales 0 20000", "-- bounds: sales 0 10000")
    assert changed != TEMPLATE_SQL
    submitted = world.advertiser.post(f"{c}/templates", {"sql": changed})
    assert submitted.status_code == 302, submitted.get_data(as_text=True)
    review = submitted.headers["Location"]
    html = world.admin.text(review)
    assert "version 2" in html
    assert "Compared with" in html  # the diff against version 1
    assert "d-added" in html
    assert "L1 sensitivity" in html
    tid = review.rsplit("/", 1)[1]
    # The retailer approves, then acme as the owner of the crm it reads.
    assert world.admin.post(f"{review}/approve", {"reason": "fine"}).status_code == 302
    assert world.advertiser.post(f"{review}/approve").status_code == 302
    assert "status-approved" in world.admin.text(review)
    form = {"epsilon": "0.5", "brand": "acme", "campaign_ids": "c1, c2",
            "idempotency_key": "console-test-key-1"}  # fmt: skip
    preview = world.advertiser.post(f"{review}/preview", form)
    assert preview.status_code == 200
    assert "Expected ± (95%)" in preview.get_data(as_text=True)
    started = world.advertiser.post(f"{review}/run", form)
    assert started.status_code == 302
    again = world.advertiser.post(f"{review}/run", form)  # a reloaded form: a replay, no charge
    assert again.headers["Location"] == started.headers["Location"]
    runs = [r for r in world.api.services().store.list_runs(world.cid) if r.template_id == tid]
    assert len(runs) == 1
    world.api.run_pending()
    assert "status-succeeded" in world.advertiser.text(started.headers["Location"])
    # Revoke asks for a confirmation first.
    unconfirmed = world.admin.post(f"{review}/revoke")
    assert unconfirmed.headers["Location"].endswith("/revoke")
    assert "kill switch" in world.admin.text(f"{review}/revoke")
    assert world.admin.post(f"{review}/revoke", {"confirm": "revoke"}).status_code == 302
    assert "status-revoked" in world.admin.text(review)


def test_an_advertiser_cannot_revoke_and_the_refusal_is_audited(world: World) -> None:
    path = f"/console/c/{world.cid}/templates/{world.tid}/revoke"
    refused = world.advertiser.post(path, {"confirm": "revoke"})
    assert refused.status_code == 403
    assert "forbidden" in refused.get_data(as_text=True)
    events = world.api.services().store.list_audit(world.cid, limit=1, newest_first=True)
    assert events[0].name == "request.refused"
    assert events[0].details["action"] == "template.revoke"


def test_another_partner_reaches_none_of_acme_pages(world: World) -> None:
    beta = ConsoleUser(world.api, OTHER_PARTNER, "advertiser").sign_in()
    pages = world.pages()
    for name in ("template", "run", "report"):
        response = beta.get(pages[name])
        assert response.status_code == 404, name
        assert world.tid not in response.get_data(as_text=True)
    assert beta.get(f"{pages['run']}/report.csv").status_code == 404
    assert beta.get(f"{pages['template']}/run").status_code == 404
    for name in ("templates", "runs", "overview", "datasets"):
        html = beta.text(pages[name])
        assert "crm_reach" not in html, name
        assert world.rid not in html, name
    audit = beta.text(pages["audit"])
    assert "withheld" in audit
    assert "crm_reach" not in audit


def test_an_outsider_sees_no_collaboration(world: World) -> None:
    stranger = ConsoleUser(world.api, OUTSIDER, "advertiser").sign_in()
    assert world.cid not in stranger.text("/console/collaborations")
    assert stranger.get(f"/console/c/{world.cid}").status_code == 404


def test_audit_filters_by_event_and_verifies(world: World) -> None:
    c = f"/console/c/{world.cid}/audit"
    html = world.admin.text(f"{c}?event=run.created&verify=1")
    assert "The chain verifies" in html
    assert "<code>run.created</code>" in html
    assert "<code>template.submitted</code>" not in html
    assert world.admin.get(f"{c}?event=nope").status_code == 400


def test_signing_out_and_an_expired_token_end_the_session(world: World) -> None:
    user = ConsoleUser(world.api, ADVERTISER, "advertiser").sign_in()
    assert user.post("/console/sign-out").status_code == 302
    assert user.get("/console/collaborations").status_code == 302
    # A session whose token has expired since sign-in (as an hour later) ends on the next page.
    short = ConsoleUser(world.api, ADVERTISER, "advertiser").sign_in()
    expired = mint_token(world.api.settings, ADVERTISER, "advertiser", "x", ttl=60,
                         now=int(time.time()) - 3600)  # fmt: skip
    with short.client.session_transaction() as stored:
        stored["token"] = expired
    ended = short.get("/console/collaborations")
    assert ended.status_code == 302
    assert "expired" in short.text(ended.headers["Location"])
