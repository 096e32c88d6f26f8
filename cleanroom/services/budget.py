"""Reading privacy budgets: partners see their own line, the retailer sees every partner's."""

from __future__ import annotations

from cleanroom.services.access import authorize
from cleanroom.services.context import Services
from cleanroom.store import BudgetLine
from cleanroom.types import Principal


def get_budget(svc: Services, who: Principal, collaboration_id: str) -> list[BudgetLine]:
    collab = authorize(svc, who, collaboration_id, "budget.read")
    lines = svc.store.get_budget(collab.id)
    if who.org == collab.retailer_org:
        return lines
    return [line for line in lines if line.org == who.org]
