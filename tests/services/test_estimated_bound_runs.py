"""Runs of a template with an ``-- estimate:`` header, through the services on SQLite and
PostgreSQL: stage 1 estimates the sales bound (a DP quantile over the public grid), stage 2
releases sales at that bound; the charge is the request, the report and the explanations say which
bound was used, and a header the release cannot carry is refused at submission."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from cleanroom.config import Settings
from cleanroom.demo.specs import ADVERTISER_ORG, RETAILER_ORG
from cleanroom.errors import InvalidRequest, TemplateRejected
from cleanroom.services.context import Services, build_services
from cleanroom.services.datasets import usable_datasets
from cleanroom.services.exact import exact_answer
from cleanroom.services.reports import get_report
from cleanroom.services.requests import RunRequest, TemplateSubmission
from cleanroom.services.runs import RunWorker, create_run, preview_run
from cleanroom.services.templates import decide_template, submit_template
from tests.services.conftest import ADMIN, ANALYST, QUERIES, Room, build_room

OUTER = 200000  # the sales bound the datasets' specs give (amount_cents in [0, 200000])


def estimated_template(line: str = "-- estimate: sales 0.95 0.2") -> str:
    """exposed_conversion with its sales bound left to the datasets and an estimate line."""
    text = (QUERIES / "exposed_conversion.sql").read_text()
    text = text.replace("-- name: exposed_conversion", "-- name: estimated_conversion")
    return text.replace("-- bounds: sales 0 20000", line)


@pytest.fixture
def estimated_room(svc: Services, hashed_files: dict[str, Path]) -> Room:
    room = build_room(svc, hashed_files, ("exposed_conversion",))
    pending = submit_template(
        svc, ANALYST, room.collab.id, TemplateSubmission.from_json({"sql": estimated_template()})
    )
    approved = decide_template(svc, ADMIN, room.collab.id, pending.id, "approve")
    return Room(room.collab, {**room.templates, "estimated_conversion": approved})


def _body(room: Room, name: str = "estimated_conversion", epsilon: float = 1.0) -> dict[str, Any]:
    return {"template_id": room.templates[name].id, "parameters": {},
            "privacy_loss": {"epsilon": epsilon}}  # fmt: skip


def _run(svc: Services, room: Room, name: str, epsilon: float) -> tuple[Any, dict[str, Any]]:
    run, _ = create_run(
        svc, ANALYST, room.collab.id, RunRequest.from_json(_body(room, name, epsilon))
    )
    RunWorker(svc, "test").run_pending()
    return run, get_report(svc, ANALYST, room.collab.id, run.id)


def test_preview_gives_the_outer_bound_half_width_as_an_upper_bound(
    svc: Services, estimated_room: Room
) -> None:
    body = RunRequest.from_json(_body(estimated_room), preview=True)
    preview = preview_run(svc, ANALYST, estimated_room.collab.id, body)
    assert preview["privacy_loss"]["epsilon"] == pytest.approx(1.0)
    (entry,) = preview["estimated_bounds"]
    assert entry["output"] == "sales"
    assert entry["epsilon"] == pytest.approx(0.2)
    assert entry["outer_bounds"] == [0, OUTER]
    assert entry["candidates"][-1] == OUTER
    assert entry["half_width_is"] == "upper_bound_at_outer_bound"
    assert entry["half_width"] == preview["accuracy"]["half_widths"]["sales"]
    # The release splits what the estimate leaves.
    assert preview["loss_split"]["requested"]["epsilon"] == pytest.approx(0.8)
    targets = RunRequest.from_json(
        {**_body(estimated_room), "targets": {"sales": 1e6}}, preview=True
    )
    with pytest.raises(InvalidRequest, match="targets are not available"):
        preview_run(svc, ANALYST, estimated_room.collab.id, targets)


def test_a_run_releases_sales_at_the_estimated_bound_and_charges_the_request(
    svc: Services, estimated_room: Room
) -> None:
    run, report = _run(svc, estimated_room, "estimated_conversion", 1.0)
    assert run.epsilon == pytest.approx(1.0)  # the charge is the request
    (found,) = report["estimated_bounds"]
    assert found["output"] == "sales"
    assert found["estimate"] in found["candidates"]
    assert found["estimate"] <= OUTER
    assert found["bounds"] == [0, found["estimate"]]
    assert (found["quantile"], found["share"]) == (0.95, 0.2)
    assert found["epsilon"] == pytest.approx(0.2)
    assert found["clamped_partials"]["noisy_count"] >= 0
    sales = next(m for m in report["contribution_bounds"] if m["column"] == "sales")
    assert sales["bounds"] == [0, found["estimate"]]
    explained = report["explanations"]["measurements"]["sales"]
    assert explained["bounds_source"] == "estimated"
    assert "not the bias of clamping" in explained["text"]
    assert f"[0, {found['estimate']}]" in explained["text"]
    # Shares are of the run's whole epsilon (sales: 3 of 5 weights of the release's 80%).
    assert "(48% of the run's epsilon)" in explained["text"]
    # What the run used (estimate plus release) is what it was charged.
    assert report["privacy_loss"]["epsilon"] == pytest.approx(run.epsilon)
    assert report["loss_split"]["requested"]["epsilon"] == pytest.approx(0.8)
    assert math.isclose(report["privacy_loss"]["delta"], run.delta)


def test_bias_of_the_estimated_bound_against_the_exact_sum(
    svc: Services, estimated_room: Room, capsys: pytest.CaptureFixture[str]
) -> None:
    """The figure docs/benchmarks.md quotes: mean relative error of the released sales against
    the exact unclamped sums, estimated bound vs the outer bound, at epsilon 5."""
    usable = usable_datasets(svc, estimated_room.collab.id, (RETAILER_ORG, ADVERTISER_ORG))
    tables = {n: svc.settings.data_dir / d.current.path for n, d in usable.items() if d.current}
    exact = {
        r["campaign_id"]: float(r["sales"])
        for r in exact_answer(svc.settings, estimated_template(), tables).rows
    }
    outer_text = estimated_template("-- bounds: sales 0 200000")
    outer = submit_template(
        svc, ANALYST, estimated_room.collab.id,
        TemplateSubmission.from_json({"sql": outer_text.replace("estimated_", "outer_")}),
    )  # fmt: skip
    decide_template(svc, ADMIN, estimated_room.collab.id, outer.id, "approve")
    room = Room(estimated_room.collab, {**estimated_room.templates, "outer": outer})

    def errors(name: str) -> tuple[float, float, list[Any]]:
        """Mean signed and absolute relative errors over 3 runs at epsilon 5, and the bounds."""
        signed, used = [], []
        for _ in range(3):
            _, report = _run(svc, room, name, 5.0)
            used.append(report.get("estimated_bounds", [{"estimate": OUTER}])[0]["estimate"])
            for row in report["rows"]:
                truth = exact.get(row["campaign_id"])
                if truth:
                    signed.append((row["sales"] - truth) / truth)
        return sum(signed) / len(signed), sum(map(abs, signed)) / len(signed), used

    estimated, outer_bound = errors("estimated_conversion"), errors("outer")
    # The clamping bias alone, noise-free: the exact sums with each partial clamped at the
    # first run's estimate (the same per-(person, campaign) partials the release clamps).
    clamped_text = estimated_template().replace(
        "SUM(sales) AS sales", f"SUM(LEAST(sales, {estimated[2][0]})) AS sales"
    )
    clamped = exact_answer(svc.settings, clamped_text, tables).rows
    bias = [
        float(r["sales"]) / exact[r["campaign_id"]] - 1
        for r in clamped
        if exact.get(r["campaign_id"])
    ]
    with capsys.disabled():
        print(
            f"\nsales vs the exact unclamped sum (mean signed, mean absolute relative error): "
            f"estimated bound {estimated[0]:+.4f}, {estimated[1]:.4f} (bounds {estimated[2]}; "
            f"clamping bias alone at {estimated[2][0]}: {sum(bias) / len(bias):+.4f}); "
            f"outer bound {outer_bound[0]:+.4f}, {outer_bound[1]:.4f}"
        )
    assert all(b <= 0 for b in bias)
    assert all(b <= OUTER for b in estimated[2])


@pytest.mark.parametrize(
    ("line", "code", "words"),
    [
        ("-- estimate: buyers 0.95 0.2", "bad_header", "not an output that is a SUM as is"),
        ("-- estimate: salse 0.95 0.2", "bad_header", "not an output that is a SUM as is"),
        ("-- estimate: sales 0.95 0.7", "bad_header", "at most 0.5"),
    ],
)
def test_an_estimate_the_release_cannot_carry_is_refused(
    svc: Services, room: Room, line: str, code: str, words: str
) -> None:
    submission = TemplateSubmission.from_json({"sql": estimated_template(line)})
    with pytest.raises(TemplateRejected) as caught:
        submit_template(svc, ANALYST, room.collab.id, submission)
    (violation,) = caught.value.violations
    assert violation.code == code
    assert words in violation.message


def test_the_spark_engine_refuses_estimated_bounds(
    pg_settings: Settings, estimated_room: Room, hashed_files: dict[str, Path]
) -> None:
    """At submission (the header) and at run (a template approved on DuckDB): the stable violation
    code ``unsupported_on_spark``. Nothing starts a Spark session: the refusal comes first."""
    spark = build_services(pg_settings.replace(engine="spark"), migrate=False)
    try:
        submission = TemplateSubmission.from_json({"sql": estimated_template()})
        with pytest.raises(TemplateRejected) as caught:
            submit_template(spark, ANALYST, estimated_room.collab.id, submission)
        assert [v.code for v in caught.value.violations] == ["unsupported_on_spark"]
        request = RunRequest.from_json(_body(estimated_room), preview=True)
        with pytest.raises(TemplateRejected) as caught:
            preview_run(spark, ANALYST, estimated_room.collab.id, request)
        assert [v.code for v in caught.value.violations] == ["unsupported_on_spark"]
        with pytest.raises(TemplateRejected):
            create_run(
                spark,
                ANALYST,
                estimated_room.collab.id,
                RunRequest.from_json(_body(estimated_room)),
            )
    finally:
        spark.close()
