"""``/v1/collaborations/<cid>/partners``: add a partner org, end a partner's membership."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from cleanroom.services import collaborations, membership
from cleanroom.services.context import Services
from cleanroom.web.api.budget import BUDGET_LINE
from cleanroom.web.api.collaborations import COLLABORATION, MEMBER
from cleanroom.web.api.fragments import record
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import NamedSchema, ResponseDoc, json_object_body, route
from cleanroom.web.state import current_services

bp = Blueprint("partners", __name__)

NEW_PARTNER = NamedSchema(
    "NewPartner",
    {
        "type": "object",
        "required": ["org"],
        "additionalProperties": False,
        "properties": {
            "org": {"type": "string", "minLength": 1, "maxLength": 200},
            "budget": {
                "type": "object",
                "description": "The new partner's own budget totals (default: the policy's).",
                "additionalProperties": False,
                "properties": {"epsilon": {"type": "number"}, "delta": {"type": "number"}},
            },
            "reason": {"type": "string", "maxLength": 2000},
        },
    },
)
ADDED = record(
    "AddedPartner",
    ["collaboration", "budget"],
    {"collaboration": COLLABORATION, "budget": BUDGET_LINE},
)
END_MEMBERSHIP = NamedSchema(
    "EndMembership",
    {
        "type": "object",
        "description": "Optional: an empty body ends the membership and keeps the partner's data "
        "until its retention ends.",
        "additionalProperties": False,
        "properties": {
            "purge_data": {
                "type": "boolean",
                "default": False,
                "description": "Also purge every version of the partner's datasets now.",
            },
            "reason": {"type": "string", "maxLength": 2000},
        },
    },
)
ENDED = record(
    "EndedMembership",
    ["collaboration", "membership", "purged_datasets"],
    {
        "collaboration": COLLABORATION,
        "membership": MEMBER,
        "purged_datasets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["dataset_id", "name", "purged_versions"],
                "properties": {
                    "dataset_id": {"type": "string"},
                    "name": {"type": "string"},
                    "purged_versions": {"type": "integer"},
                },
            },
        },
    },
)


@route(
    bp,
    "/collaborations/<cid>/partners",
    methods=["POST"],
    summary="Add a partner org",
    request_schema=NEW_PARTNER,
    responses={201: ResponseDoc("The collaboration and the new partner's budget line.", ADDED)},
    errors=[403, 404, 409],
)
def add_partner(cid: str) -> tuple[dict[str, Any], int]:
    """Retailer admin: the org becomes a partner with a budget line of its own."""
    svc = current_services(Services)
    collab, line = membership.add_partner(svc, current_principal(), cid, json_object_body())
    return {"collaboration": collaborations.describe(svc, collab), "budget": line.to_dict()}, 201


@bp.before_request
def _no_body_keeps_the_data() -> None:
    """``POST .../end`` without a body means ``{}``: end the membership, purge nothing."""
    if request.endpoint == "partners.end_membership" and not request.get_data(cache=True):
        g.json_body = {}


@route(
    bp,
    "/collaborations/<cid>/partners/<org>/end",
    methods=["POST"],
    summary="End a partner's membership",
    request_schema=END_MEMBERSHIP,
    responses={200: ResponseDoc("The ended membership and what was purged.", ENDED)},
    errors=[403, 404, 409],
)
def end_membership(cid: str, org: str) -> dict[str, Any]:
    """Retailer admin: the partner's runs are refused from now on; ``purge_data`` purges its
    datasets (also later, once ended)."""
    svc = current_services(Services)
    ended = membership.remove_partner(svc, current_principal(), cid, org, json_object_body())
    out = ended.to_dict()
    out["collaboration"] = collaborations.describe(svc, ended.collaboration)
    return out
