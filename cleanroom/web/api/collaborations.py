"""``/v1/collaborations``: open a clean room and amend its terms (retailer admin), list and read
the caller's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from cleanroom import ranges
from cleanroom.services import collaborations
from cleanroom.services.context import Services
from cleanroom.web.api.fragments import OPTIONAL_TIMESTAMP, TIMESTAMP, item_list, record
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import NamedSchema, ResponseDoc, json_object_body, route
from cleanroom.web.state import current_services

bp = Blueprint("collaborations", __name__)

POLICY: dict[str, Any] = {
    "type": "object",
    "description": "The collaboration policy (docs/specs.md); omitted members take their defaults.",
    "properties": {
        "epsilon_budget": ranges.EPSILON_BUDGET.schema(),
        "delta_budget": ranges.DELTA.schema(),
        "min_users_per_row": ranges.MIN_USERS_PER_ROW.schema(),
        "max_groups_per_user": ranges.MAX_GROUPS_PER_USER.schema(),
        "max_count_per_user": ranges.MAX_COUNT_PER_USER.schema(),
        "max_epsilon_per_run": ranges.EPSILON_PER_RUN.schema(),
        "budget_refresh": {"type": ["string", "null"]},
        "purposes": {"type": "array", "items": {"type": "string"}},
        "fairness_min_ratio": ranges.FAIRNESS_MIN_RATIO.schema(),
    },
}


def _date(description: str) -> dict[str, Any]:
    return {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
        "description": f'{description} An ISO-8601 timestamp with a time zone, "now", or null.',
    }


STARTS_AT = _date("Runs are refused before it (null: open from creation).")
ENDS_AT = _date("Runs are refused from then on (null: no end).")
NEW_COLLABORATION = NamedSchema(
    "NewCollaboration",
    {
        "type": "object",
        "required": ["name", "partner_orgs"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "partner_orgs": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            "policy": {**POLICY, "additionalProperties": False},
            "starts_at": STARTS_AT,
            "ends_at": ENDS_AT,
        },
    },
)
COLLABORATION_UPDATE = NamedSchema(
    "CollaborationUpdate",
    {
        "type": "object",
        "description": "Only the members given change. Tightening changes apply as asked; if any "
        "change loosens the terms, allow_loosening must be true (docs/concepts.md classifies "
        "every field).",
        "additionalProperties": False,
        "properties": {
            "policy": {
                **POLICY,
                "description": "The policy fields to change.",
                "additionalProperties": False,
            },
            "starts_at": STARTS_AT,
            "ends_at": ENDS_AT,
            "allow_loosening": {"type": "boolean", "default": False},
            "reason": {"type": "string", "maxLength": 2000},
        },
    },
)
MEMBER = record(
    "Member",
    ["org", "role", "joined_at", "ended_at"],
    {
        "org": {"type": "string"},
        "role": {"type": "string", "enum": ["retailer", "partner"]},
        "joined_at": OPTIONAL_TIMESTAMP,
        "ended_at": {
            **OPTIONAL_TIMESTAMP,
            "description": "Set when a partner's membership ended: it keeps read access only.",
        },
    },
)
COLLABORATION = record(
    "Collaboration",
    ["id", "name", "retailer_org", "partner_orgs", "policy", "created_at", "created_by"],
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "retailer_org": {"type": "string"},
        "partner_orgs": {
            "type": "array",
            "description": "The current partners.",
            "items": {"type": "string"},
        },
        "former_partner_orgs": {
            "type": "array",
            "description": "Partners whose membership ended.",
            "items": {"type": "string"},
        },
        "members": {"type": "array", "items": MEMBER},
        "policy": POLICY,
        "starts_at": OPTIONAL_TIMESTAMP,
        "ends_at": OPTIONAL_TIMESTAMP,
        "status": {"type": "string", "enum": ["scheduled", "open", "ended"]},
        "revision": {"type": "integer", "description": "Counts changes of terms and members."},
        "created_at": TIMESTAMP,
        "created_by": {"type": "string"},
    },
)
COLLABORATIONS = item_list(
    "CollaborationList", COLLABORATION, "The collaborations the caller's org is a member of."
)
CHANGE = record(
    "TermsChange",
    ["field", "from", "to", "effect"],
    {
        "field": {"type": "string"},
        "from": {"description": "The value before."},
        "to": {"description": "The value after."},
        "effect": {"type": "string", "enum": ["tightens", "loosens"]},
    },
)
AMENDMENT = record(
    "CollaborationAmendment",
    ["collaboration", "changes", "loosening", "warnings"],
    {
        "collaboration": COLLABORATION,
        "changes": {"type": "array", "items": CHANGE, "description": "Empty: nothing changed."},
        "loosening": {"type": "array", "items": {"type": "string"}},
        "warnings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "A loosening weakens the guarantee already given.",
        },
    },
)


@route(
    bp,
    "/collaborations",
    methods=["POST"],
    summary="Open a collaboration",
    request_schema=NEW_COLLABORATION,
    responses={201: ResponseDoc("The new collaboration.", COLLABORATION)},
    errors=[403],
)
def create_collaboration() -> tuple[dict[str, Any], int]:
    """A retailer admin opens a clean room between its org and ``partner_orgs``."""
    body, svc = json_object_body(), current_services(Services)
    collab = collaborations.create_collaboration(
        svc,
        current_principal(),
        body["name"],
        body["partner_orgs"],
        body.get("policy"),
        starts_at=body.get("starts_at"),
        ends_at=body.get("ends_at"),
    )
    return collaborations.describe(svc, collab), 201


@route(
    bp,
    "/collaborations",
    summary="List your collaborations",
    responses={200: ResponseDoc("Every collaboration your org belongs to.", COLLABORATIONS)},
)
def list_collaborations() -> dict[str, Any]:
    """The collaborations of the caller's org, whatever its role."""
    svc = current_services(Services)
    found = collaborations.list_collaborations(svc, current_principal())
    return {"items": [collaborations.describe(svc, c) for c in found]}


@route(
    bp,
    "/collaborations/<cid>",
    summary="Read a collaboration",
    responses={200: ResponseDoc("The collaboration with its policy.", COLLABORATION)},
    errors=[403, 404],
)
def get_collaboration(cid: str) -> dict[str, Any]:
    """One collaboration of the caller's org (``404`` for any other)."""
    svc = current_services(Services)
    collab = collaborations.get_collaboration(svc, current_principal(), cid)
    return collaborations.describe(svc, collab)


@route(
    bp,
    "/collaborations/<cid>",
    methods=["PATCH"],
    summary="Amend a collaboration's policy and dates",
    request_schema=COLLABORATION_UPDATE,
    responses={200: ResponseDoc("The collaboration after the amendment.", AMENDMENT)},
    errors=[403, 404, 409],
)
def update_collaboration(cid: str) -> dict[str, Any]:
    """Retailer admin: tightening is free, loosening needs ``allow_loosening: true``; every change
    is an audit event. Ending the collaboration is ``{"ends_at": "now"}``."""
    svc = current_services(Services)
    done = collaborations.update_collaboration(svc, current_principal(), cid, json_object_body())
    return {
        "collaboration": collaborations.describe(svc, done.collaboration),
        "changes": [c.to_dict() for c in done.changes],
        "loosening": list(done.loosening),
        "warnings": list(done.warnings),
    }
