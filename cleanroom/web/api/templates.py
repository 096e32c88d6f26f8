"""``/v1/collaborations/<cid>/templates``: submit (validated at once) and the approval workflow."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from cleanroom.ranges import BOUND
from cleanroom.services import templates
from cleanroom.services.context import Services
from cleanroom.services.requests import MAX_SQL_CHARS, TemplateSubmission
from cleanroom.types import PARAM_TYPES
from cleanroom.web.api.fragments import OPTIONAL_TIMESTAMP, TIMESTAMP, item_list, record
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import NamedSchema, ResponseDoc, json_object_body, route
from cleanroom.web.state import current_services

bp = Blueprint("templates", __name__)

PARAMETER: dict[str, Any] = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {
        "name": {"type": "string"},
        "type": {"type": "string", "enum": list(PARAM_TYPES)},
        "default": {"description": "A JSON value of the parameter's type."},
    },
}
NEW_TEMPLATE = NamedSchema(
    "NewTemplate",
    {
        "type": "object",
        "description": "A header of `-- key: value` lines in `sql` is authoritative over the "
        "name, parameters and purpose members (docs/template-language.md).",
        "required": ["sql"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "sql": {"type": "string", "minLength": 1, "maxLength": MAX_SQL_CHARS},
            "parameters": {"type": "array", "maxItems": 100, "items": PARAMETER},
            "purpose": {"type": "string", "maxLength": 200},
            "bounds": {
                "type": "object",
                "description": 'Output or column -> [lo, hi], e.g. {"sales": [0, 20000]}.',
                "additionalProperties": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "items": BOUND.schema(),
                },
            },
        },
    },
)
APPROVAL = record(
    "TemplateApproval",
    ["org", "as", "datasets", "decision", "decided_by", "decided_at"],
    {
        "org": {"type": "string"},
        "as": {"type": "string", "enum": ["retailer", "data_owner"]},
        "datasets": {
            "type": "array",
            "description": "The datasets this approval covers.",
            "items": {"type": "string"},
        },
        "decision": {"type": ["string", "null"], "enum": ["approved", "rejected", None]},
        "decided_by": {"type": ["string", "null"]},
        "decided_at": OPTIONAL_TIMESTAMP,
        "reason": {"type": ["string", "null"]},
    },
)
TEMPLATE = record(
    "Template",
    ["id", "collaboration_id", "name", "version", "org", "status", "sql", "analysis"],
    {
        "id": {"type": "string"},
        "collaboration_id": {"type": "string"},
        "name": {"type": "string"},
        "version": {"type": "integer"},
        "org": {"type": "string"},
        "submitted_by": {"type": "string"},
        "sql": {"type": "string"},
        "parameters": {"type": "array", "items": {"type": "object"}},
        "purpose": {"type": "string"},
        "bounds": {"type": "object"},
        "status": {"type": "string", "enum": ["pending", "approved", "rejected", "revoked"]},
        "pin": {"type": "string"},
        "analysis": {
            "type": "object",
            "description": "Outputs, group keys, aggregates with bounds and sensitivity, datasets.",
        },
        "reason": {"type": ["string", "null"]},
        "decided_by": {"type": ["string", "null"]},
        "decided_at": OPTIONAL_TIMESTAMP,
        "created_at": TIMESTAMP,
        "approvals": {
            "type": "array",
            "description": "Every approver the version needs, what it approves and its "
            "decision: the retailer (the whole template), then each other org owning a "
            "personal dataset it reads. It runs once every one approved.",
            "items": APPROVAL,
        },
        "awaiting_approval": {
            "type": "array",
            "description": "Orgs whose approval a pending version still needs.",
            "items": {"type": "string"},
        },
    },
)
TEMPLATES = item_list("TemplateList", TEMPLATE, "Every version of every template.")
DECISION = NamedSchema(
    "TemplateDecision",
    {
        "type": "object",
        "description": "Optional: an empty body means no reason.",
        "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 2000}},
    },
)
_TEMPLATE_PATH = "/collaborations/<cid>/templates/<tid>"
_DECISION_ENDPOINTS = frozenset(
    f"templates.{name}_template" for name in ("approve", "reject", "revoke")
)


@route(
    bp,
    "/collaborations/<cid>/templates",
    methods=["POST"],
    summary="Submit a template",
    request_schema=NEW_TEMPLATE,
    responses={
        201: ResponseDoc("The stored template, pending approval, with its analysis.", TEMPLATE)
    },
    errors=[403, 404, 409, 422],
)
def submit_template(cid: str) -> tuple[dict[str, Any], int]:
    """Validated at once: ``422 template_rejected`` lists every violation with line and column."""
    svc, who = current_services(Services), current_principal()
    submission = TemplateSubmission.from_json(json_object_body())
    template = templates.submit_template(svc, who, cid, submission)
    return template.to_dict(), 201


@route(
    bp,
    "/collaborations/<cid>/templates",
    summary="List templates",
    responses={200: ResponseDoc("Every template version of the collaboration.", TEMPLATES)},
    errors=[403, 404],
)
def list_templates(cid: str) -> dict[str, Any]:
    """With status, version and analysis."""
    found = templates.list_templates(current_services(Services), current_principal(), cid)
    return {"items": [t.to_dict() for t in found]}


@route(
    bp,
    _TEMPLATE_PATH,
    summary="Read a template",
    responses={200: ResponseDoc("One template version.", TEMPLATE)},
    errors=[403, 404],
)
def get_template(cid: str, tid: str) -> dict[str, Any]:
    """One template version with its status and analysis."""
    found = templates.get_template(current_services(Services), current_principal(), cid, tid)
    return found.to_dict()


@bp.before_request
def _no_body_is_no_reason() -> None:
    """A decision without a body (``curl -X POST .../approve``) means ``{}``: no reason given."""
    if request.endpoint in _DECISION_ENDPOINTS and not request.get_data(cache=True):
        g.json_body = {}


def _decide(cid: str, tid: str, decision: str) -> dict[str, Any]:
    svc, who = current_services(Services), current_principal()
    decided = templates.decide_template(svc, who, cid, tid, decision, json_object_body())
    return decided.to_dict()


_DECISION_DOC: dict[str, Any] = {
    "request_schema": DECISION,
    "responses": {200: ResponseDoc("The template after the decision.", TEMPLATE)},
    "errors": [403, 404, 409],
}


@route(bp, _TEMPLATE_PATH + "/approve", methods=["POST"], summary="Approve", **_DECISION_DOC)
def approve_template(cid: str, tid: str) -> dict[str, Any]:
    """Retailer admin, or an advertiser of an org whose personal dataset the version reads: this
    exact version may run once every approver in ``approvals`` approved it."""
    return _decide(cid, tid, "approve")


@route(bp, _TEMPLATE_PATH + "/reject", methods=["POST"], summary="Reject", **_DECISION_DOC)
def reject_template(cid: str, tid: str) -> dict[str, Any]:
    """Retailer admin or a data owner, as for approve: this version may never run;
    resubmitting creates a new version."""
    return _decide(cid, tid, "reject")


@route(bp, _TEMPLATE_PATH + "/revoke", methods=["POST"], summary="Revoke", **_DECISION_DOC)
def revoke_template(cid: str, tid: str) -> dict[str, Any]:
    """Retailer admin: an approved version may no longer run (queued runs fail)."""
    return _decide(cid, tid, "revoke")
