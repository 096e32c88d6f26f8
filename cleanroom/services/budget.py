"""Privacy budgets: partners read their own line, the retailer every partner's and raises them.

A raise (or top-up) gives one partner more privacy loss to spend. It weakens the guarantee
already given to the people in the data: what that partner's releases together may reveal about
any one of them grows, for what it already released as well. The response carries that warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanroom.errors import Conflict, InvalidRequest, NotFound
from cleanroom.events import BudgetRaised
from cleanroom.ranges import DELTA, EPSILON_BUDGET, EPSILON_TOP_UP
from cleanroom.services.access import authorize, can_see
from cleanroom.services.collaborations import reason_of
from cleanroom.services.context import Services
from cleanroom.store import BudgetLine
from cleanroom.types import Principal

RAISE_WARNING = (
    "a larger budget weakens the privacy guarantee already given: the people in this "
    "collaboration's data were protected so that {org}'s releases together reveal at most "
    "epsilon={old_e:g} (delta={old_d:g}) about any one of them; from now on that bound is "
    "epsilon={new_e:g} (delta={new_d:g}), and it covers what {org} already released too"
)


def get_budget(svc: Services, who: Principal, collaboration_id: str) -> list[BudgetLine]:
    """The lines ``who`` may see (``cleanroom.visibility``): a partner its own, the retailer org
    every partner's; another partner's line is absent, not zeroed."""
    collab = authorize(svc, who, collaboration_id, "budget.read")
    lines = svc.store.get_budget(collab.id)
    return [line for line in lines if can_see(who, collab, "budget_line", line.org)]


@dataclass(frozen=True)
class BudgetRaise:
    before: BudgetLine
    after: BudgetLine

    @property
    def warning(self) -> str:
        return RAISE_WARNING.format(
            org=self.after.org,
            old_e=self.before.total_epsilon,
            old_d=self.before.total_delta,
            new_e=self.after.total_epsilon,
            new_d=self.after.total_delta,
        )

    def to_dict(self) -> dict[str, Any]:
        previous = {"epsilon": self.before.total_epsilon, "delta": self.before.total_delta}
        return {"budget": self.after.to_dict(), "previous_total": previous, "warning": self.warning}


def _amounts(raw: Any, what: str) -> tuple[float | None, float | None]:
    if not isinstance(raw, Mapping) or not raw or set(raw) - {"epsilon", "delta"}:
        raise InvalidRequest(f'{what} must be an object like {{"epsilon": 2.0, "delta": 0}}')
    out: list[float | None] = []
    for key, allowed in (("epsilon", EPSILON_TOP_UP), ("delta", DELTA)):
        value = raw.get(key)
        if value is not None:
            allowed.check(value, f"{what}.{key}")
        out.append(None if value is None else float(value))
    return out[0], out[1]


def raise_budget(
    svc: Services, who: Principal, collaboration_id: str, org: str, body: Mapping[str, Any]
) -> BudgetRaise:
    """Raise ``org``'s line: ``{"add": {...}}`` tops it up, ``{"total": {...}}`` sets higher
    totals (an omitted member stays as it is)."""
    collab = authorize(svc, who, collaboration_id, "budget.raise")
    unknown = sorted(set(body) - {"add", "total", "reason"})
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(unknown)}")
    if ("add" in body) == ("total" in body):
        raise InvalidRequest('give either "add" (a top-up) or "total" (the new totals)')
    member = svc.store.get_collaboration(collab.id).membership(org)
    if member is None or member.role != "partner":
        raise NotFound(f"{org} is not a partner of this collaboration")
    if not member.active:
        raise Conflict(f"the membership of {org} ended; its budget can no longer change")
    if "add" in body:
        add_e, add_d = _amounts(body["add"], "add")
        if not (add_e or add_d):
            raise InvalidRequest("add must raise epsilon or delta by more than 0")
        add: tuple[float, float] | None = (add_e or 0.0, add_d or 0.0)
        total = None
        line = svc.store.get_budget_line(collab.id, org)  # the sums stay in range too
        EPSILON_BUDGET.check(line.total_epsilon + (add_e or 0.0), "the new total epsilon")
        DELTA.check(line.total_delta + (add_d or 0.0), "the new total delta")
    else:
        total_e, total_d = _amounts(body["total"], "total")
        if total_e is not None:
            EPSILON_BUDGET.check(total_e, "total.epsilon")
        add, total = None, (total_e, total_d)
    reason = reason_of(body)
    before, after = svc.store.change_budget(
        collab.id,
        org,
        add=add,
        total=total,
        raise_only=True,
        audit=BudgetRaised(reason=reason).by(who.sub, who.org),
    )
    return BudgetRaise(before, after)
