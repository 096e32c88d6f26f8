"""The opt-in rate for partners end to end through the services: the shipped consent analysis
opt_in_rate on the small demo world releases the people with and without consent for its purpose
(zero-filled TRUE/FALSE rows), its report's ``opt_in`` member derives the rate with an interval
that covers the exact rate (the retailer's exact governance KPI), and the run is charged to the
partner's budget like any other. Reports of other templates have no ``opt_in`` member."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom.cli.reports import report_text
from cleanroom.demo.exact import exact_frame
from cleanroom.demo.world import World
from cleanroom.services.budget import get_budget
from cleanroom.services.context import Services
from cleanroom.services.kpis import governance_kpis
from cleanroom.services.reports import get_report
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run
from tests.services.conftest import ADMIN, ANALYST, Room, build_room

EPSILON = 2.0


@pytest.fixture
def opt_in_room(svc: Services, hashed_files: dict[str, Path]) -> Room:
    return build_room(svc, hashed_files, ("opt_in_rate", "exposed_conversion"))


def _report(svc: Services, room: Room, name: str) -> dict[str, object]:
    body = {"template_id": room.templates[name].id, "parameters": {},
            "privacy_loss": {"epsilon": EPSILON}}  # fmt: skip
    run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(body))
    RunWorker(svc, "test").run_pending()
    return get_report(svc, ANALYST, room.collab.id, run.id)


def test_the_rate_covers_the_exact_rate_and_is_charged(
    svc: Services, opt_in_room: Room, small_world: World
) -> None:
    (before,) = get_budget(svc, ANALYST, opt_in_room.collab.id)
    report = _report(svc, opt_in_room, "opt_in_rate")
    (after,) = get_budget(svc, ANALYST, opt_in_room.collab.id)
    assert after.org == ANALYST.org
    assert after.spent_epsilon == pytest.approx(before.spent_epsilon + EPSILON)

    assert report["columns"] == ["consented", "people"]
    rows = report["rows"]
    assert isinstance(rows, list)
    assert [r["consented"] for r in rows] == [False, True]  # the public domain, zero-filled
    assert report["partition_selection"]["kind"] == "public"  # type: ignore[index]

    opt_in = report["opt_in"]
    assert isinstance(opt_in, dict)
    assert (opt_in["dataset"], opt_in["purpose"]) == ("customers", "measurement")
    (entry,) = opt_in["groups"]
    released = {r["consented"]: r["people"] for r in rows}
    assert entry["consented"] == released[True]
    assert entry["not_consented"] == released[False]
    assert entry["rate"] == pytest.approx(released[True] / (released[True] + released[False]))
    lo, hi = entry["interval"]
    assert lo <= entry["rate"] <= hi

    # The exact rate the release estimates: people with a consenting row over people per value.
    frame = exact_frame(small_world, "customers", None)
    consented = frame["consent_measurement"].fillna(False).astype(bool)
    yes = frame[consented]["pid"].nunique()
    no = frame[~consented]["pid"].nunique()
    exact = yes / (yes + no)
    # A 95% interval misses the truth one run in twenty by design (CI saw it): one run is held
    # to the interval widened by its own width on each side, which the noise exceeds about once
    # in ten thousand runs; coverage itself is measured over many draws (the opt-in coverage
    # test, the utility benchmark).
    assert lo - (hi - lo) <= exact <= hi + (hi - lo)
    # One row per person here, so it is the retailer's exact governance KPI (owner only).
    kpi = next(i for i in governance_kpis(svc, ADMIN, opt_in_room.collab.id)["opt_in"]
               if i["dataset"] == "customers")  # fmt: skip
    assert kpi["people_rate"] == pytest.approx(exact)
    assert opt_in["explanations"]["rate"].startswith("Derived after noise")
    assert opt_in["explanations"]["cells"] == []
    # The CLI's report text shows the rate too (cleanroom report get --format text).
    text = report_text(report)
    assert "opt-in rate of customers for measurement:\n  all: " in text
    assert f"{entry['rate']:.1%} [{lo:.1%}, {hi:.1%}]" in text


def test_other_reports_have_no_opt_in_member(svc: Services, opt_in_room: Room) -> None:
    report = _report(svc, opt_in_room, "exposed_conversion")
    assert "opt_in" not in report
