"""``/v1/collaborations``: open a clean room (retailer admin), list and read the caller's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from cleanroom.services import collaborations
from cleanroom.services.context import Services
from cleanroom.web.api.fragments import TIMESTAMP, item_list, record
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import NamedSchema, ResponseDoc, json_object_body, route
from cleanroom.web.state import current_services

bp = Blueprint("collaborations", __name__)

POLICY: dict[str, Any] = {
    "type": "object",
    "description": "The collaboration policy (API.md); omitted members take their defaults.",
    "properties": {
        "epsilon_budget": {"type": "number"},
        "delta_budget": {"type": "number"},
        "min_users_per_row": {"type": "integer"},
        "max_groups_per_user": {"type": "integer"},
        "max_count_per_user": {"type": "integer"},
        "max_epsilon_per_run": {"type": "number"},
        "budget_refresh": {"type": ["string", "null"]},
        "purposes": {"type": "array", "items": {"type": "string"}},
    },
}
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
        "partner_orgs": {"type": "array", "items": {"type": "string"}},
        "policy": POLICY,
        "created_at": TIMESTAMP,
        "created_by": {"type": "string"},
    },
)
COLLABORATIONS = item_list(
    "CollaborationList", COLLABORATION, "The collaborations the caller's org is a member of."
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
    body = json_object_body()
    collab = collaborations.create_collaboration(
        current_services(Services),
        current_principal(),
        body["name"],
        body["partner_orgs"],
        body.get("policy"),
    )
    return collab.to_dict(), 201


@route(
    bp,
    "/collaborations",
    summary="List your collaborations",
    responses={200: ResponseDoc("Every collaboration your org belongs to.", COLLABORATIONS)},
)
def list_collaborations() -> dict[str, Any]:
    """The collaborations of the caller's org, whatever its role."""
    found = collaborations.list_collaborations(current_services(Services), current_principal())
    return {"items": [c.to_dict() for c in found]}


@route(
    bp,
    "/collaborations/<cid>",
    summary="Read a collaboration",
    responses={200: ResponseDoc("The collaboration with its policy.", COLLABORATION)},
    errors=[403, 404],
)
def get_collaboration(cid: str) -> dict[str, Any]:
    """One collaboration of the caller's org (``404`` for any other)."""
    collab = collaborations.get_collaboration(current_services(Services), current_principal(), cid)
    return collab.to_dict()
