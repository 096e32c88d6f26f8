"""A run whose worker died is failed by a live worker within a few heartbeat periods
(``run_heartbeat_seconds``), without waiting for a restart; its charge is kept. SQLite and
PostgreSQL."""

from __future__ import annotations

import time

import pytest

from cleanroom.services.context import Services
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run
from tests.services.conftest import ANALYST, Room


def test_a_live_worker_fails_an_orphan_after_four_heartbeats(svc: Services, room: Room) -> None:
    body = {
        "template_id": room.templates["exposed_conversion"].id,
        "parameters": {},
        "privacy_loss": {"epsilon": 1.0},
    }
    run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(body))
    claimed = svc.store.claim_next_queued_run("dead-worker")  # it never beats again
    assert claimed is not None
    assert claimed.id == run.id
    fast = Services(settings=svc.settings.replace(run_heartbeat_seconds=1), store=svc.store)
    worker = RunWorker(fast, "live-worker", threads=1, poll=0.1).start()
    try:
        status = "running"
        for _ in range(600):  # a bound so a broken recovery fails instead of hanging
            status = svc.store.get_run(run.id).status
            if status != "running":
                break
            time.sleep(0.1)
    finally:
        worker.stop()
    assert status == "failed"
    line = svc.store.get_budget_line(room.collab.id, ANALYST.org)
    assert line.spent_epsilon == pytest.approx(1.0)
