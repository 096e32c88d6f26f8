"""The privacy-budget ledger: append-only charges, checked and written atomically.

Per (collaboration, org) there is one ``budgets`` row holding the totals; it is the lock target.
SQLite: the write transaction starts with ``BEGIN IMMEDIATE``, so "sum spent, compare, append" runs
under the database write lock. PostgreSQL: the row is created with ``INSERT ... ON CONFLICT DO
NOTHING`` and then locked with ``SELECT ... FOR UPDATE`` before summing, so concurrent charges of
one org queue on that row while other orgs' charges proceed.

Refresh periods (policy ``budget_refresh`` "PnD"): periods are anchored at the collaboration's
``created_at``; period k covers ``[created_at + k*n days, created_at + (k+1)*n days)`` and only
charges made inside the current period count as spent.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cleanroom.errors import BudgetExhausted, InvalidRequest
from cleanroom.store import rows
from cleanroom.store.audit import append_in_session
from cleanroom.store.db import (
    AuditArg,
    StoreBase,
    ensure_org,
    insert_ignore,
    new_id,
    require_collaboration,
)
from cleanroom.store.models import BudgetChargeRow, BudgetRow, CollaborationRow, MembershipRow
from cleanroom.store.records import BudgetCharge, BudgetLine
from cleanroom.types import CollaborationPolicy

TOLERANCE = 1e-9


def period_start(anchor: datetime, refresh_days: int | None, now: datetime) -> datetime | None:
    """Start of the budget period containing ``now`` (None: budgets never refresh).

    >>> from datetime import UTC
    >>> a = datetime(2025, 1, 1, tzinfo=UTC)
    >>> period_start(a, 30, datetime(2025, 3, 5, tzinfo=UTC)).isoformat()
    '2025-03-02T00:00:00+00:00'
    """
    if not refresh_days:
        return None
    length = timedelta(days=refresh_days)
    return anchor + max(0, (now - anchor) // length) * length


def _policy(row: CollaborationRow) -> tuple[tuple[float, float], int | None]:
    policy = CollaborationPolicy.from_dict(row.policy)
    match = re.fullmatch(r"P(\d+)D", policy.budget_refresh or "")
    return (policy.epsilon_budget, policy.delta_budget), int(match[1]) if match else None


def _spent(
    session: Session, collaboration_id: str, since: datetime | None
) -> dict[str, tuple[float, float]]:
    query = (
        select(
            BudgetChargeRow.org,
            func.coalesce(func.sum(BudgetChargeRow.epsilon), 0.0),
            func.coalesce(func.sum(BudgetChargeRow.delta), 0.0),
        )
        .where(BudgetChargeRow.collaboration_id == collaboration_id)
        .group_by(BudgetChargeRow.org)
    )
    if since is not None:
        query = query.where(BudgetChargeRow.created_at >= since)
    return {org: (float(e), float(d)) for org, e, d in session.execute(query)}


def _check_loss(epsilon: float, delta: float) -> None:
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise InvalidRequest("privacy_loss.epsilon must be a finite number >= 0")
    if not (math.isfinite(delta) and 0 <= delta < 1):
        raise InvalidRequest("privacy_loss.delta must be in [0, 1)")


def lock_budget(
    session: Session,
    collaboration_id: str,
    org: str,
    totals: tuple[float, float] | None,
    now: datetime,
) -> BudgetRow:
    """Create (if needed) and lock the org's budget row for the rest of the transaction.

    Totals default to the stored policy's and are refreshed from ``totals`` when given.
    """
    collab = require_collaboration(session, collaboration_id)
    total_e, total_d = totals if totals is not None else _policy(collab)[0]
    ensure_org(session, org, "advertiser", now)
    key = {"collaboration_id": collaboration_id, "org": org}
    first = {**key, "total_epsilon": total_e, "total_delta": total_d, "created_at": now}
    insert_ignore(session, BudgetRow, [first])
    budget = session.scalars(
        select(BudgetRow)
        .filter_by(**key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if (budget.total_epsilon, budget.total_delta) != (total_e, total_d):
        budget.total_epsilon, budget.total_delta = total_e, total_d
    return budget


def charge_in_session(
    session: Session,
    collaboration_id: str,
    org: str,
    epsilon: float,
    delta: float,
    run_id: str | None,
    totals: tuple[float, float] | None,
    refresh_days: int | None,
    now: datetime,
) -> BudgetLine:
    """Check and append one charge inside the caller's write transaction (see module doc).

    Raises ``BudgetExhausted`` before writing anything when the charge does not fit.
    """
    _check_loss(epsilon, delta)
    budget = lock_budget(session, collaboration_id, org, totals, now)
    total_e, total_d = budget.total_epsilon, budget.total_delta
    collab = require_collaboration(session, collaboration_id)
    refresh = refresh_days if refresh_days is not None else _policy(collab)[1]
    since = period_start(collab.created_at, refresh, now)
    spent_e, spent_d = _spent(session, collaboration_id, since).get(org, (0.0, 0.0))
    if spent_e + epsilon > total_e + TOLERANCE or spent_d + delta > total_d + TOLERANCE:
        remaining = {"epsilon": max(0.0, total_e - spent_e), "delta": max(0.0, total_d - spent_d)}
        raise BudgetExhausted(requested={"epsilon": epsilon, "delta": delta}, remaining=remaining)
    session.add(
        BudgetChargeRow(
            id=new_id("chg"),
            collaboration_id=collaboration_id,
            org=org,
            run_id=run_id,
            epsilon=epsilon,
            delta=delta,
            created_at=now,
        )
    )
    session.flush()
    return BudgetLine(collaboration_id, org, total_e, total_d, spent_e + epsilon, spent_d + delta)


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
        and writes nothing when spent + requested would exceed a total (tolerance 1e-9).
        """
        now = self.now()
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
            collab = require_collaboration(session, collaboration_id)
            (policy_e, policy_d), refresh = _policy(collab)
            totals = {
                b.org: (b.total_epsilon, b.total_delta)
                for b in session.scalars(
                    select(BudgetRow).where(BudgetRow.collaboration_id == collaboration_id)
                )
            }
            partners = session.scalars(
                select(MembershipRow.org).where(
                    MembershipRow.collaboration_id == collaboration_id,
                    MembershipRow.role == "partner",
                )
            ).all()
            spent = _spent(session, collaboration_id, period_start(collab.created_at, refresh, now))
            lines = []
            for org in sorted(set(partners) | set(totals)):
                total_e, total_d = totals.get(org, (policy_e, policy_d))
                spent_e, spent_d = spent.get(org, (0.0, 0.0))
                lines.append(BudgetLine(collaboration_id, org, total_e, total_d, spent_e, spent_d))
            return lines

    def get_budget_line(self, collaboration_id: str, org: str) -> BudgetLine:
        """One org's line (spent 0 when it never ran anything)."""
        for line in self.get_budget(collaboration_id):
            if line.org == org:
                return line
        (total_e, total_d), _ = self._policy_totals(collaboration_id)
        return BudgetLine(collaboration_id, org, total_e, total_d, 0.0, 0.0)

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

    def _policy_totals(self, collaboration_id: str) -> tuple[tuple[float, float], int | None]:
        with self._read() as session:
            return _policy(require_collaboration(session, collaboration_id))
