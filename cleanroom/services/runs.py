"""Runs: preview, create (charge first), execute, and read.

The ledger is charged in the same transaction that queues the run, before any engine touches
data; a request over the remaining budget is refused and writes nothing. A run that fails after
it was queued keeps its charge (docs/privacy.md says why). The report, the run's final state and
its audit event are written in one transaction: noise is drawn once and never again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from cleanroom.budget import fits
from cleanroom.config import Settings
from cleanroom.dp import PrivacyLoss, release
from cleanroom.dp.estimated_bounds import (
    EstimatedBound,
    bounds_with_estimates,
    candidate_grid,
    check_estimated_plan,
    estimate_bound,
    estimated_measurement,
    partials_in_release,
)
from cleanroom.dp.explanation import default_bound_sources
from cleanroom.dp.fairness import composition
from cleanroom.dp.lift import group_key_outputs, lift_of, measured_outputs
from cleanroom.dp.loss import compose
from cleanroom.dp.opt_in import opt_in_of
from cleanroom.dp.postprocess import columns_of
from cleanroom.dp.preview import check_targets, smallest_loss
from cleanroom.errors import CleanroomError, Conflict, InternalError, InvalidRequest
from cleanroom.events import (
    SYSTEM_ACTOR,
    BudgetCharged,
    RunCancelled,
    RunCreated,
    RunFailed,
    RunFlaggedForReview,
    RunSucceeded,
)
from cleanroom.policy import partials_query
from cleanroom.scratch import sweep_data_dir
from cleanroom.services.access import authorize, can_see, require_visible
from cleanroom.services.context import Services
from cleanroom.services.lifecycle import require_can_run
from cleanroom.services.requests import RunRequest
from cleanroom.services.run_planning import RunPlan, plan_run
from cleanroom.store import EXECUTION_FAILED, Collaboration, Run
from cleanroom.types import FAIRNESS_PURPOSE, SUPPRESSION_VIEW, Col, Principal, dataset_view

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_SECONDS = 0.5
HEARTBEATS_MISSED = 4  # a run silent for this many heartbeat periods lost its worker


def heartbeat_timeout(settings: Settings) -> timedelta:
    """How long a running run may stay silent before it is taken for orphaned."""
    return timedelta(seconds=HEARTBEATS_MISSED * settings.run_heartbeat_seconds)


def _plan_request(
    svc: Services, collab: Collaboration, who: Principal, request: RunRequest
) -> RunPlan:
    """:func:`plan_run` for ``who``'s request (its preview and its creation plan alike)."""
    return plan_run(
        svc,
        collab,
        request.template_id,
        request.parameters,
        request.privacy_loss,
        org=who.org,
        weights=request.weights,
    )


def preview_run(
    svc: Services, who: Principal, collaboration_id: str, request: RunRequest
) -> dict[str, Any]:
    """Cost split, expected 95% half-widths and remaining budget; with ``targets`` (a half-width
    per output), the smallest epsilon that meets them all and whether the budget affords it.
    Touches no data."""
    collab = authorize(svc, who, collaboration_id, "run.preview")
    require_can_run(collab, who.org, svc.store.now())
    plan = _plan_request(svc, collab, who, request)
    expected = plan.expected  # calibrated once, by plan_run
    line = svc.store.get_budget_line(collab.id, who.org)
    out = {
        "template": {"id": plan.template.id, "name": plan.template.name},
        **expected.to_dict(),
        "privacy_loss": plan.loss.to_dict(),
        **({"weights": dict(plan.weights)} if plan.weights else {}),
        "remaining": {"epsilon": line.remaining_epsilon, "delta": line.remaining_delta},
        "affordable": line.can_afford(plan.loss.epsilon, plan.loss.delta),
    }
    if plan.estimates:
        out["estimated_bounds"] = estimated_bounds_preview(plan)
    if request.targets is not None and plan.estimates:
        raise InvalidRequest(
            "accuracy targets are not available for a template with estimated bounds "
            "('-- estimate:'): its half-widths depend on the estimate"
        )
    if request.targets is not None:
        targets = check_targets(request.targets, plan.compiled.plan)
        found = smallest_loss(
            plan.compiled.plan,
            targets,
            plan.split.requested.delta,
            max_epsilon=plan.policy.max_epsilon_per_run,
            noise=plan.noise,
            weights=plan.weights,
            start=expected,
        )
        charged = found.privacy_loss
        affordable = charged is not None and line.can_afford(charged.epsilon, charged.delta)
        out["target"] = {**found.to_dict(), "affordable": affordable}
    return out


