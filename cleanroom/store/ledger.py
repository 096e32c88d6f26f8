"""The privacy-budget ledger: append-only charges, checked and written atomically.

Per (collaboration, org) there is one ``budgets`` row holding the totals; it is the lock target.
SQLite: the write transaction starts with ``BEGIN IMMEDIATE``, so "sum spent, compare, append" runs
under the database write lock. PostgreSQL: the row is created with ``INSERT ... ON CONFLICT DO
NOTHING`` and then locked with ``SELECT ... FOR UPDATE`` before summing.

Refresh periods (policy ``budget_refresh`` "PnD"): periods are anchored at the collaboration's
``created_at``; period k covers ``[created_at + k*n days, created_at + (k+1)*n days)`` and only
charges made inside the current period count as spent.
"""

from __future__ import annotations

from cleanroom.store.db import AuditArg, StoreBase
from cleanroom.store.records import BudgetCharge, BudgetLine

TOLERANCE = 1e-9


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
        raise NotImplementedError

    def get_budget(self, collaboration_id: str) -> list[BudgetLine]:
        """One line per partner org (and any other org with charges): total, spent, remaining."""
        raise NotImplementedError

    def get_budget_line(self, collaboration_id: str, org: str) -> BudgetLine:
        """One org's line (spent 0 when it never ran anything)."""
        raise NotImplementedError

    def list_charges(self, collaboration_id: str, org: str | None = None) -> list[BudgetCharge]:
        """Every charge (all periods), oldest first."""
        raise NotImplementedError
