"""Runs: the parameter form with a preview of cost and accuracy, starting a run, its status."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from cleanroom.errors import CleanroomError, InvalidRequest
from cleanroom.services import budget, collaborations, runs, templates
from cleanroom.services.collaborations import policy_of
from cleanroom.services.requests import RequestedLoss, RunRequest
from cleanroom.web.console.blueprint import bp, page, svc, who
from cleanroom.web.console.params import parameter_fields, parse_loss, parse_parameters
from cleanroom.web.console.session import signed_in

IDEMPOTENCY_FIELD = "idempotency_key"
REFRESH_SECONDS = 2  # the status page reloads itself while the run is queued or running


def _form_page(cid: str, tid: str, status: int = 200, **context: Any) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    template = templates.get_template(services, principal, cid, tid)
    policy = policy_of(collab)
    submitted: Mapping[str, str] = request.form if request.method == "POST" else {}
    fields = parameter_fields(template.parameters, submitted or None)
    default_epsilon = min(1.0, policy.max_epsilon_per_run)
    return page(
        "run_form.html",
        status,
        collab=collab,
        template=template,
        fields=fields,
        policy=policy,
        epsilon=submitted.get("epsilon", f"{default_epsilon:g}"),
        delta=submitted.get("delta", ""),
        budget=budget.get_budget(services, principal, cid),
        idempotency_key=submitted.get(IDEMPOTENCY_FIELD) or secrets.token_urlsafe(16),
        **context,
    )


def _run_request(cid: str, tid: str) -> RunRequest:
    template = templates.get_template(svc(), who(), cid, tid)
    fields = parameter_fields(template.parameters)
    return RunRequest(
        template_id=tid,
        parameters=parse_parameters(fields, request.form),
        privacy_loss=RequestedLoss.from_json(parse_loss(request.form)),
    )


@bp.get("/c/<cid>/templates/<tid>/run")
@signed_in
def run_form(cid: str, tid: str) -> Response:
    return _form_page(cid, tid)


@bp.post("/c/<cid>/templates/<tid>/preview")
@signed_in
def run_preview(cid: str, tid: str) -> Response:
    """Cost, expected half-widths and the remaining budget; touches no data, charges nothing."""
    try:
        preview = runs.preview_run(svc(), who(), cid, _run_request(cid, tid))
    except CleanroomError as err:
        if err.status >= 500 or err.status in (401, 404):
            raise
        return _form_page(cid, tid, err.status, error=err.detail)
    return _form_page(cid, tid, preview=preview)


@bp.post("/c/<cid>/templates/<tid>/run")
@signed_in
def run_start(cid: str, tid: str) -> Response:
    """Charge the budget and queue the run; a reloaded form replays, it never charges twice."""
    key = request.form.get(IDEMPOTENCY_FIELD, "")
    if not (8 <= len(key) <= 200 and key.replace("-", "").replace("_", "").isalnum()):
        raise InvalidRequest("the form lacks its idempotency key; reload the page")
    try:
        run, _ = runs.create_run(svc(), who(), cid, _run_request(cid, tid), key)
    except CleanroomError as err:
        if err.status >= 500 or err.status in (401, 404):
            raise
        return _form_page(cid, tid, err.status, error=err.detail)
    return redirect(url_for("console.run_status", cid=cid, rid=run.id))


@bp.get("/c/<cid>/runs")
@signed_in
def runs_list(cid: str) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    found = list(reversed(runs.list_runs(services, principal, cid)))
    names = {t.id: t for t in templates.list_templates(services, principal, cid)}
    return page("runs.html", collab=collab, runs=found, templates=names)


@bp.get("/c/<cid>/runs/<rid>")
@signed_in
def run_status(cid: str, rid: str) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    run = runs.get_run(services, principal, cid, rid)
    template = templates.get_template(services, principal, cid, run.template_id)
    refresh = REFRESH_SECONDS if run.status in ("queued", "running") else None
    return page("run.html", collab=collab, run=run, template=template, refresh=refresh)
