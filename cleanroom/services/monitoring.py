"""What monitoring (``/metrics``) may know about the whole store: aggregates only."""

from __future__ import annotations

from cleanroom.services.context import Services
from cleanroom.store import OperationalTotals


def operational_totals(svc: Services) -> OperationalTotals:
    """Runs per status and the net epsilon charged, over every collaboration; no ids."""
    return svc.store.operational_totals()
