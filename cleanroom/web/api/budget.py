"""``/v1/collaborations/<cid>/budget``: privacy budget per partner org (total, spent, remaining)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from cleanroom.services import budget
from cleanroom.services.context import Services
from cleanroom.web.api.fragments import PRIVACY_LOSS, record
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import ResponseDoc, route
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
    "Budget",
    ["collaboration_id", "budgets"],
    {
        "collaboration_id": {"type": "string"},
        "budgets": {
            "type": "array",
            "description": "The retailer admin sees every partner's line, a partner only its own.",
            "items": BUDGET_LINE,
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
    return {"collaboration_id": cid, "budgets": [line.to_dict() for line in lines]}
