"""How runs fail and who reads it: one data-independent error once the engine has started, the
error on the run only (never in the audit event every member reads), and older audit events that
held such facts redacted for the members outside their audience."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pytest

from cleanroom.engine import Engine
from cleanroom.errors import DatasetInvalid, ExecutionFailed
from cleanroom.events import AuditEvent
from cleanroom.services.audit import list_audit, verify_audit
from cleanroom.services.collaborations import create_collaboration
from cleanroom.services.context import Services
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run, get_run
from cleanroom.services.templates import decide_template
from cleanroom.store import EXECUTION_FAILED
from cleanroom.store.chain import first_unverified
from cleanroom.types import Principal
from tests.services.conftest import ADMIN, ANALYST, Room
from tests.store.store_fixtures import rewrite_as_before_0003

LOSS = {"epsilon": 1.0}
OTHER = Principal("carol", "beta", "advertiser")


def _raise(exc: BaseException) -> Callable[[pa.Table], pa.Table]:
    def fail(table: pa.Table) -> pa.Table:
        raise exc

    return fail


# What can go wrong once the engine has read the data, each of which used to show differently.
FAILURES: dict[str, Callable[[pa.Table], pa.Table]] = {
    # the engine's own text, quoting a value (was internal_error)
    "engine_text": _raise(RuntimeError("Could not convert string 'person7@example.com' to INT32")),
    # a timeout (was execution_failed with the engine's title)
    "timeout": _raise(ExecutionFailed("the query ran longer than the engine timeout (600 s)")),
    # one of our own 4xx errors, whose detail used to be shown as is
    "own_4xx_error": _raise(DatasetInvalid("column 'amount_cents': row 17 holds 123456")),
    # a result the release refuses (an InternalError in dp: was internal_error)
    "refused_result": lambda table: table.drop_columns(table.column_names[-1:]),
}


class FailingEngine:
    """The real engine, then one failure applied to its result."""

    def __init__(self, real: Engine, fail: Callable[[pa.Table], pa.Table]) -> None:
        self.real, self.fail = real, fail

    def execute(
        self,
        sql: str,
        datasets: Mapping[str, str],
        suppressed_pids: Sequence[bytes] | pa.Table,
        **kwargs: Any,
    ) -> pa.Table:
        return self.fail(self.real.execute(sql, datasets, suppressed_pids, **kwargs))

    def check_ready(self) -> None:
        self.real.check_ready()

    def close(self) -> None:
        self.real.close()


def _run_body(room: Room) -> dict[str, object]:
    return {"template_id": room.templates["exposed_conversion"].id, "privacy_loss": LOSS}


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_every_failure_after_the_engine_started_is_one_fixed_error(
    svc: Services,
    room: Room,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = FailingEngine(svc.engine(), FAILURES[kind])
    monkeypatch.setattr(svc, "engine", lambda: failing)
    run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(_run_body(room)))
    with caplog.at_level(logging.WARNING, logger="cleanroom.services.runs"):
        assert RunWorker(svc, "test").run_pending() == 1
    failed = get_run(svc, ANALYST, room.collab.id, run.id)
    assert failed.status == "failed"
    assert (failed.error_code, failed.error_message) == EXECUTION_FAILED
    assert failed.to_dict()["error"] == {
        "code": "execution_failed",
        "message": "the run failed while executing; the cause is not shown, "
        "it may depend on the data",
    }
    assert svc.store.get_budget_line(room.collab.id, ANALYST.org).spent_epsilon == 1.0  # kept
    # the cause is for operators: in the server log, never on the run
    assert any(run.id in r.getMessage() for r in caplog.records)
    # the audit event every member reads names the run only
    event = svc.store.list_audit(room.collab.id, limit=1000)[-1]
    assert (event.name, dict(event.details)) == ("run.failed", {"run_id": run.id})
    assert svc.store.verify_audit(room.collab.id).ok


def test_a_failure_before_any_data_is_read_keeps_its_code(svc: Services, room: Room) -> None:
    run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(_run_body(room)))
    template = room.templates["exposed_conversion"]
    decide_template(svc, ADMIN, room.collab.id, template.id, "revoke")
    assert RunWorker(svc, "test").run_pending() == 1
    failed = get_run(svc, ANALYST, room.collab.id, run.id)
    assert failed.error_code == "template_not_approved"  # about the template, not the data
    event = svc.store.list_audit(room.collab.id, limit=1000)[-1]
    assert (event.name, dict(event.details)) == ("run.failed", {"run_id": run.id})
    # the run's org and the retailer read the error on the audit event too, outside the hash
    for who in (ANALYST, ADMIN, Principal("aud", ANALYST.org, "auditor")):
        seen = list_audit(svc, who, room.collab.id, limit=1000)[-1].to_dict()
        assert seen["restricted"] == {"error": failed.to_dict()["error"]}
        assert seen["details"] == {"run_id": run.id}


def test_older_events_holding_private_facts_are_redacted_outside_their_audience(
    svc: Services,
) -> None:
    collab = create_collaboration(svc, ADMIN, "two partners", ["acme", "beta"], None)
    # what versions before 0003 wrote: a row count and a failure code in the clear, hashed
    shared = {"name": "crm", "kind": "personal", "dataset_id": "ds_1", "version": 1}
    legacy_failure = {"run_id": "run_1", "code": "internal_error", "error_code": "internal_error"}
    svc.store.append_audit(
        collab.id, AuditEvent("dataset.registered", "bob", "acme", {**shared, "rows": 1234})
    )
    svc.store.append_audit(collab.id, AuditEvent("run.failed", "system", "acme", legacy_failure))
    rewrite_as_before_0003(svc.store, collab.id)
    stored = svc.store.list_audit(collab.id)
    registered, failed = stored[-2], stored[-1]
    assert registered.digest is None  # the older form: no digest to recompute the hash from

    def seen(who: Principal) -> list[dict[str, Any]]:
        return [e.to_dict() for e in list_audit(svc, who, collab.id)]

    for who in (OTHER, Principal("v", "beta", "partner_viewer"), Principal("a", "beta", "auditor")):
        events = seen(who)
        # another partner's events: position and hashes only, no actor or details
        assert events[-2]["withheld"] is events[-1]["withheld"] is True
        assert "details" not in events[-2]
        assert "details" not in events[-1]
        # the chain still links and the server still verifies every record for this reader
        assert [e["hash"] for e in events] == [r.hash for r in stored]
        assert events[-1]["prev_hash"] == registered.hash
        assert first_unverified(events) is None  # by linkage for these two
        assert verify_audit(svc, who, collab.id).ok
    # the owner of the dataset and of the run sees the events as they were hashed
    for who in (ANALYST, Principal("a", "acme", "auditor")):
        events = seen(who)
        assert events[-2]["details"] == dict(registered.details)
        assert events[-1]["details"] == dict(failed.details)
        assert "redacted" not in events[-2]
        assert "redacted" not in events[-1]
        assert first_unverified(events) is None
    # the retailer sees every run's failure but not a partner's row count
    events = seen(ADMIN)
    assert events[-2]["redacted"] == ["rows"]
    assert events[-2]["details"] == shared
    assert events[-1]["details"] == dict(failed.details)
    assert first_unverified(events) is None
