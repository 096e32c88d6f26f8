"""Every cell of every shipped template's report is explained: each shipped query run once on
the small demo world through the services (real DuckDB, real noise), its report's
``explanations`` checked against its columns, rows and mechanisms."""

from __future__ import annotations

from pathlib import Path

from cleanroom.services.context import Services
from cleanroom.services.reports import get_report, report_layout
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run
from cleanroom.services.templates import decide_template
from tests.services.conftest import ANALYST, build_room

SHIPPED = tuple(sorted(p.stem for p in (Path(__file__).parents[2] / "queries").glob("*.sql")))


def test_every_shipped_report_explains_every_output_and_flagged_cell(
    svc: Services, hashed_files: dict[str, Path]
) -> None:
    room = build_room(svc, hashed_files, SHIPPED)
    for name in SHIPPED:
        if room.templates[name].status != "approved":  # it reads the advertiser's CRM too
            decided = decide_template(
                svc, ANALYST, room.collab.id, room.templates[name].id, "approve"
            )
            assert decided.status == "approved", name
        body = {"template_id": room.templates[name].id, "parameters": {},
                "privacy_loss": {"epsilon": 1.0}}  # fmt: skip
        run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(body))
        assert RunWorker(svc, "test").run_pending() == 1
        report = get_report(svc, ANALYST, room.collab.id, run.id)
        explanations = report["explanations"]
        assert set(explanations["outputs"]) == set(report["columns"]), name
        assert all(o["text"] for o in explanations["outputs"].values()), name
        assert set(explanations["measurements"]) == {m["column"] for m in report["mechanisms"]}
        assert explanations["release"], name
        values = set(report_layout(report).value_columns)
        for cell in explanations["cells"]:
            assert 0 <= cell["row"] < len(report["rows"]), name
            assert cell["column"] in values, name
            assert cell["note"] in explanations["notes"], name
        for output in explanations["outputs"].values():
            assert set(output["reads"]) <= set(explanations["measurements"]), name