def estimated_bounds_preview(plan: RunPlan) -> list[dict[str, Any]]:
    """What a preview says of each ``-- estimate:`` line: the grid, the quantile, the share, and
    the expected half-width at the outer bound, an upper bound of the one the run will have
    (the estimate is at most the outer bound)."""
    out = []
    for spec in plan.estimates:
        m = estimated_measurement(spec, plan.compiled.plan)
        if m is None:  # plan_run checked it
            raise InternalError()
        out.append(
            {
                **spec.to_dict(),
                "measurement": m.column,
                "epsilon": plan.estimate_epsilons[spec.output],
                "outer_bounds": [m.lower, m.upper],
                "candidates": candidate_grid(m.lower, m.upper, m.integer),
                "half_width": plan.expected.measurement_half_widths.get(m.column),
                "half_width_is": "upper_bound_at_outer_bound",
            }
        )
    return out


def create_run(
    svc: Services,
    who: Principal,
    collaboration_id: str,
    request: RunRequest,
    idempotency_key: str | None = None,
) -> tuple[Run, bool]:
    """Queue a run and charge its privacy loss atomically; ``(run, created)``.

    The same ``idempotency_key`` returns the first run and charges nothing more."""
    collab = authorize(svc, who, collaboration_id, "run.create")
    if idempotency_key is not None:
        for run in svc.store.list_runs(collab.id, who.org):
            if run.idempotency_key == idempotency_key:
                return run, False
    # Spending budget is decided on the terms as they are now, never on a cached copy.
    collab = svc.store.get_collaboration(collab.id)
    require_can_run(collab, who.org, svc.store.now())
    plan = _plan_request(svc, collab, who, request)
    loss = plan.loss
    creation = svc.store.create_run_with_charge(
        collab.id,
        plan.template.id,
        plan.template.version,
        who.org,
        who.sub,
        dict(plan.compiled.parameters),
        plan.loss.epsilon,
        plan.loss.delta,
        idempotency_key=idempotency_key,
        weights=dict(request.weights),
        audit=[
            RunCreated(template_id=plan.template.id, epsilon=loss.epsilon, delta=loss.delta).by(
                who.sub, who.org
            ),
            BudgetCharged(epsilon=loss.epsilon, delta=loss.delta).by(who.sub, who.org),
        ],
    )
    if creation.created:
        svc.run_queued.set()
    return creation.run, creation.created


def _visible_run(svc: Services, who: Principal, collaboration_id: str, run_id: str) -> Run:
    collab = authorize(svc, who, collaboration_id, "run.read")
    return visible_run(svc, who, collab, run_id)


def visible_run(svc: Services, who: Principal, collab: Collaboration, run_id: str) -> Run:
    """The run when the visibility table shows it to ``who`` (its own org's, or any for the
    retailer org), else ``NotFound``; ``collab`` must already be authorized for ``run.read``."""
    run = svc.store.get_run(run_id, collaboration_id=collab.id)
    require_visible(who, collab, "run", run.org, "run")
    return run


def get_run(svc: Services, who: Principal, collaboration_id: str, run_id: str) -> Run:
    return _visible_run(svc, who, collaboration_id, run_id)


