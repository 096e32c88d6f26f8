"""The privacy-budget ledger API: charge, read lines (from running totals), list charges.

How a charge is checked and written atomically is in ``charges``. Reads take a line's spend from
the ``budgets`` row; only a line whose stored period is not the current one (a refresh period
began since its last charge) is summed from its charges in the current period.
"""

from __future__ import annotations

from sqlalchemy import and_, select

from cleanroom.errors import InvalidRequest, NotFound
from cleanroom.store import rows
from cleanroom.store.audit import append_in_session
from cleanroom.store.charges import (
    adjust_line,
    charge_in_session,
    period_start,
    policy_terms,
    spent_since,
    try_charge_in_one_statement,
)
from cleanroom.store.collaborations import load_collaboration
from cleanroom.store.db import AuditArg, StoreBase, audit_events
from cleanroom.store.models import BudgetChargeRow, BudgetRow, CollaborationRow
from cleanroom.store.records import BudgetCharge, BudgetLine


class LedgerMixin(StoreBase):
    def charge_budget(
        self,
        collaboration_id: str,
        org: str,
        epsilon: float,
        delta: float,
        run_id: str | None = None,
        *,
        totals: tuple[float, float] | None = None,
        refresh_days: int | None = None,
        audit: AuditArg = None,
    ) -> BudgetLine:
        """Charge (epsilon, delta) to ``org``'s budget; returns the line after the charge.

        ``totals`` defaults to the stored policy's (epsilon_budget, delta_budget); ``refresh_days``
        to its ``budget_refresh``. Raises ``BudgetExhausted`` with ``requested`` and ``remaining``
        and writes nothing when spent + requested would exceed a total (``cleanroom.budget.fits``).
        """
        now = self.now()
        plain = not audit_events(audit) and totals is None and refresh_days is None
        if plain and self.dialect == "postgresql":
            # One self-committing statement: the row lock never waits on a round trip to us.
            with self._autocommit() as session:
                fast = try_charge_in_one_statement(
                    session, collaboration_id, org, epsilon, delta, run_id, now
                )
            if fast is not None:
                return fast
        with self._write() as session:
            line = charge_in_session(
                session, collaboration_id, org, epsilon, delta, run_id, totals, refresh_days, now
            )
            facts = {"org": org, "epsilon": epsilon, "delta": delta, "run_id": run_id}
            append_in_session(session, collaboration_id, audit, now, facts)
            return line

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

    def list_charges(self, collaboration_id: str, org: str | None = None) -> list[BudgetCharge]:
        """Every charge (all periods), oldest first."""
        with self._read() as session:
            query = select(BudgetChargeRow).where(
                BudgetChargeRow.collaboration_id == collaboration_id
            )
            if org is not None:
                query = query.where(BudgetChargeRow.org == org)
            found = session.scalars(query.order_by(BudgetChargeRow.created_at, BudgetChargeRow.id))
            return [rows.budget_charge(c) for c in found]
