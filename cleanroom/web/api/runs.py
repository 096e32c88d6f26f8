"""``/v1/collaborations/<cid>/runs``: preview, start (charging the budget first) and follow runs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, url_for

from cleanroom.ranges import DELTA, EPSILON_PER_RUN
from cleanroom.services import runs
from cleanroom.services.context import Services
from cleanroom.services.requests import RunRequest
from cleanroom.web.api.fragments import (
    OPTIONAL_TIMESTAMP,
    PRIVACY_LOSS,
    TIMESTAMP,
    item_list,
    record,
)
from cleanroom.web.auth import current_principal
from cleanroom.web.parsing import idempotency_key
from cleanroom.web.routing import NamedSchema, ResponseDoc, json_object_body, route
from cleanroom.web.state import current_services

bp = Blueprint("runs", __name__)

REPLAYED_HEADER = "Idempotent-Replayed"
WEIGHTS = {
    "type": "object",
    "description": "Output name -> weight (0 < weight <= 1000): the output's share of the run's "
    "loss relative to the others; overrides the template's `-- weight:` lines. Moves noise "
    "between outputs, never changes the guarantee.",
    "additionalProperties": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
}
_RUN_PROPERTIES: dict[str, Any] = {
    "template_id": {"type": "string", "minLength": 1, "maxLength": 200},
    "parameters": {
        "type": "object",
        "description": "Parameter name -> value; omitted parameters take their defaults.",
    },
    "privacy_loss": {
        "type": "object",
        "required": ["epsilon"],
        "additionalProperties": False,
        "properties": {
            "epsilon": EPSILON_PER_RUN.schema(),
            "delta": {
                **DELTA.schema(),
                "type": ["number", "null"],
                "description": "Defaults to a tenth of the delta budget when needed.",
            },
        },
    },
    "weights": WEIGHTS,
}
RUN_REQUEST = NamedSchema(
    "RunRequest",
    {
        "type": "object",
        "required": ["template_id", "privacy_loss"],
        "additionalProperties": False,
        "properties": _RUN_PROPERTIES,
    },
)
TARGETS = {
    "type": "object",
    "description": "Output name -> the 95% half-width wanted, in the output's units (cents for "
    "money); only outputs that are a measurement as is. The preview's `target` answers the "
    "smallest epsilon (at the request's delta) that meets every one.",
    "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
    "minProperties": 1,
}
PREVIEW_REQUEST = NamedSchema(
    "RunPreviewRequest",
    {
        "type": "object",
        "required": ["template_id", "privacy_loss"],
        "additionalProperties": False,
        "properties": {**_RUN_PROPERTIES, "targets": TARGETS},
    },
)
TARGET = {
    "type": "object",
    "description": "Present when the request had targets.",
    "required": [
        "targets",
        "met",
        "epsilon",
        "delta",
        "max_epsilon",
        "half_widths",
        "privacy_loss",
        "affordable",
    ],
    "properties": {
        "targets": {"type": "object"},
        "met": {"type": "boolean", "description": "Some epsilon up to max_epsilon meets them."},
        "epsilon": {
            "type": ["number", "null"],
            "description": "The smallest epsilon meeting every target (null: none up to the "
            "collaboration's maximum per run).",
        },
        "delta": {"type": "number"},
        "max_epsilon": {"type": "number"},
        "half_widths": {"type": "object", "description": "Expected 95% half-widths there."},
        "privacy_loss": {**PRIVACY_LOSS, "type": ["object", "null"]},
        "affordable": {"type": "boolean", "description": "The remaining budget affords it."},
    },
}
PREVIEW = record(
    "RunPreview",
    ["template", "privacy_loss", "accuracy", "remaining", "affordable"],
    {
        "template": {"type": "object"},
        "privacy_loss": PRIVACY_LOSS,
        "loss_split": {"type": "object", "description": "How the loss is split per measurement."},
        "accuracy": {
            "type": "object",
            "description": "Expected 95% half-widths per aggregate.",
            "properties": {"confidence": {"type": "number"}, "half_widths": {"type": "object"}},
        },
        "mechanisms": {"type": "array", "items": {"type": "object"}},
        "remaining": PRIVACY_LOSS,
        "affordable": {"type": "boolean"},
        "weights": {"type": "object", "description": "The weights used (template and request)."},
        "target": TARGET,
    },
)
RUN = record(
    "Run",
    ["id", "collaboration_id", "template_id", "org", "status", "progress", "privacy_loss"],
    {
        "id": {"type": "string"},
        "collaboration_id": {"type": "string"},
        "template_id": {"type": "string"},
        "template_version": {"type": "integer"},
        "org": {"type": "string"},
        "submitted_by": {"type": "string"},
        "parameters": {"type": "object"},
        "privacy_loss": PRIVACY_LOSS,
        "weights": {"type": "object", "description": "The request's weights, when it gave any."},
        "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "error": {
            "type": "object",
            "description": "Present when the run failed.",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": ["string", "null"]}},
        },
        "created_at": TIMESTAMP,
        "started_at": OPTIONAL_TIMESTAMP,
        "finished_at": OPTIONAL_TIMESTAMP,
    },
)
RUNS = item_list("RunList", RUN, "Runs the caller may see (its org's; every run for the retailer).")


@route(
    bp,
    "/collaborations/<cid>/runs/preview",
    methods=["POST"],
    summary="Preview a run's cost and accuracy",
    request_schema=PREVIEW_REQUEST,
    responses={200: ResponseDoc("Cost split, expected half-widths, remaining budget.", PREVIEW)},
    errors=[403, 404, 409, 410],
    rate_limit="previews",
)
def preview_run(cid: str) -> dict[str, Any]:
    """Touches no data and charges nothing."""
    svc, who = current_services(Services), current_principal()
    return runs.preview_run(svc, who, cid, RunRequest.from_json(json_object_body(), preview=True))


@route(
    bp,
    "/collaborations/<cid>/runs",
    methods=["POST"],
    summary="Start a run",
    request_schema=RUN_REQUEST,
    idempotent=True,
    responses={
        202: ResponseDoc(
            "The queued run; its privacy loss is already charged.",
            RUN,
            headers={"Location": "The run's URL; poll it until succeeded or failed."},
        ),
        200: ResponseDoc(
            "A replay: the run first created with this Idempotency-Key (nothing charged).",
            RUN,
            headers={"Location": "The run's URL.", REPLAYED_HEADER: "true"},
        ),
    },
    errors=[403, 404, 409, 410],
    rate_limit="runs",
)
def create_run(cid: str) -> Response:
    """Charge the budget and queue the run; a worker executes it."""
    svc, who = current_services(Services), current_principal()
    request = RunRequest.from_json(json_object_body())
    run, created = runs.create_run(svc, who, cid, request, idempotency_key())
    response = jsonify(run.to_dict())
    response.status_code = 202 if created else 200
    response.headers["Location"] = url_for(".get_run", cid=cid, rid=run.id)
    if not created:
        response.headers[REPLAYED_HEADER] = "true"
    return response


@route(
    bp,
    "/collaborations/<cid>/runs",
    summary="List runs",
    responses={200: ResponseDoc("Runs, oldest first.", RUNS)},
    errors=[403, 404],
)
def list_runs(cid: str) -> dict[str, Any]:
    """A partner sees its own org's runs; the retailer admin sees every run."""
    found = runs.list_runs(current_services(Services), current_principal(), cid)
    return {"items": [r.to_dict() for r in found]}


@route(
    bp,
    "/collaborations/<cid>/runs/<rid>",
    summary="Read a run",
    responses={200: ResponseDoc("The run's status, progress and, when failed, error.", RUN)},
    errors=[403, 404],
)
def get_run(cid: str, rid: str) -> dict[str, Any]:
    """Poll this until ``status`` is ``succeeded`` or ``failed``."""
    found = runs.get_run(current_services(Services), current_principal(), cid, rid)
    return found.to_dict()


@route(
    bp,
    "/collaborations/<cid>/runs/<rid>/cancel",
    methods=["POST"],
    summary="Cancel a run",
    description="A queued or running run fails with error code `cancelled` and releases "
    "nothing; its charge is kept. Its org's advertisers, or the retailer admin.",
    responses={200: ResponseDoc("The cancelled run.", RUN)},
    errors=[403, 404, 409],
)
def cancel_run(cid: str, rid: str) -> dict[str, Any]:
    """Stop a run that has not finished."""
    return runs.cancel_run(current_services(Services), current_principal(), cid, rid).to_dict()