def list_runs(svc: Services, who: Principal, collaboration_id: str) -> list[Run]:
    collab = authorize(svc, who, collaboration_id, "run.read")
    org = None if who.org == collab.retailer_org else who.org  # the store filters, the table too
    return [r for r in svc.store.list_runs(collab.id, org) if can_see(who, collab, "run", r.org)]


CANCELLED = ("cancelled", "the run was cancelled before it released anything")


def cancel_run(svc: Services, who: Principal, collaboration_id: str, run_id: str) -> Run:
    """Cancel a ``queued`` or ``running`` run: it fails with code ``cancelled`` and releases
    nothing; its charge is kept, like any run that failed after it was queued. A run in progress
    is interrupted at its next progress report. Its org's advertisers may cancel it, and the
    retailer admin any run; ``Conflict`` once it finished."""
    collab = authorize(svc, who, collaboration_id, "run.cancel")
    run = visible_run(svc, who, collab, run_id)
    return svc.store.fail_run(
        run.id,
        *CANCELLED,
        audit=RunCancelled(run_id=run.id).by(who.sub, run.org),
    )


class _DataFailure(Exception):
    """The run failed after the engine started reading data; the cause is in the server log."""


def execute_run(svc: Services, run: Run, worker_id: str) -> None:
    """Execute a claimed (``running``) run to its report, or fail it with a safe error.

    A failure while planning (before any data is read: an expired dataset, a revoked template)
    keeps its own code and safe message. Once the engine has started, whether and how a run fails
    can depend on the data (a timeout, memory, an unusual value), so every such failure is the
    one ``EXECUTION_FAILED`` code and message, whatever happened: the cause goes to the server
    log only.
    """
    try:
        with _heartbeat(svc, run):
            plan = _plan(svc, run)
            report_json, flagged = _release(svc, run, plan)
    except _DataFailure:
        if not _finished_meanwhile(svc, run):
            _fail(svc, run, *EXECUTION_FAILED)
        return
    except CleanroomError as exc:
        # Our own errors carry safe messages; for 5xx ones only the generic title is kept.
        if not _finished_meanwhile(svc, run):
            _fail(svc, run, exc.code, exc.detail if exc.status < 500 else exc.title)
        return
    except Exception:  # before any data was read, so nothing here depends on it
        log.exception("run %s failed unexpectedly", run.id)
        _fail(svc, run, "internal_error", "the run failed; this is a bug")
        return
    events = [RunSucceeded(run_id=run.id).by(worker_id, run.org)]
    if flagged:  # a human must look: in the log the retailer reads, with the groups it concerns
        review = RunFlaggedForReview(run_id=run.id, template_id=run.template_id, groups=flagged)
        events.append(review.by(SYSTEM_ACTOR, run.org))
    try:
        svc.store.complete_run(run.id, report_json, audit=events)
    except Conflict:
        if not _finished_meanwhile(svc, run):
            raise
        log.info("run %s was cancelled while it executed; its report is discarded", run.id)


def _finished_meanwhile(svc: Services, run: Run) -> bool:
    """True when the run was moved out of ``running`` (cancelled) while it executed."""
    return svc.store.get_run(run.id).status != "running"


