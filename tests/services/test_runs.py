"""The run pipeline through the services layer: charge before data, report once, fail safely."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest

from cleanroom.config import Settings
from cleanroom.errors import BudgetExhausted, DatasetExpired, InvalidParameter, TemplateRejected
from cleanroom.services.context import Services, build_services
from cleanroom.services.datasets import delete_dataset, list_datasets
from cleanroom.services.reports import download_report, get_report
from cleanroom.services.requests import RequestedLoss, RunRequest, TemplateSubmission
from cleanroom.services.runs import RunWorker, create_run, get_run, preview_run
from cleanroom.services.server import recover_orphaned_runs
from cleanroom.services.templates import submit_template
from tests.services.conftest import ADMIN, ANALYST, Room

LOSS = {"epsilon": 1.0}


def _run_body(room: Room, name: str = "exposed_conversion") -> dict[str, object]:
    return {"template_id": room.templates[name].id, "parameters": {}, "privacy_loss": LOSS}


def _spent(svc: Services, room: Room) -> float:
    return svc.store.get_budget_line(room.collab.id, ANALYST.org).spent_epsilon


def test_run_charges_once_and_reports_the_same_numbers(svc: Services, room: Room) -> None:
    run, created = create_run(
        svc, ANALYST, room.collab.id, RunRequest.from_json(_run_body(room)), "key-1"
    )
    assert created
    assert run.status == "queued"
    assert _spent(svc, room) == pytest.approx(1.0)
    again, created_again = create_run(
        svc, ANALYST, room.collab.id, RunRequest.from_json(_run_body(room)), "key-1"
    )
    assert (again.id, created_again) == (run.id, False)
    assert _spent(svc, room) == pytest.approx(1.0)

    assert RunWorker(svc, "test").run_pending() == 1
    finished = get_run(svc, ANALYST, room.collab.id, run.id)
    assert finished.status == "succeeded", finished.error_message
    first = get_report(svc, ANALYST, room.collab.id, run.id)
    second = get_report(svc, ANALYST, room.collab.id, run.id)
    assert first == second
    assert first["columns"][0] == "campaign_id"
    assert {r["campaign_id"] for r in first["rows"]} == {"c1", "c2", "c3", "c4"}
    assert first["partition_selection"]["kind"] == "public"
    csv_text = download_report(svc, ANALYST, room.collab.id, run.id, "csv").body.decode()
    header = csv_text.splitlines()[0].split(",")
    assert header[: len(first["columns"])] == first["columns"]
    assert "sales_lo" in header
    assert "sales_hi" in header
    names = [e.name for e in svc.store.list_audit(room.collab.id, limit=1000)]
    assert names.count("report.downloaded") == 3
    assert svc.store.verify_audit(room.collab.id).ok


def test_preview_touches_nothing(svc: Services, room: Room) -> None:
    preview = preview_run(
        svc, ANALYST, room.collab.id, RunRequest.from_json(_run_body(room), preview=True)
    )
    assert preview["privacy_loss"]["epsilon"] == pytest.approx(1.0)
    assert preview["accuracy"]["half_widths"]
    assert _spent(svc, room) == 0.0
    assert svc.store.list_runs(room.collab.id) == []


def test_threshold_release_gets_a_default_delta(svc: Services, room: Room) -> None:
    run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(_run_body(room, "roas")))
    assert run.delta > 0
    RunWorker(svc, "test").run_pending()
    report = get_report(svc, ANALYST, room.collab.id, run.id)
    assert report["partition_selection"]["kind"] == "threshold"


def test_over_budget_request_is_refused_and_writes_nothing(svc: Services, room: Room) -> None:
    for _ in range(10):
        create_run(
            svc,
            ANALYST,
            room.collab.id,
            RunRequest.from_json({**_run_body(room), "privacy_loss": {"epsilon": 5}}),
        )
    runs_before = len(svc.store.list_runs(room.collab.id))
    with pytest.raises(BudgetExhausted) as info:
        create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(_run_body(room)))
    assert info.value.remaining["epsilon"] == pytest.approx(0.0, abs=1e-9)
    assert len(svc.store.list_runs(room.collab.id)) == runs_before
    assert _spent(svc, room) == pytest.approx(50.0)


def test_rejected_template_costs_nothing_and_is_audited(svc: Services, room: Room) -> None:
    with pytest.raises(TemplateRejected):
        submit_template(
            svc,
            ANALYST,
            room.collab.id,
            TemplateSubmission.from_json(
                {
                    "name": "bad",
                    "sql": "SELECT * FROM exposures",
                    "purpose": "measurement",
                }
            ),
        )
    events = svc.store.list_audit(room.collab.id, limit=1000)
    assert events[-1].name == "request.refused"
    assert events[-1].details["code"] == "template_rejected"
    assert _spent(svc, room) == 0.0


def test_bad_parameter_values_are_invalid_parameter_and_cost_nothing(
    svc: Services, room: Room
) -> None:
    body = _run_body(room)
    body["parameters"] = {"window_days": "fourteen", "nope": 1}
    for attempt in (preview_run, create_run):
        with pytest.raises(InvalidParameter) as caught:
            attempt(svc, ANALYST, room.collab.id, RunRequest.from_json(body))
        assert caught.value.problems == [
            "parameter 'nope' is not declared",
            "parameter 'window_days' must be an integer from -2147483648 to 2147483647",
        ]
    assert _spent(svc, room) == 0.0


def test_deleted_dataset_refuses_runs_without_charging(svc: Services, room: Room) -> None:
    exposures = next(d for d in list_datasets(svc, ADMIN, room.collab.id) if d.name == "exposures")
    delete_dataset(svc, ADMIN, room.collab.id, exposures.id)
    with pytest.raises(DatasetExpired):
        create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(_run_body(room)))
    assert _spent(svc, room) == 0.0


def _claim_then_die(settings: Settings, collaboration_id: str, body: dict[str, object]) -> None:
    svc = build_services(settings)
    from cleanroom.services.runs import create_run as create

    create(svc, ANALYST, collaboration_id, RunRequest.from_json(body))
    svc.store.claim_next_queued_run("doomed")  # running, charged, the engine about to start
    os.kill(os.getpid(), signal.SIGKILL)


def test_sigkill_after_the_charge_keeps_it_and_fails_the_run(svc: Services, room: Room) -> None:
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(
        target=_claim_then_die, args=(svc.settings, room.collab.id, _run_body(room))
    )
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    (run,) = svc.store.list_runs(room.collab.id)
    assert run.status == "running"
    assert recover_orphaned_runs(svc, older_than=timedelta(0)) == 1
    failed = get_run(svc, ANALYST, room.collab.id, run.id)
    assert failed.status == "failed"
    assert _spent(svc, room) == pytest.approx(1.0)
    with pytest.raises(Exception, match="not available"):
        get_report(svc, ANALYST, room.collab.id, run.id)


def test_hashed_files_exist(hashed_files: dict[str, Path]) -> None:
    assert set(hashed_files) >= {"exposures", "transactions", "crm", "campaign_spend"}


def test_row_caps_that_cannot_bind_are_left_out(svc: Services, room: Room) -> None:
    from cleanroom.services.run_planning import plan_run

    exposures = next(d for d in list_datasets(svc, ADMIN, room.collab.id) if d.name == "exposures")
    assert exposures.current is not None
    assert exposures.current.max_rows_per_person is not None
    assert exposures.current.max_rows_per_person <= 500  # the demo spec's max_rows_per_user
    collab = svc.store.get_collaboration(room.collab.id)
    template = room.templates["exposed_conversion"]
    plan = plan_run(svc, collab, template.id, {}, RequestedLoss(1.0), org=ANALYST.org)
    assert "cr_row" not in plan.compiled.duckdb_sql  # no ROW_NUMBER cap stage
