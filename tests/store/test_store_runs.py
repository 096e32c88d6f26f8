"""Runs: idempotency, every state transition, claiming, recovery, reports."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from cleanroom.errors import Conflict, InvalidRequest, NotFound, ReportNotReady
from cleanroom.store import EXECUTION_FAILED, Collaboration, Run, Store, Template
from tests.store.store_fixtures import FakeClock, event


def _run(store: Store, c: Collaboration, t: Template, key: str | None = None) -> Run:
    """A run created with its charge, as production creates every run (cheap enough that the
    policy's budget of 10 admits every run these tests make)."""
    return store.create_run_with_charge(
        c.id, t.id, t.version, "acme", "bob", {"days": 7}, 0.25, 1e-8, idempotency_key=key,
        audit=event("run.created"),
    ).run  # fmt: skip


def _start(store: Store, run: Run, worker: str = "w1") -> Run:
    """Claim ``run`` the way a worker does: it must be the oldest queued run."""
    claimed = store.claim_next_queued_run(worker)
    assert claimed is not None
    assert claimed.id == run.id
    return claimed


def test_create_and_read(store: Store, collab: Collaboration, template: Template) -> None:
    run = _run(store, collab, template)
    assert (run.status, run.progress, run.template_version) == ("queued", 0.0, 1)
    assert store.get_run(run.id) == run
    assert store.get_run(run.id, collaboration_id=collab.id) == run
    with pytest.raises(NotFound):
        store.get_run(run.id, collaboration_id="col_other")
    assert store.list_runs(collab.id) == [run]
    assert store.list_runs(collab.id, org="beta") == []
    assert store.list_audit(collab.id)[-1].details["run_id"] == run.id
    assert run.to_dict()["privacy_loss"] == {"epsilon": 0.25, "delta": 1e-8}


def test_idempotency_key_returns_the_existing_run(
    store: Store, collab: Collaboration, template: Template
) -> None:
    first = store.create_run_with_charge(collab.id, template.id, 1, "acme", "bob", {}, 0.5, 0.0,
                             idempotency_key="k1", audit=event("run.created"))  # fmt: skip
    again = store.create_run_with_charge(collab.id, template.id, 1, "acme", "bob", {}, 0.5, 0.0,
                             idempotency_key="k1", audit=event("run.created"))  # fmt: skip
    assert first.created
    assert not again.created
    assert again.run == first.run
    # the key is per org: another org's identical key is a different run
    other = store.create_run_with_charge(collab.id, template.id, 1, "beta", "eve", {}, 0.5, 0.0,
                             idempotency_key="k1")  # fmt: skip
    assert other.created
    assert other.run.id != first.run.id
    assert len(store.list_runs(collab.id)) == 2
    assert [a.name for a in store.list_audit(collab.id)].count("run.created") == 1


def test_concurrent_creations_with_one_key_make_one_run(
    store: Store, collab: Collaboration, template: Template
) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        made = store.create_run_with_charge(collab.id, template.id, 1, "acme", "bob", {}, 0.5, 0.0,
                                idempotency_key="same")  # fmt: skip
        results.append(made.created)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [False] * 7 + [True]
    assert len(store.list_runs(collab.id)) == 1
    assert store.get_budget_line(collab.id, "acme").spent_epsilon == 0.5  # charged once


def test_run_needs_a_template_of_the_collaboration(
    store: Store, collab: Collaboration, template: Template
) -> None:
    with pytest.raises(NotFound):
        store.create_run_with_charge(collab.id, "tpl_missing", 1, "acme", "bob", {}, 0.5, 0.0)
    with pytest.raises(Conflict):
        store.create_run_with_charge(collab.id, template.id, 2, "acme", "bob", {}, 0.5, 0.0)


def test_happy_path_transitions(
    store: Store, collab: Collaboration, template: Template, clock: FakeClock
) -> None:
    run = _run(store, collab, template)
    running = _start(store, run)
    assert (running.status, running.claimed_by, running.started_at) == ("running", "w1", clock())
    clock.advance(seconds=5)
    progressed = store.set_progress(run.id, 0.5)
    assert (progressed.progress, progressed.heartbeat_at) == (0.5, clock())
    with pytest.raises(ReportNotReady):
        store.get_report(run.id)
    report = store.complete_run(run.id, '{"rows": [1]}', audit=event("run.succeeded"))
    done = store.get_run(run.id)
    assert (done.status, done.progress, done.finished_at) == ("succeeded", 1.0, clock())
    assert store.get_report(run.id) == report
    assert report.data() == {"rows": [1]}
    with pytest.raises(NotFound):
        store.get_report(run.id, collaboration_id="col_other")


def test_illegal_transitions(store: Store, collab: Collaboration, template: Template) -> None:
    run = _run(store, collab, template)
    with pytest.raises(Conflict):
        store.complete_run(run.id, "{}")  # queued cannot succeed without running
    with pytest.raises(Conflict):
        store.set_progress(run.id, 0.1)
    _start(store, run)
    assert store.claim_next_queued_run("w2") is None  # a running run is never claimed again
    with pytest.raises(InvalidRequest):
        store.set_progress(run.id, 1.5)
    store.complete_run(run.id, '{"n": 1}')
    for attempt in (
        lambda: store.complete_run(run.id, '{"n": 2}'),
        lambda: store.fail_run(run.id, "execution_failed", "late"),
        lambda: store.set_progress(run.id, 0.9),
    ):
        with pytest.raises(Conflict):
            attempt()
    assert store.get_report(run.id).data() == {"n": 1}
    assert store.get_run(run.id).status == "succeeded"
    assert store.claim_next_queued_run("w3") is None
    with pytest.raises(NotFound):
        store.set_progress("run_missing", 0.5)


def test_fail_from_queued_and_running(
    store: Store, collab: Collaboration, template: Template
) -> None:
    queued = _run(store, collab, template)
    failed = store.fail_run(queued.id, "template_not_approved", "the template was revoked")
    assert (failed.status, failed.error_code) == ("failed", "template_not_approved")
    assert failed.to_dict()["error"] == {
        "code": "template_not_approved", "message": "the template was revoked",
    }  # fmt: skip
    running = _run(store, collab, template)
    _start(store, running)
    store.fail_run(running.id, "execution_failed", "the engine failed", audit=event("run.failed"))
    assert store.get_run(running.id).status == "failed"
    # the code stays on the run: every member reads the audit log
    failed_event = store.list_audit(collab.id)[-1]
    assert (failed_event.name, dict(failed_event.details)) == ("run.failed", {"run_id": running.id})
    with pytest.raises(Conflict):
        store.fail_run(running.id, "execution_failed", "again")
    with pytest.raises(ReportNotReady):
        store.get_report(running.id)


def test_report_and_final_state_are_atomic(
    store: Store, collab: Collaboration, template: Template
) -> None:
    from sqlalchemy import event as sa_event

    run = _start(store, _run(store, collab, template))
    audit_before = store.list_audit(collab.id)

    def explode(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            raise RuntimeError("injected failure while writing the audit event")

    sa_event.listen(store.engine, "before_cursor_execute", explode)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            store.complete_run(run.id, '{"n": 1}', audit=event("run.succeeded"))
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", explode)
    assert store.get_run(run.id).status == "running"
    with pytest.raises(ReportNotReady):
        store.get_report(run.id)
    assert store.list_audit(collab.id) == audit_before
    # nothing half-written: the same completion now goes through once
    store.complete_run(run.id, '{"n": 1}', audit=event("run.succeeded"))
    assert store.get_report(run.id).data() == {"n": 1}
    assert store.verify_audit(collab.id).ok


def test_concurrent_claimers_never_share_a_run(
    store: Store, collab: Collaboration, template: Template, clock: FakeClock
) -> None:
    created = set()
    for _ in range(30):
        clock.advance(seconds=1)
        created.add(_run(store, collab, template).id)
    claimed: list[tuple[str, str]] = []
    barrier = threading.Barrier(6)

    def worker(name: str) -> None:
        barrier.wait()
        while (run := store.claim_next_queued_run(name)) is not None:
            assert run.status == "running"
            assert run.claimed_by == name
            claimed.append((run.id, name))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ids = [rid for rid, _ in claimed]
    assert len(ids) == len(set(ids)) == 30
    assert set(ids) == created
    assert all(store.get_run(rid).claimed_by == name for rid, name in claimed)
    assert store.claim_next_queued_run("late") is None


def test_claims_take_the_oldest_first(
    store: Store, collab: Collaboration, template: Template, clock: FakeClock
) -> None:
    first = _run(store, collab, template)
    clock.advance(seconds=1)
    second = _run(store, collab, template)
    assert store.claim_next_queued_run("w") == store.get_run(first.id)
    assert store.claim_next_queued_run("w") == store.get_run(second.id)


def test_recover_orphaned_runs(
    store: Store, collab: Collaboration, template: Template, clock: FakeClock
) -> None:
    stale = _run(store, collab, template)
    clock.advance(seconds=1)
    fresh = _run(store, collab, template)
    clock.advance(seconds=1)
    queued = _run(store, collab, template)
    _start(store, stale)
    clock.advance(minutes=10)
    _start(store, fresh, "w2")
    recovered = store.recover_orphaned_runs(timedelta(minutes=5))
    assert [r.id for r in recovered] == [stale.id]
    # a lost worker fails like any other execution failure (it may have died of the data)
    assert (recovered[0].status, recovered[0].error_code, recovered[0].error_message) == (
        "failed", *EXECUTION_FAILED,
    )  # fmt: skip
    last = store.list_audit(collab.id)[-1]
    assert (last.name, last.actor, dict(last.details)) == (
        "run.failed", "system", {"run_id": stale.id},
    )  # fmt: skip
    assert store.get_run(fresh.id).status == "running"
    # at start-up of a lone worker: every running run is an orphan; queued runs stay queued
    assert [r.id for r in store.recover_orphaned_runs()] == [fresh.id]
    assert store.get_run(queued.id).status == "queued"
    assert [a.details for a in store.list_audit(collab.id) if a.name == "run.failed"] == [
        {"run_id": stale.id}, {"run_id": fresh.id},
    ]  # fmt: skip
    assert store.verify_audit(collab.id).ok
