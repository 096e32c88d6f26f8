"""Partners joining and leaving a collaboration (retailer admin).

A new partner gets its own budget line: the policy's budget, or totals of its own. Ending a
membership keeps the partner a reader of what it did (its runs, reports, budget line and audit
events) but refuses everything else from then on (``services.lifecycle``); its datasets are
purged on request, now or later. A former partner can be added again: it keeps its budget line,
spend included, since the privacy loss it already spent does not go away.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanroom.errors import Conflict, InvalidRequest, NotFound
from cleanroom.events import BudgetSet, PartnerAdded, PartnerRemoved
from cleanroom.services.access import authorize
from cleanroom.services.collaborations import MAX_ORG, policy_of, reason_of, text_field
from cleanroom.services.context import Services
from cleanroom.services.datasets import purge_org_datasets
from cleanroom.services.lifecycle import require_not_ended
from cleanroom.store import BudgetLine, Collaboration, Membership
from cleanroom.types import Principal


@dataclass(frozen=True)
class PartnerRemoval:
    collaboration: Collaboration
    membership: Membership
    purged: tuple[dict[str, Any], ...]  # {"dataset_id", "name", "purged_versions"} each

    def to_dict(self) -> dict[str, Any]:
        member = self.membership.to_dict()
        member.pop("collaboration_id")
        return {
            "collaboration": self.collaboration.to_dict(),
            "membership": member,
            "purged_datasets": [dict(p) for p in self.purged],
        }


def _budget(raw: Any, defaults: tuple[float, float]) -> tuple[float, float] | None:
    """A new partner's ``budget`` ({"epsilon", "delta"}; a missing one takes the policy's)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not raw or set(raw) - {"epsilon", "delta"}:
        raise InvalidRequest('budget must be an object like {"epsilon": 5.0, "delta": 1e-6}')
    epsilon, delta = raw.get("epsilon", defaults[0]), raw.get("delta", defaults[1])
    for value in (epsilon, delta):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidRequest("budget.epsilon and budget.delta must be finite numbers")
    if epsilon <= 0 or not 0 <= delta < 1:
        raise InvalidRequest("budget.epsilon must be positive and budget.delta in [0, 1)")
    return float(epsilon), float(delta)


def add_partner(
    svc: Services, who: Principal, collaboration_id: str, body: Mapping[str, Any]
) -> tuple[Collaboration, BudgetLine]:
    """Add ``body["org"]`` as a partner (or a former partner again); the collaboration after it
    and the partner's budget line."""
    collab = authorize(svc, who, collaboration_id, "partner.add")
    unknown = sorted(set(body) - {"org", "budget", "reason"})
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(unknown)}")
    org = text_field(body.get("org"), "org", MAX_ORG)
    current = svc.store.get_collaboration(collab.id)
    require_not_ended(current, who.org, svc.store.now())
    if org == current.retailer_org:
        raise InvalidRequest("the retailer's own org cannot also be a partner")
    member = current.membership(org)
    if member is not None and member.active:
        raise Conflict(f"{org} is already a partner of this collaboration")
    policy = policy_of(current)
    budget = _budget(body.get("budget"), (policy.epsilon_budget, policy.delta_budget))
    if member is not None and budget is not None:
        raise InvalidRequest(
            f"{org} was a partner before and keeps its budget line; raise it with "
            f"POST .../budget/{org}/raise instead of giving a budget here"
        )
    events = [PartnerAdded(reason=reason_of(body)).by(who.sub, who.org)]
    if budget is not None:
        total = {"epsilon": budget[0], "delta": budget[1]}
        events.append(BudgetSet(total=total).by(who.sub, who.org))
    updated = svc.store.add_partner(current.id, org, budget=budget, audit=events)
    svc.collaborations.put(updated)
    return updated, svc.store.get_budget_line(updated.id, org)


def remove_partner(
    svc: Services, who: Principal, collaboration_id: str, org: str, body: Mapping[str, Any]
) -> PartnerRemoval:
    """End ``org``'s membership, and with ``purge_data`` purge its datasets (also later, for a
    membership that already ended)."""
    collab = authorize(svc, who, collaboration_id, "partner.remove")
    unknown = sorted(set(body) - {"purge_data", "reason"})
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(unknown)}")
    purge = body.get("purge_data", False)
    if not isinstance(purge, bool):
        raise InvalidRequest("purge_data must be true or false")
    current = svc.store.get_collaboration(collab.id)
    member = current.membership(org)
    if member is None:
        raise NotFound(f"{org} is not a member of this collaboration")
    if member.role != "partner":
        raise InvalidRequest("the retailer's membership cannot end; end the collaboration instead")
    if member.active:
        event = PartnerRemoved(purge_data=purge, reason=reason_of(body)).by(who.sub, who.org)
        current = svc.store.end_membership(current.id, org, who.sub, audit=event)
        svc.collaborations.put(current)
    elif not purge:
        raise Conflict(
            f"the membership of {org} already ended; send purge_data: true to purge its data"
        )
    purged = purge_org_datasets(svc, current.id, org, "partner.removed") if purge else []
    ended = current.membership(org)
    assert ended is not None
    return PartnerRemoval(current, ended, tuple(purged))
