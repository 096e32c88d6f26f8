"""``/v1/collaborations/<cid>/budget``: privacy budget per partner org (total, spent, remaining),
and raising one partner's (retailer admin)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from cleanroom.ranges import DELTA, EPSILON_TOP_UP
from cleanroom.services import budget
from cleanroom.services.context import Services
from cleanroom.web.api.fragments import PRIVACY_LOSS, record
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import NamedSchema, ResponseDoc, json_object_body, route
from cleanroom.web.state import current_services

bp = Blueprint("budget", __name__)

BUDGET_LINE = record(
    "BudgetLine",
    ["org", "total", "spent", "remaining"],
    {
        "org": {"type": "string"},
        "total": PRIVACY_LOSS,
        "spent": PRIVACY_LOSS,
        "remaining": PRIVACY_LOSS,
    },
    "One partner org's budget in the current refresh period.",
)
BUDGET = record(
    "BudgetList",
    ["items", "collaboration_id"],
    {
        "items": {
            "type": "array",
            "description": "The retailer admin sees every partner's line, a partner only its own.",
            "items": BUDGET_LINE,
        },
        "collaboration_id": {"type": "string"},
    },
    "The budget lines of one collaboration, in the shape of every list response.",
)

_AMOUNTS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "epsilon": EPSILON_TOP_UP.schema(),
        "delta": DELTA.schema(),
    },
}
BUDGET_RAISE = NamedSchema(
    "BudgetRaise",
    {
        "type": "object",
        "description": 'Exactly one of "add" (a top-up) and "total" (higher totals; an omitted '
        "member stays as it is).",
        "additionalProperties": False,
        "properties": {
            "add": _AMOUNTS,
            "total": _AMOUNTS,
            "reason": {"type": "string", "maxLength": 2000},
        },
    },
)
RAISED = record(
    "RaisedBudget",
    ["budget", "previous_total", "warning"],
    {
        "budget": BUDGET_LINE,
        "previous_total": PRIVACY_LOSS,
        "warning": {
            "type": "string",
            "description": "A larger budget weakens the guarantee already given to the people "
            "in the data, for what was released before the raise too.",
        },
    },
)


@route(
    bp,
    "/collaborations/<cid>/budget",
    summary="Read privacy budgets",
    responses={200: ResponseDoc("One line per partner org the caller may see.", BUDGET)},
    errors=[403, 404],
)
def get_budget(cid: str) -> dict[str, Any]:
    """Epsilon and delta: total, spent and remaining, per partner org."""
    lines = budget.get_budget(current_services(Services), current_principal(), cid)
    return {"items": [line.to_dict() for line in lines], "collaboration_id": cid}


@route(
    bp,
    "/collaborations/<cid>/budget/<org>/raise",
    methods=["POST"],
    summary="Raise or top up a partner's budget",
    request_schema=BUDGET_RAISE,
    responses={200: ResponseDoc("The partner's line after the raise, with the warning.", RAISED)},
    errors=[403, 404, 409],
)
def raise_budget(cid: str, org: str) -> dict[str, Any]:
    """Retailer admin: more privacy loss for one partner, which weakens the guarantee given."""
    svc, who = current_services(Services), current_principal()
    return budget.raise_budget(svc, who, cid, org, json_object_body()).to_dict()
