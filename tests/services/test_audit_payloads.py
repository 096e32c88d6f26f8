"""What the services and the store write into each audit event is what cleanroom.events (and so
docs/api.md) declares for it: no undeclared key, every required field present."""

from __future__ import annotations

from cleanroom.events import EVENTS
from cleanroom.services.access import refuse
from cleanroom.services.context import Services
from cleanroom.services.reports import download_report
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run
from tests.services.conftest import ANALYST, Room


def test_written_details_are_the_declared_fields(svc: Services, room: Room) -> None:
    body = {
        "template_id": room.templates["exposed_conversion"].id,
        "parameters": {},
        "privacy_loss": {"epsilon": 1.0},
    }
    run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(body), "key-audit")
    assert RunWorker(svc, "test").run_pending() == 1
    download_report(svc, ANALYST, room.collab.id, run.id, "csv")
    refuse(svc, ANALYST, room.collab.id, "budget.raise", "forbidden")
    written = svc.store.list_audit(room.collab.id, limit=1000)
    names = {e.name for e in written}
    assert {"collaboration.created", "dataset.registered", "template.submitted"} <= names
    assert {"template.approved", "run.created", "budget.charged", "run.succeeded"} <= names
    assert {"report.downloaded", "request.refused"} <= names
    for event in written:
        payload = EVENTS[event.name]
        declared = set(payload.field_names()) | set(payload.STORE_FACTS)
        assert set(event.details) <= declared, (event.name, set(event.details) - declared)
        assert payload.required() <= set(event.details), event.name
