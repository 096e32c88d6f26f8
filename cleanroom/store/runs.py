"""Creating and reading runs, with idempotency keys and the atomic "create run + charge".

Idempotency: ``(collaboration, org, idempotency_key)`` is unique. ``create_run_with_charge``
inserts with ``INSERT ... ON CONFLICT DO NOTHING`` and, when nothing was inserted, returns the run
that holds the key and charges nothing; otherwise it charges (see ``charges``) in the same
transaction, so a refused charge rolls the new run back. A run never exists without its charge.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from cleanroom.errors import Conflict, NotFound
from cleanroom.store import rows
from cleanroom.store.audit import append_in_session
from cleanroom.store.charges import charge_in_session, check_loss
from cleanroom.store.db import (
    AuditArg,
    StoreBase,
    ensure_org,
    insert_ignore,
    new_id,
    require_collaboration,
)
from cleanroom.store.models import RunRow, TemplateRow
from cleanroom.store.records import Run, RunCreation

_RUNS = cast(Table, RunRow.__table__)
# Built once (a Core read of one row; bound by name, so the compiled statement is reused).
_ONE_RUN = select(_RUNS).where(_RUNS.c.id == bindparam("r_id"))


def _by_key(session: Session, collaboration_id: str, org: str, key: str) -> RunRow | None:
    return session.scalars(
        select(RunRow).where(
            RunRow.collaboration_id == collaboration_id,
            RunRow.org == org,
            RunRow.idempotency_key == key,
        )
    ).one_or_none()


def _new_run(run_id: str, now: datetime, **fields: Any) -> dict[str, Any]:
    return {
        **fields,
        "id": run_id,
        "parameters": dict(fields["parameters"]),
        "weights": dict(fields["weights"]) if fields.get("weights") else None,
        "status": "queued",
        "progress": 0.0,
        "error_code": None,
        "error_message": None,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
        "claimed_by": None,
        "heartbeat_at": None,
    }


def _check_template(
    session: Session, collaboration_id: str, template_id: str, version: int
) -> None:
    template = session.get(TemplateRow, template_id)
    if template is None or template.collaboration_id != collaboration_id:
        raise NotFound("template not found")
    if template.version != version:
        raise Conflict("the template id and version do not match")


def _insert_run(
    session: Session,
    run_id: str,
    now: datetime,
    *,
    collaboration_id: str,
    template_id: str,
    template_version: int,
    org: str,
    **fields: Any,
) -> tuple[dict[str, Any], RunCreation | None]:
    """Insert a ``queued`` run; ``(values, None)`` when inserted, or the run an already used
    idempotency key names (``created=False``; nothing written). The unique key decides: a
    concurrent creation with the same key waits here for the other transaction, then finds it."""
    require_collaboration(session, collaboration_id)
    _check_template(session, collaboration_id, template_id, template_version)
    ensure_org(session, org, "advertiser", now)
    values = _new_run(
        run_id,
        now,
        collaboration_id=collaboration_id,
        template_id=template_id,
        template_version=template_version,
        org=org,
        **fields,
    )
    if insert_ignore(session, RunRow, [values]) == 0:
        existing = _by_key(session, collaboration_id, org, fields.get("idempotency_key") or "")
        if existing is None:  # the conflict was on the run id itself
            raise Conflict("a run with this id already exists")
        return values, RunCreation(rows.run(existing), created=False)
    return values, None


class RunsMixin(StoreBase):
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
        audit: AuditArg = None,
        weights: Mapping[str, float] | None = None,
    ) -> RunCreation:
        """Insert a ``queued`` run and charge its privacy loss in ONE transaction.

        With an ``idempotency_key`` already used by the same (collaboration, org), return that
        run with ``created=False`` and write nothing (no charge, no audit). Raises
        ``BudgetExhausted`` (and writes nothing) when the charge does not fit the line's totals
        in the policy's current refresh period; ``weights`` are the request's per-output weights,
        kept so that the worker divides the loss as the request did.
        """
        check_loss(epsilon, delta)  # before the insert: the run row stores the loss too
        now = self.now()
        rid = new_id("run")
        with self._write() as session:
            values, existing = _insert_run(
                session,
                rid,
                now,
                collaboration_id=collaboration_id,
                template_id=template_id,
                template_version=template_version,
                org=org,
                submitted_by=submitted_by,
                parameters=parameters,
                weights=weights,
                epsilon=epsilon,
                delta=delta,
                idempotency_key=idempotency_key,
            )
            if existing is not None:
                return existing
            # After the insert: the idempotency round trip stays out of the time the budget line
            # is locked.
            charge_in_session(session, collaboration_id, org, epsilon, delta, rid, now)
            facts: dict[str, Any] = {
                "run_id": rid,
                "template_id": template_id,
                "template_version": template_version,
                "epsilon": epsilon,
                "delta": delta,
            }
            append_in_session(session, collaboration_id, audit, now, facts)
            return RunCreation(rows.run(RunRow(**values)), created=True)

    def get_run(self, run_id: str, *, collaboration_id: str | None = None) -> Run:
        """One run; ``NotFound`` if unknown or in another collaboration."""
        with self._read_rows() as conn:
            row = conn.execute(_ONE_RUN, {"r_id": run_id}).first()
        if row is None or collaboration_id not in (None, row.collaboration_id):
            raise NotFound("run not found")
        return rows.run(row)

    def list_runs(self, collaboration_id: str, org: str | None = None) -> list[Run]:
        """The collaboration's runs (only ``org``'s when given), oldest first."""
        with self._read() as session:
            query = select(RunRow).where(RunRow.collaboration_id == collaboration_id)
            if org is not None:
                query = query.where(RunRow.org == org)
            found = session.scalars(query.order_by(RunRow.created_at, RunRow.id))
            return [rows.run(r) for r in found]