@contextmanager
def _heartbeat(svc: Services, run: Run) -> Iterator[None]:
    """Refresh the run's heartbeat while it executes, so no other process recovers it."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(svc.settings.run_heartbeat_seconds):
            try:
                svc.store.set_progress(run.id, svc.store.get_run(run.id).progress)
            except CleanroomError:
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{run.id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _fail(svc: Services, run: Run, code: str, message: str) -> None:
    # The code and message stay on the run (its org and the retailer read it); the audit event,
    # which every member reads, names the run only.
    svc.store.fail_run(
        run.id,
        code,
        message,
        audit=RunFailed(run_id=run.id).by(SYSTEM_ACTOR, run.org),
    )


def _plan(svc: Services, run: Run) -> RunPlan:
    """Compile the run again and check it is still the one approved and charged. Reads no data."""
    collab = svc.store.get_collaboration(run.collaboration_id)
    require_can_run(collab, run.org, svc.store.now())  # ended since it was queued: refused
    charged = PrivacyLoss(run.epsilon, run.delta)
    plan = plan_run(
        svc, collab, run.template_id, run.parameters, charged, org=run.org, weights=run.weights
    )
    if plan.template.version != run.template_version:
        raise InvalidRequest("the run's template version changed; this is a bug")
    # The split of the charge is the split the run was admitted with (it is data-independent
    # and the charge is its total): it never spends more than was charged.
    used = plan.loss
    if not (
        fits(used.epsilon, spent=0.0, total=charged.epsilon)
        and fits(used.delta, spent=0.0, total=charged.delta)
    ):
        raise InternalError()
    return plan


def _release(svc: Services, run: Run, plan: RunPlan) -> tuple[str, list[str]]:
    """Execute, noise and serialize the report, with the groups a fairness analysis flagged for
    review. Any failure here is a :class:`_DataFailure`."""
    try:
        views = {
            dataset_view(name): str(svc.settings.data_dir / version.path)
            for name, version in plan.versions.items()
        }
        suppressed = svc.store.list_suppressed_pids(run.collaboration_id)
        engine = svc.engine()
        cancel = threading.Event()
        progress = _progress_reporter(svc, run, cancel)

        def execute(sql: str) -> Any:
            return engine.execute(sql, views, suppressed, on_progress=progress, cancel=cancel)

        estimated = _estimate_bounds(plan, execute)
        if estimated:
            # Stage 2: the release with each estimated output's upper bound set to its estimate
            # (a DP output: the sensitivity it gives is public), on the loss left for it.
            assert plan.recompile is not None
            bounds = bounds_with_estimates(plan.declared_bounds, estimated)
            plan = replace(plan, compiled=plan.recompile(bounds))
            check_estimated_plan(plan.compiled.plan, estimated)
        compiled = plan.compiled
        sql = compiled.spark_sql if svc.settings.engine == "spark" else compiled.duckdb_sql
        table = execute(sql)
        result = release(
            compiled.plan,
            table,
            plan.release_loss,
            noise=plan.noise,
            weights=plan.weights,
            bound_sources=bound_sources(plan),
            run_epsilon=run.epsilon if estimated else None,
        )
        released = result.to_dict()
        if estimated:
            epsilon, delta = compose(
                [result.privacy_loss, *(PrivacyLoss(e.epsilon, 0.0) for e in estimated)]
            )
            charged = PrivacyLoss(run.epsilon, run.delta)
            if not (
                fits(epsilon, spent=0.0, total=charged.epsilon)
                and fits(delta, spent=0.0, total=charged.delta)
            ):
                raise InternalError("the estimated-bound run spends more than its charge")
            released["privacy_loss"] = PrivacyLoss(epsilon, delta).to_dict()
            released["estimated_bounds"] = [e.to_dict() for e in estimated]
        report = build_report(run, plan, released, svc.store.now().isoformat())
        flagged = list(report.get("fairness", {}).get("flagged_groups", []))
        return json.dumps(report, sort_keys=True, allow_nan=False), flagged
    except CleanroomError as exc:  # our own text is safe for the log, but not for the partner
        log.warning("run %s failed while executing: %s: %s", run.id, exc.code, exc.detail)
        raise _DataFailure from None
    except Exception:  # the engine's own text may quote data: log here, tell nobody
        log.exception("run %s failed unexpectedly while executing", run.id)
        raise _DataFailure from None


def _estimate_bounds(plan: RunPlan, execute: Any) -> list[EstimatedBound]:
    """Stage 1 of each ``-- estimate:`` line: the measurement's clamped partials (after the group
    cap) from the same compiled query, and the DP estimate of its upper bound."""
    found = []
    for spec in plan.estimates:
        m = estimated_measurement(spec, plan.compiled.plan)
        if m is None:  # plan_run checked it
            raise InternalError()
        release_plan = plan.compiled.plan
        sql = partials_query(plan.compiled.duckdb_sql, m.column, len(release_plan.group_keys))
        partials = partials_in_release(release_plan, execute(sql), m.column)
        found.append(estimate_bound(spec, m, partials, plan.estimate_epsilons[spec.output]))
    return found


def bound_sources(plan: RunPlan) -> dict[str, str]:
    """Where each measurement's per-person bounds come from (the report's explanations): the
    template's ``-- bounds`` header when it names the measurement or an output reading it (a
    count: only the output that is the count, not an average over it), else by the
    measurement's kind. From the plan only."""
    release_plan = plan.compiled.plan
    header = set(plan.template.bounds)
    sources = default_bound_sources(release_plan)
    for m in release_plan.measurements:
        if m.kind == "person_count":
            continue
        readers = {
            o.name
            for o in release_plan.outputs
            if (
                o.expr == Col(m.column) if m.kind == "row_count" else m.column in columns_of(o.expr)
            )
        }
        if header & ({m.column} | readers):
            sources[m.column] = "template"
    for spec in plan.estimates:
        estimated = estimated_measurement(spec, release_plan)
        if estimated is not None:
            sources[estimated.column] = "estimated"
    return sources


