"""Holdout lift end to end through the services: the shipped incrementality_lift (header
``-- lift: cell test holdout``) on the demo world releases per campaign x cell users, buyers and
sales, and its report's ``lift`` member gives, per campaign, the lift, incremental buyers and
incremental sales with 95% intervals that cover the exact intention-to-treat effects computed
from the world's exact tables. A report without the header has no ``lift`` member; a lift
header whose outputs do not fit is rejected at submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from cleanroom.cli.reports import report_text
from cleanroom.demo.exact import exact_frame
from cleanroom.demo.specs import demo_dataset_specs
from cleanroom.demo.world import World
from cleanroom.errors import TemplateRejected
from cleanroom.lift_view import campaign_label, exact_effects
from cleanroom.policy import bind_template_sql, parse_template_file
from cleanroom.services.context import Services
from cleanroom.services.reports import get_report
from cleanroom.services.requests import RunRequest, TemplateSubmission
from cleanroom.services.runs import RunWorker, create_run
from cleanroom.services.templates import submit_template
from tests.services.conftest import ANALYST, QUERIES, Room, build_room


@pytest.fixture
def lift_room(svc: Services, hashed_files: dict[str, Path]) -> Room:
    return build_room(svc, hashed_files, ("incrementality_lift", "exposed_conversion"))


def _report(svc: Services, room: Room, name: str) -> dict[str, Any]:
    body = {"template_id": room.templates[name].id, "parameters": {},
            "privacy_loss": {"epsilon": 5.0}}  # fmt: skip
    run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(body))
    RunWorker(svc, "test").run_pending()
    return get_report(svc, ANALYST, room.collab.id, run.id)


def _exact_effects(world: World) -> dict[str, dict[str, float]]:
    """Per campaign, the exact intention-to-treat lift and incremental buyers and sales."""
    con = duckdb.connect()
    for name in demo_dataset_specs():
        con.register("frame", exact_frame(world, name, "measurement"))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    source = parse_template_file((QUERIES / "incrementality_lift.sql").read_text())
    rows = con.execute(bind_template_sql(source)).fetchall()  # the template's column order
    con.close()
    columns = ["campaign_id", "cell", "users", "buyers", "sales"]
    assert source.lift is not None
    return exact_effects(source.lift.to_dict(), [dict(zip(columns, r, strict=True)) for r in rows],
                         ["campaign_id"])  # fmt: skip


def test_lift_intervals_cover_the_exact_effects(
    svc: Services, lift_room: Room, small_world: World
) -> None:
    report = _report(svc, lift_room, "incrementality_lift")
    lift = report["lift"]
    assert (lift["cell"], lift["test"], lift["holdout"]) == ("cell", "test", "holdout")
    assert "sampling" in lift["method"]
    exact = _exact_effects(small_world)
    found = {campaign_label(entry["group"]): entry for entry in lift["campaigns"]}
    assert set(found) == set(exact) == {f"campaign_id=c{i}" for i in range(1, 5)}
    missed = []
    for campaign, effects in exact.items():
        for name, value in effects.items():
            estimate = found[campaign][name]
            lo, hi = estimate["interval"]
            assert lo <= estimate["value"] <= hi
            if not lo <= value <= hi:
                missed.append((campaign, name, value, estimate))
            assert estimate["significant"] == (lo > 0 or hi < 0)
    # Each 95% interval misses the truth with probability at most 5% (the sales ones, with a
    # conservative variance, far less): of the 12, four or more misses is a tail below 1e-3.
    assert len(missed) <= 3, missed
    # `cleanroom report get` shows a line per campaign and estimate with its statement.
    text = report_text(report)
    assert "holdout lift per campaign:" in text
    for campaign in exact:
        lines = [ln for ln in text.splitlines() if ln.startswith(f"  {campaign}: ")]
        assert len(lines) == 3
        assert all(ln.endswith("significant at 95%") for ln in lines)


def test_a_report_without_the_lift_header_has_no_lift_member(
    svc: Services, lift_room: Room
) -> None:
    assert "lift" not in _report(svc, lift_room, "exposed_conversion")


def test_a_lift_header_that_does_not_fit_the_outputs_is_rejected(
    svc: Services, lift_room: Room
) -> None:
    sql = (QUERIES / "incrementality_lift.sql").read_text()
    sql = sql.replace("-- name: incrementality_lift", "-- name: lift_by_brand")
    sql = sql.replace("-- lift: cell test holdout", "-- lift: brand test holdout")
    with pytest.raises(TemplateRejected) as caught:
        submit_template(
            svc, ANALYST, lift_room.collab.id, TemplateSubmission.from_json({"sql": sql})
        )
    (violation,) = caught.value.violations
    assert violation.code == "bad_header"
    assert "'brand'" in violation.message
    assert violation.line == 8
