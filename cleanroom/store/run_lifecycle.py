"""Run execution states: claim, progress, fail, complete (report + state + audit), recovery.

``queued -> running -> succeeded | failed`` and ``queued -> failed``; anything else is a
``Conflict``. Each change is a conditional ``UPDATE ... WHERE status IN (<legal sources>)`` inside a
write transaction, so two callers cannot both move the same run. Claiming picks the oldest queued
run with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (concurrent claimers skip each other's
pick instead of waiting) and under the ``BEGIN IMMEDIATE`` write lock on SQLite.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from cleanroom.errors import Conflict, InvalidRequest, NotFound, ReportNotReady
from cleanroom.events import SYSTEM_ACTOR, RunFailed
from cleanroom.store import rows
from cleanroom.store.audit import append_in_session
from cleanroom.store.db import AuditArg, StoreBase
from cleanroom.store.models import ReportRow, RunRow
from cleanroom.store.records import Report, Run

# The one code and message of every run that failed once its execution had started (an engine
# error, a timeout, a lost worker): how a run failed can depend on the data, so it is not told.
EXECUTION_FAILED = (
    "execution_failed",
    "the run failed while executing; the cause is not shown, it may depend on the data",
)


_RUNS = cast(Table, RunRow.__table__)
_REPORTS = cast(Table, ReportRow.__table__)
# A run's owner and status with its report, if any, in one Core round trip (built once).
_RUN_REPORT = (
    select(
        _RUNS.c.collaboration_id,
        _RUNS.c.status,
        _REPORTS.c.run_id,
        _REPORTS.c.body,
        _REPORTS.c.created_at,
    )
    .select_from(_RUNS.outerjoin(_REPORTS, _REPORTS.c.run_id == _RUNS.c.id))
    .where(_RUNS.c.id == bindparam("r_id"))
)


def _move(
    session: Session, run_id: str, sources: tuple[str, ...], to: str, **values: Any
) -> RunRow:
    """Conditionally change the run's status; ``Conflict`` (or ``NotFound``) when not allowed."""
    changed = session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.status.in_(sources))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    row = session.scalars(
        select(RunRow).where(RunRow.id == run_id).execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFound("run not found")
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"a {row.status} run cannot become {to}")
    return row


class RunLifecycleMixin(StoreBase):
    def claim_next_queued_run(self, worker_id: str) -> Run | None:
        """Atomically take the oldest ``queued`` run: it becomes ``running`` with
        ``claimed_by=worker_id``. Never hands one run to two claimers. None when the queue is empty.
        """
        now = self.now()
        with self._write() as session:
            picked = session.scalars(
                select(RunRow.id)
                .where(RunRow.status == "queued")
                .order_by(RunRow.created_at, RunRow.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if picked is None:
                return None
            row = _move(
                session,
                picked,
                ("queued",),
                "running",
                claimed_by=worker_id,
                started_at=now,
                heartbeat_at=now,
            )
            return rows.run(row)

    def set_progress(self, run_id: str, progress: float) -> Run:
        """Record progress (0..1) of a ``running`` run and refresh its heartbeat."""
        if not (math.isfinite(progress) and 0.0 <= progress <= 1.0):
            raise InvalidRequest("progress must be between 0 and 1")
        with self._write() as session:
            row = _move(
                session,
                run_id,
                ("running",),
                "running",
                progress=progress,
                heartbeat_at=self.now(),
            )
            return rows.run(row)

    def fail_run(
        self, run_id: str, error_code: str, message: str, *, audit: AuditArg = None
    ) -> Run:
        """``queued | running -> failed`` with a safe error code and message. Any budget charge is
        kept (the ledger is append-only). ``Conflict`` when the run already finished.

        The code and message are on the run only, never in the audit event: every member reads
        the audit log, but only the run's org and the retailer may read the run."""
        now = self.now()
        with self._write() as session:
            row = _move(
                session,
                run_id,
                ("queued", "running"),
                "failed",
                error_code=error_code,
                error_message=message,
                finished_at=now,
            )
            append_in_session(session, row.collaboration_id, audit, now, {"run_id": run_id})
            return rows.run(row)

    def complete_run(self, run_id: str, report_json: str, *, audit: AuditArg = None) -> Report:
        """Store the report, mark the run ``succeeded`` and append ``audit`` in ONE transaction.

        ``report_json`` is stored verbatim and never changes. ``Conflict`` when the run is not
        ``running`` (a second complete included); then nothing is written.
        """
        now = self.now()
        with self._write() as session:
            row = _move(session, run_id, ("running",), "succeeded", progress=1.0, finished_at=now)
            report = ReportRow(run_id=run_id, body=report_json, created_at=now)
            session.add(report)
            session.flush()
            append_in_session(session, row.collaboration_id, audit, now, {"run_id": run_id})
            return rows.report(report)

    def get_report(self, run_id: str, *, collaboration_id: str | None = None) -> Report:
        """The run's report; ``NotFound`` for an unknown run, ``ReportNotReady`` before success."""
        with self._read_rows() as conn:
            found = conn.execute(_RUN_REPORT, {"r_id": run_id}).first()
        if found is None or collaboration_id not in (None, found.collaboration_id):
            raise NotFound("run not found")
        if found.run_id is None:
            raise ReportNotReady(f"the run is {found.status}; its report is not available")
        return rows.report(found)

    def recover_orphaned_runs(self, older_than: timedelta | None = None) -> list[Run]:
        """Fail ``running`` runs whose heartbeat is older than ``older_than`` (all running runs when
        None, e.g. at start-up of a single worker) with ``EXECUTION_FAILED`` (a worker can die of
        the data, e.g. out of memory, so this looks like any other execution failure).
        A ``run.failed`` audit event by the system actor (the run's id only) is appended for each,
        in the same transaction.
        """
        now = self.now()
        with self._write() as session:
            query = select(RunRow.id).where(RunRow.status == "running")
            if older_than is not None:
                query = query.where(RunRow.heartbeat_at < now - older_than)
            # SKIP LOCKED: a run a live worker is updating right now is not an orphan.
            ids = session.scalars(query.order_by(RunRow.id).with_for_update(skip_locked=True))
            recovered = [self._interrupt(session, rid, now) for rid in ids.all()]
            return recovered

    @staticmethod
    def _interrupt(session: Session, run_id: str, now: datetime) -> Run:
        code, message = EXECUTION_FAILED
        row = _move(
            session,
            run_id,
            ("running",),
            "failed",
            error_code=code,
            error_message=message,
            finished_at=now,
        )
        event = RunFailed(run_id=run_id).by(SYSTEM_ACTOR, row.org)
        append_in_session(session, row.collaboration_id, event, now, {"run_id": run_id})
        return rows.run(row)
