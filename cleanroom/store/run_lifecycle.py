"""Run execution states: claim, progress, fail, complete (report + state + audit), recovery.

``queued -> running -> succeeded | failed`` and ``queued -> failed``; anything else is a
``Conflict``.
"""

from __future__ import annotations

from datetime import timedelta

from cleanroom.store.db import AuditArg, StoreBase
from cleanroom.store.records import Report, Run


class RunLifecycleMixin(StoreBase):
    def claim_next_queued_run(self, worker_id: str) -> Run | None:
        """Atomically take the oldest ``queued`` run: it becomes ``running`` with
        ``claimed_by=worker_id``. Never hands one run to two claimers. None when the queue is empty.
        """
        raise NotImplementedError

    def mark_running(self, run_id: str, worker_id: str, *, audit: AuditArg = None) -> Run:
        """``queued -> running`` for one given run (inline execution); ``Conflict`` otherwise."""
        raise NotImplementedError

    def set_progress(self, run_id: str, progress: float) -> Run:
        """Record progress (0..1) of a ``running`` run and refresh its heartbeat."""
        raise NotImplementedError

    def fail_run(
        self, run_id: str, error_code: str, message: str, *, audit: AuditArg = None
    ) -> Run:
        """``queued | running -> failed`` with a safe error code and message. Any budget charge is
        kept (the ledger is append-only). ``Conflict`` when the run already finished."""
        raise NotImplementedError

    def complete_run(self, run_id: str, report_json: str, *, audit: AuditArg = None) -> Report:
        """Store the report, mark the run ``succeeded`` and append ``audit`` in ONE transaction.

        ``report_json`` is stored verbatim and never changes. ``Conflict`` when the run is not
        ``running`` (a second complete included); then nothing is written.
        """
        raise NotImplementedError

    def get_report(self, run_id: str, *, collaboration_id: str | None = None) -> Report:
        """The run's report; ``NotFound`` for an unknown run, ``ReportNotReady`` before success."""
        raise NotImplementedError

    def recover_orphaned_runs(
        self, older_than: timedelta | None = None, *, actor: str | None = "system"
    ) -> list[Run]:
        """Fail ``running`` runs whose heartbeat is older than ``older_than`` (all running runs when
        None, e.g. at start-up of a single worker) with ``execution_failed`` / "interrupted".
        With ``actor``, a ``run.failed`` audit event is appended for each, in the same transaction.
        """
        raise NotImplementedError
