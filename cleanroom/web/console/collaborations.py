"""The collaborations a principal may see, and one collaboration's overview."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import redirect, url_for
from werkzeug.wrappers import Response

from cleanroom.services import audit, budget, collaborations, datasets, runs, templates
from cleanroom.services.records import BudgetLine, Run
from cleanroom.types import CollaborationPolicy
from cleanroom.web.console.blueprint import bp, can, page, svc, who
from cleanroom.web.console.session import signed_in

RECENT_EVENTS = 8


@dataclass(frozen=True)
class BudgetGauge:
    """One partner's budget line as the overview shows it."""

    line: BudgetLine
    last_epsilon: float | None  # the epsilon of this org's latest run the reader may see

    @property
    def runs_like_last(self) -> int | None:
        """How many more runs costing what the last one cost still fit (None: no run yet)."""
        if not self.last_epsilon:
            return None
        return math.floor(self.line.remaining_epsilon / self.last_epsilon + 1e-9)


def budget_gauges(lines: list[BudgetLine], seen_runs: list[Run]) -> list[BudgetGauge]:
    last: dict[str, float] = {}
    for run in sorted(seen_runs, key=lambda r: r.created_at):
        last[run.org] = run.epsilon
    return [BudgetGauge(line, last.get(line.org)) for line in lines]


@bp.get("/")
@signed_in
def collaborations_index() -> Response:
    return redirect(url_for("console.collaborations_list"))


@bp.get("/collaborations")
@signed_in
def collaborations_list() -> Response:
    services, principal = svc(), who()
    found = collaborations.list_collaborations(services, principal)
    items = [collaborations.describe(services, c) for c in found]
    return page("collaborations.html", collaborations=items)


@bp.get("/c/<cid>")
@signed_in
def overview(cid: str) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    described = collaborations.describe(services, collab)
    policy = collaborations.policy_of(collab)
    # Only what the role may read is asked for: a refused read would be audited as refused.
    seen_runs = runs.list_runs(services, principal, cid) if can("run.read") else []
    lines = budget.get_budget(services, principal, cid)
    context: dict[str, Any] = {
        "collab": described,
        "policy_items": [(k, getattr(policy, k)) for k in CollaborationPolicy.KEYS],
        "gauges": budget_gauges(lines, seen_runs),
        "datasets": datasets.list_dataset_views(services, principal, cid)
        if can("dataset.read")
        else None,
        "pending": [
            t for t in templates.list_templates(services, principal, cid) if t.status == "pending"
        ],
        "recent_runs": list(reversed(seen_runs))[:5],
        "events": audit.list_audit(
            services, principal, cid, limit=RECENT_EVENTS, newest_first=True
        ),
    }
    return page("overview.html", **context)