def _progress_reporter(svc: Services, run: Run, cancel: threading.Event) -> Any:
    """Record the engine's progress; a run no longer ``running`` (cancelled) sets ``cancel``,
    which interrupts the engine."""
    last = [0.0]

    def report(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_SECONDS:
            last[0] = now
            # The engine's share of the run is 10%..90%; noise and persisting take the rest.
            try:
                svc.store.set_progress(run.id, round(0.1 + 0.8 * max(0.0, min(1.0, fraction)), 3))
            except Conflict:
                cancel.set()

    return report


def fairness_of(plan: RunPlan, released: Mapping[str, Any]) -> dict[str, Any] | None:
    """A fairness analysis's composition (:mod:`cleanroom.dp.fairness`): for a template of
    purpose ``fairness`` grouped by one key, its first person count is the eligible population
    and every other one an audience. None for every other release."""
    release_plan = plan.compiled.plan
    if plan.template.purpose != FAIRNESS_PURPOSE or len(release_plan.group_keys) != 1:
        return None
    kinds = {m.column: m.kind for m in release_plan.measurements}
    counts = [
        o.name
        for o in release_plan.outputs
        if not o.is_group_key
        and isinstance(o.expr, Col)
        and kinds.get(o.expr.name) == "person_count"
        and o.expr.name == o.name
    ]
    if len(counts) < 2:
        return None
    return composition(
        released["rows"],
        release_plan.group_keys[0].name,
        counts,
        released["mechanisms"],
        plan.policy.fairness_min_ratio,
    )


def lift_report(plan: RunPlan, released: Mapping[str, Any]) -> dict[str, Any] | None:
    """A holdout test's lift (:mod:`cleanroom.dp.lift`) for a template with a ``-- lift:``
    header (plan_run checked that its outputs fit); None for every other release."""
    if plan.lift is None:
        return None
    release_plan = plan.compiled.plan
    measured = measured_outputs(release_plan)
    # The report's mechanisms are by measurement column; lift reads them by output name.
    columns = {m.column: name for name, m in measured.items()}
    mechanisms = [
        {**m, "column": columns[m["column"]]}
        for m in released["mechanisms"]
        if m["column"] in columns
    ]
    return lift_of(
        plan.lift,
        released["rows"],
        [k for k in group_key_outputs(release_plan) if k != plan.lift.cell],
        mechanisms,
        {name: (m.lower, m.upper) for name, m in measured.items()},
    )


def opt_in_report(plan: RunPlan, released: Mapping[str, Any]) -> dict[str, Any] | None:
    """A consent analysis's opt-in rate (:mod:`cleanroom.dp.opt_in`): for a template with a
    ``-- consent:`` header whose release is grouped by ``consented``, the rate of its first
    person count output (a measurement as is). None for every other release."""
    release_plan = plan.compiled.plan
    key = plan.compiled.consent_key
    if plan.consent is None or key is None:
        return None
    keys = group_key_outputs(release_plan)
    output = next(
        (o.name for o in release_plan.outputs if o.is_group_key and o.expr == Col(key)), None
    )
    kinds = {m.column: m.kind for m in release_plan.measurements}
    count = next(
        (
            o.name
            for o in release_plan.outputs
            if not o.is_group_key
            and isinstance(o.expr, Col)
            and kinds.get(o.expr.name) == "person_count"
            and o.expr.name == o.name
        ),
        None,
    )
    if output is None or count is None:
        return None
    return opt_in_of(
        released["rows"],
        output,
        count,
        [k for k in keys if k != output],
        released["mechanisms"],
        plan.consent,
        plan.template.purpose,
    )


def build_report(
    run: Run, plan: RunPlan, released: Mapping[str, Any], created_at: str
) -> dict[str, Any]:
    """The report document (docs/specs.md, Report) around a release."""
    fairness = fairness_of(plan, released)
    lift = lift_report(plan, released)
    opt_in = opt_in_report(plan, released)
    return {
        **({"fairness": fairness} if fairness is not None else {}),
        **({"lift": lift} if lift is not None else {}),
        **({"opt_in": opt_in} if opt_in is not None else {}),
        "run_id": run.id,
        "collaboration_id": run.collaboration_id,
        "template": {
            "id": plan.template.id,
            "name": plan.template.name,
            "version": plan.template.version,
            "pin": plan.template.pin,
        },
        "parameters": dict(plan.compiled.parameters),
        **released,
        "contribution_bounds": [m.to_dict() for m in plan.compiled.plan.measurements],
        "max_groups_per_user": plan.compiled.plan.max_groups_per_user,
        "datasets": [
            {"name": name, "version": version.version} for name, version in plan.versions.items()
        ],
        "suppression_view": SUPPRESSION_VIEW,
        "created_at": created_at,
    }


class RunWorker:
    """Threads that claim queued runs from the store and execute them.

    Inside a server process (``worker_threads`` > 0) and in ``cleanroom worker``. Several
    processes and hosts may run workers against one store: claiming is atomic.
    """

    def __init__(self, svc: Services, worker_id: str, threads: int = 1, poll: float = 1.0) -> None:
        self.svc, self.worker_id, self.poll = svc, worker_id, poll
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"run-worker-{i}", daemon=True)
            for i in range(threads)
        ]

    def start(self) -> RunWorker:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.svc.run_queued.set()
        for thread in self._threads:
            thread.join(timeout)

    def run_pending(self) -> int:
        """Execute queued runs until none is left (synchronous; tests and the CLI)."""
        done = 0
        while (run := self.svc.store.claim_next_queued_run(self.worker_id)) is not None:
            execute_run(self.svc, run, self.worker_id)
            done += 1
        return done

    def _loop(self) -> None:
        last_recovery = time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_recovery > self.svc.settings.run_heartbeat_seconds:
                    last_recovery = time.monotonic()
                    self.svc.store.recover_orphaned_runs(heartbeat_timeout(self.svc.settings))
                    sweep_data_dir(self.svc.settings.data_dir)
                if self.run_pending() == 0:
                    self.svc.run_queued.wait(self.poll)
                    self.svc.run_queued.clear()
            except Exception:  # keep the worker alive; the store may be briefly unavailable
                log.exception("run worker %s: unexpected error", self.worker_id)
                self._stop.wait(self.poll)
