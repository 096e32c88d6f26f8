"""The store's records the shells name in annotations and read fields of (a run, a template, a
budget line, the operational totals): the use cases return them, and the shells import their
types from here, so web and cli never reach into the store."""

from __future__ import annotations

from cleanroom.store import BudgetLine, OperationalTotals, Run, Template

__all__ = ["BudgetLine", "OperationalTotals", "Run", "Template"]
