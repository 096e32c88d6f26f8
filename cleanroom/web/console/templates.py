"""Templates: the list and submit form, the review page (SQL, analysis, approvals, diff) and the
decisions: approve, reject, and revoke after a confirmation."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from cleanroom.errors import CleanroomError, InvalidRequest, TemplateRejected
from cleanroom.services import collaborations, templates
from cleanroom.services.requests import MAX_SQL_CHARS, TemplateSubmission
from cleanroom.web.console.blueprint import bp, page, svc, who
from cleanroom.web.console.review import diff_lines, previous_version, sql_lines
from cleanroom.web.console.session import signed_in

_STATUS_ORDER = {"pending": 0, "approved": 1, "rejected": 2, "revoked": 3}
DECISIONS = ("approve", "reject", "revoke")


def _list_page(cid: str, status: int = 200, **form: Any) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    found = templates.list_templates(services, principal, cid)
    found.sort(key=lambda t: (_STATUS_ORDER.get(t.status, 9), t.name, -t.version))
    return page(
        "templates.html",
        status,
        collab=collab,
        templates=found,
        max_sql=MAX_SQL_CHARS,
        sql=form.pop("sql", ""),
        **form,
    )


@bp.get("/c/<cid>/templates")
@signed_in
def templates_list(cid: str) -> Response:
    return _list_page(cid)


@bp.post("/c/<cid>/templates")
@signed_in
def template_submit(cid: str) -> Response:
    sql = request.form.get("sql", "")
    body = {"sql": sql, "name": request.form.get("name") or None}
    try:
        submission = TemplateSubmission.from_json(body)
        submitted = templates.submit_template(svc(), who(), cid, submission)
    except TemplateRejected as err:
        lines = sql_lines(sql, err.violations)
        return _list_page(cid, 422, sql=sql, error=err.detail, violations=err.violations,
                          lines=lines)  # fmt: skip
    except CleanroomError as err:
        if err.status >= 500 or err.status in (401, 404):
            raise
        return _list_page(cid, err.status, sql=sql, error=err.detail)
    return redirect(url_for("console.template_review", cid=cid, tid=submitted.id))


@bp.get("/c/<cid>/templates/<tid>")
@signed_in
def template_review(cid: str, tid: str) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    template = templates.get_template(services, principal, cid, tid)
    previous = previous_version(template, templates.list_templates(services, principal, cid))
    return page(
        "template.html",
        collab=collab,
        template=template,
        lines=sql_lines(template.sql),
        previous=previous,
        diff=diff_lines(previous.sql, template.sql) if previous is not None else [],
    )


@bp.get("/c/<cid>/templates/<tid>/revoke")
@signed_in
def template_revoke_confirm(cid: str, tid: str) -> Response:
    """The kill switch asks first: what stops, and that it cannot be undone."""
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    template = templates.get_template(services, principal, cid, tid)
    return page("revoke.html", collab=collab, template=template)


@bp.post("/c/<cid>/templates/<tid>/<decision>")
@signed_in
def template_decide(cid: str, tid: str, decision: str) -> Response:
    if decision not in DECISIONS:
        raise InvalidRequest("decision must be approve, reject or revoke")
    if decision == "revoke" and request.form.get("confirm") != "revoke":
        return redirect(url_for("console.template_revoke_confirm", cid=cid, tid=tid))
    reason = request.form.get("reason", "").strip()
    body = {"reason": reason} if reason else {}
    templates.decide_template(svc(), who(), cid, tid, decision, body)
    return redirect(url_for("console.template_review", cid=cid, tid=tid))
