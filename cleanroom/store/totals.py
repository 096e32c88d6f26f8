"""Operational totals for monitoring (``/metrics``): counts and sums over every collaboration,
never an id, a name or a data value."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from cleanroom.store.db import StoreBase
from cleanroom.store.models import BudgetChargeRow, RunRow
from cleanroom.store.records import RUN_STATUSES


@dataclass(frozen=True)
class OperationalTotals:
    runs_by_status: dict[str, int] = field(default_factory=dict)  # every status, 0 included
    epsilon_charged: float = 0.0  # net epsilon of every budget charge ever made


class TotalsMixin(StoreBase):
    def operational_totals(self) -> OperationalTotals:
        """Runs per status and the epsilon charged, over the whole store (two aggregates)."""
        with self._read() as session:
            counted = session.execute(
                select(RunRow.status, func.count()).group_by(RunRow.status)
            ).all()
            charged = session.execute(select(func.coalesce(func.sum(BudgetChargeRow.epsilon), 0.0)))
            epsilon = float(charged.scalar_one())
        runs = dict.fromkeys(RUN_STATUSES, 0)
        runs.update({str(status): int(n) for status, n in counted})
        return OperationalTotals(runs, epsilon)
