"""The privacy-budget ledger API: read lines (from running totals) and change a line's totals.

Charges are made only with the run they pay for (``Store.create_run_with_charge``); how a charge
is checked and written atomically is in ``charges``. Reads take a line's spend from
the ``budgets`` row; only a line whose stored period is not the current one (a refresh period
began since its last charge) is summed from its charges in the current period.
"""

from __future__ import annotations

from sqlalchemy import and_, select

from cleanroom.errors import InvalidRequest, NotFound
from cleanroom.store.audit import append_in_session
from cleanroom.store.charges import adjust_line, period_start, policy_terms, spent_since
from cleanroom.store.collaborations import load_collaboration
from cleanroom.store.db import AuditArg, StoreBase
from cleanroom.store.models import BudgetRow, CollaborationRow
from cleanroom.store.records import BudgetLine


class LedgerMixin(StoreBase):
    def get_budget(self, collaboration_id: str) -> list[BudgetLine]:
        """One line per partner org (and any other org with charges): total, spent, remaining."""
        now = self.now()
        with self._read() as session:
            collab = load_collaboration(session, collaboration_id)
            (policy_e, policy_d), refresh = policy_terms(collab.policy)
            period = period_start(collab.created_at, refresh, now)
            found = session.scalars(
                select(BudgetRow).where(BudgetRow.collaboration_id == collaboration_id)
            ).all()
            stale = [b.org for b in found if b.period_start != period]
            recounted = spent_since(session, collaboration_id, stale, period) if stale else {}
            lines: dict[str, BudgetLine] = {}
            for b in found:
                spent = (b.spent_epsilon, b.spent_delta)
                if b.org in stale:
                    spent = recounted.get(b.org, (0.0, 0.0))
                lines[b.org] = BudgetLine(
                    collaboration_id, b.org, b.total_epsilon, b.total_delta, *spent
                )
            for org in collab.partner_orgs:
                lines.setdefault(
                    org, BudgetLine(collaboration_id, org, policy_e, policy_d, 0.0, 0.0)
                )
            return [lines[org] for org in sorted(lines)]

    def get_budget_line(self, collaboration_id: str, org: str) -> BudgetLine:
        """One org's line (the policy's totals and spent 0 when it never ran anything)."""
        now = self.now()
        with self._read() as session:
            found = session.execute(
                select(CollaborationRow, BudgetRow)
                .outerjoin(
                    BudgetRow,
                    and_(BudgetRow.collaboration_id == CollaborationRow.id, BudgetRow.org == org),
                )
                .where(CollaborationRow.id == collaboration_id)
            ).one_or_none()
            if found is None:
                raise NotFound("collaboration not found")
            collab = found[0]
            budget: BudgetRow | None = found[1]  # outer join: None when the org has no line
            (policy_e, policy_d), refresh = policy_terms(collab.policy)
            if budget is None:
                return BudgetLine(collaboration_id, org, policy_e, policy_d, 0.0, 0.0)
            period = period_start(collab.created_at, refresh, now)
            spent = (budget.spent_epsilon, budget.spent_delta)
            if budget.period_start != period:
                spent = spent_since(session, collaboration_id, [org], period).get(org, (0.0, 0.0))
            return BudgetLine(
                collaboration_id, org, budget.total_epsilon, budget.total_delta, *spent
            )

    def change_budget(
        self,
        collaboration_id: str,
        org: str,
        *,
        add: tuple[float, float] | None = None,
        total: tuple[float | None, float | None] | None = None,
        raise_only: bool = False,
        audit: AuditArg = None,
    ) -> tuple[BudgetLine, BudgetLine]:
        """Give ``org`` a budget of its own: ``add`` (epsilon, delta) to its line's totals, or
        set them to ``total``. Returns the line before and after, in the current period.

        With ``raise_only``, a change that would lower either total, or raise neither, is
        ``InvalidRequest`` and writes nothing. ``audit`` events get ``partner_org``,
        ``previous_total`` and ``total``."""
        now = self.now()
        with self._write() as session:
            before, after = adjust_line(session, collaboration_id, org, now, add=add, total=total)
            lowered = [
                what
                for what, old, new in (
                    ("epsilon", before.total_epsilon, after.total_epsilon),
                    ("delta", before.total_delta, after.total_delta),
                )
                if new < old
            ]
            now_is = f"now epsilon={before.total_epsilon:g}, delta={before.total_delta:g}"
            if raise_only and lowered:
                raise InvalidRequest(
                    f"this would lower {org}'s {' and '.join(lowered)} total ({now_is}); "
                    "a raise can only add"
                )
            unchanged = (before.total_epsilon, before.total_delta) == (
                after.total_epsilon,
                after.total_delta,
            )
            if raise_only and unchanged:
                raise InvalidRequest(f"{org}'s budget already has these totals ({now_is})")
            facts = {
                "partner_org": org,
                "previous_total": {"epsilon": before.total_epsilon, "delta": before.total_delta},
                "total": {"epsilon": after.total_epsilon, "delta": after.total_delta},
            }
            append_in_session(session, collaboration_id, audit, now, facts)
            return before, after
