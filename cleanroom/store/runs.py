"""Creating and reading runs, with idempotency keys and the atomic "create run + charge"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cleanroom.store.db import AuditArg, StoreBase
from cleanroom.store.records import Run, RunCreation


class RunsMixin(StoreBase):
    def create_run(
        self,
        collaboration_id: str,
        template_id: str,
        template_version: int,
        org: str,
        submitted_by: str,
        parameters: Mapping[str, Any],
        epsilon: float,
        delta: float,
        *,
        idempotency_key: str | None = None,
        run_id: str | None = None,
        audit: AuditArg = None,
    ) -> RunCreation:
        """Insert a ``queued`` run. With an ``idempotency_key`` already used by the same
        (collaboration, org), return that run with ``created=False`` and write nothing (``audit``
        is appended only when the run is created)."""
        raise NotImplementedError

    def create_run_with_charge(
        self,
        collaboration_id: str,
        template_id: str,
        template_version: int,
        org: str,
        submitted_by: str,
        parameters: Mapping[str, Any],
        epsilon: float,
        delta: float,
        *,
        idempotency_key: str | None = None,
        run_id: str | None = None,
        totals: tuple[float, float] | None = None,
        refresh_days: int | None = None,
        audit: AuditArg = None,
    ) -> RunCreation:
        """Insert a ``queued`` run and charge its privacy loss in ONE transaction.

        An idempotency key already used returns the existing run and charges nothing. Raises
        ``BudgetExhausted`` (and writes nothing) when the charge does not fit; ``totals`` and
        ``refresh_days`` as for ``charge_budget``.
        """
        raise NotImplementedError

    def get_run(self, run_id: str, *, collaboration_id: str | None = None) -> Run:
        """One run; ``NotFound`` if unknown or in another collaboration."""
        raise NotImplementedError

    def list_runs(self, collaboration_id: str, org: str | None = None) -> list[Run]:
        """The collaboration's runs (only ``org``'s when given), oldest first."""
        raise NotImplementedError
