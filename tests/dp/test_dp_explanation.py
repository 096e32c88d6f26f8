"""Every released cell is explained: the explanation builder on real releases (OpenDP noise)."""

from __future__ import annotations

import json
from typing import Any

from cleanroom.dp import PrivacyLoss, release
from cleanroom.dp.explanation import BOUND_SOURCES, NOTES
from cleanroom.dp.release import DERIVED_METHOD
from cleanroom.plan import Col, Lit, Measurement, Op
from tests.dp.dp_plans import BUYERS, SALES, SPEND, attribution_plan, out, ratio, table

BIG = 1_000_000
PEOPLE = Measurement("buyers", "person_count", 0, 1, True, 1, unconditional=True)
ROWS = Measurement("impressions", "row_count", 0, 5, True, 1, unconditional=True)


def _cells_are_consistent(report: dict[str, Any]) -> None:
    """Every output has a text; every cell note names a released row, an output and a legend
    entry (the API test checks the same on a real run's report)."""
    explanations = report["explanations"]
    assert set(explanations["outputs"]) == set(report["columns"])
    assert all(e["text"] for e in explanations["outputs"].values())
    measured = {m["column"] for m in report["mechanisms"]}
    assert set(explanations["measurements"]) == measured
    for cell in explanations["cells"]:
        assert 0 <= cell["row"] < len(report["rows"])
        assert cell["column"] in report["columns"]
        assert cell["note"] in explanations["notes"]
        assert cell.get("measurement", next(iter(measured))) in measured


def test_each_output_says_mechanism_scale_share_and_bounds() -> None:
    plan = attribution_plan(("c1", "c2"), measurements=(BUYERS, SALES), min_users=0)
    result = release(
        plan, table(["c1", "c2"], buyers=[BIG, BIG], sales=[BIG, BIG]), PrivacyLoss(1.0)
    )
    report = result.to_dict()
    _cells_are_consistent(report)
    outputs = report["explanations"]["outputs"]
    assert outputs["campaign"]["kind"] == "group_key"
    assert "public domain of 2" in outputs["campaign"]["text"]
    by_column = {m["column"]: m for m in report["mechanisms"]}
    for column, share in (("buyers", "25%"), ("sales", "75%")):  # weights 1 and 3
        text = outputs[column]["text"]
        assert outputs[column]["kind"] == "measurement"
        assert by_column[column]["mechanism"].replace("_", " ") in text
        assert f"scale {by_column[column]['scale']:.4g}" in text
        assert f"({share} of the run's epsilon)" in text
        assert "declared, never estimated" in text
        assert "a noisy value below 0 is set to 0" in text
    assert "[0, 100] per group" in outputs["sales"]["text"]
    assert BOUND_SOURCES["dataset"] in outputs["sales"]["text"]
    assert BOUND_SOURCES["structural"] in outputs["buyers"]["text"]
    assert report["explanations"]["cells"] == []  # far from zero: nothing specific happened
    assert "0 rows were withheld" in report["explanations"]["release"]


def test_a_public_domain_never_says_which_rows_had_no_data() -> None:
    plan = attribution_plan(("c1", "c2", "c3"), min_users=0)
    full = table(["c1", "c2", "c3"], buyers=[BIG] * 3, sales=[BIG] * 3)
    missing = table(["c1", "c3"], buyers=[BIG] * 2, sales=[BIG] * 2)  # c2 is zero-filled
    a = release(plan, full, PrivacyLoss(1.0)).explanations
    b = release(plan, missing, PrivacyLoss(1.0)).explanations
    assert "zero-filled" in a["release"]
    assert a["release"] == b["release"]
    assert a["outputs"] == b["outputs"]


def test_clipped_cells_are_flagged_and_only_those() -> None:
    campaigns = [f"c{i}" for i in range(60)]
    plan = attribution_plan(campaigns, min_users=0)
    # Exact zeros under noise: about half the noisy values go negative and are clipped to 0.
    zeros = table(campaigns, buyers=[0] * 60, sales=[0] * 60)
    report = release(plan, zeros, PrivacyLoss(0.5)).to_dict()
    _cells_are_consistent(report)
    cells = report["explanations"]["cells"]
    clipped = {(c["row"], c["column"]) for c in cells if c["note"] == "clipped_to_zero"}
    assert {column for _, column in clipped} == {"buyers", "sales"}
    for row, column in clipped:
        assert report["rows"][row][column] == 0
        assert report["accuracy"]["row_intervals"][row][column][0] == 0  # cut at zero too
    assert report["explanations"]["notes"] == {"clipped_to_zero": NOTES["clipped_to_zero"]}
    # Far from zero, the same plan clips nothing.
    busy = table(campaigns, buyers=[BIG] * 60, sales=[BIG] * 60)
    assert release(plan, busy, PrivacyLoss(0.5)).explanations["cells"] == []


def test_a_row_count_raised_to_the_person_count_is_flagged() -> None:
    campaigns = [f"c{i}" for i in range(40)]
    plan = attribution_plan(campaigns, measurements=(PEOPLE, ROWS), min_users=0)
    # One row per person: the noisy row count falls below the noisy person count half the time.
    same = table(campaigns, buyers=[BIG] * 40, impressions=[BIG] * 40)
    report = release(plan, same, PrivacyLoss(1.0)).to_dict()
    _cells_are_consistent(report)
    raised = [c for c in report["explanations"]["cells"] if c["note"] == "raised_to_person_count"]
    assert raised
    for cell in raised:
        row = report["rows"][cell["row"]]
        assert cell["column"] == cell["measurement"] == "impressions"
        assert row["impressions"] == row["buyers"]
    assert "raised" in report["explanations"]["outputs"]["impressions"]["text"]


def test_threshold_selection_and_the_minimum_are_counted() -> None:
    plan = attribution_plan(None, min_users=BIG // 2)
    t = table(["c1", "c2", "c3"], buyers=[BIG, BIG, 20_000], sales=[BIG, BIG, BIG])
    report = release(plan, t, PrivacyLoss(1.0, 1e-6)).to_dict()
    _cells_are_consistent(report)
    text = report["explanations"]["release"]
    assert f"threshold of {report['partition_selection']['threshold']}" in text
    assert "1 row was withheld below that minimum" in text
    assert report["suppressed_by_policy"]["count"] == 1
    assert "2 rows released" in text
    assert "partition selection" in report["explanations"]["outputs"]["campaign"]["text"]
    assert "threshold" in report["explanations"]["outputs"]["buyers"]["text"]


def test_having_and_limit_say_how_many_rows_they_removed() -> None:
    campaigns = ["c1", "c2", "c3", "c4"]
    having = Op(">", (Col("sales"), Lit(BIG // 2)))
    plan = attribution_plan(campaigns, min_users=0, having=having, limit=1)
    t = table(campaigns, buyers=[BIG] * 4, sales=[BIG, BIG, BIG, 0])
    text = release(plan, t, PrivacyLoss(1.0)).explanations["release"]
    assert "HAVING sales > 500000 on the noisy values removed 1 row." in text
    assert "LIMIT 1 (after ORDER BY on noisy values) cut 2 rows." in text
    assert "1 row released." in text


def test_derived_outputs_say_how_their_interval_was_computed() -> None:
    aov = out("aov", ratio("sales", "buyers"))
    roas = out("roas", Op("round", (ratio("sales", "spend"), Lit(2))))
    public_spend = out("per_day", Op("/", (Col("sales"), Lit(7))))
    plan = attribution_plan(
        ("c1", "c2"), measurements=(BUYERS, SALES, SPEND), min_users=0,
        extra_outputs=(aov, roas, public_spend),
    )  # fmt: skip
    t = table(["c1", "c2"], buyers=[BIG, 0], sales=[BIG, 0], spend=[1e5, 0.0])
    report = release(plan, t, PrivacyLoss(1.0)).to_dict()
    _cells_are_consistent(report)
    outputs = report["explanations"]["outputs"]
    assert outputs["aov"]["kind"] == "derived"
    assert outputs["aov"]["reads"] == ["buyers", "sales"]
    assert "sales / buyers" in outputs["aov"]["text"]
    assert DERIVED_METHOD in outputs["aov"]["text"]
    assert "k = 2" in outputs["aov"]["text"]
    assert "round(sales / spend, 2)" in outputs["roas"]["text"]
    assert "no Bonferroni widening" in outputs["per_day"]["text"]
    # A derived cell without a value or without a finite interval says so.
    for cell in report["explanations"]["cells"]:
        value = report["rows"][cell["row"]][cell["column"]]
        interval = report["accuracy"]["row_intervals"][cell["row"]][cell["column"]]
        if cell["note"] == "no_value":
            assert value is None
        if cell["note"] == "no_interval":
            assert value is not None
            assert interval is None
    for r, row in enumerate(report["rows"]):
        notes = {(c["column"], c["note"]) for c in report["explanations"]["cells"] if c["row"] == r}
        for column in ("aov", "roas"):
            if row[column] is None:
                assert (column, "no_value") in notes
            elif report["accuracy"]["row_intervals"][r][column] is None:
                assert (column, "no_interval") in notes


def test_gaussian_measurements_say_they_compose_in_zcdp_and_sources_can_be_given() -> None:
    plan = attribution_plan(("c1",), min_users=0)
    t = table(["c1"], buyers=[BIG], sales=[BIG])
    result = release(
        plan, t, PrivacyLoss(1.0, 1e-6), noise="gaussian", bound_sources={"sales": "template"}
    )
    sales = result.explanations["measurements"]["sales"]
    assert sales["bounds_source"] == "template"
    assert BOUND_SOURCES["template"] in sales["text"]
    assert "zCDP" in sales["text"]
    assert "discrete gaussian" in sales["text"]


def test_the_member_does_not_grow_with_the_rows_when_nothing_happens() -> None:
    def explained(n: int) -> dict[str, Any]:
        campaigns = [f"c{i}" for i in range(n)]
        plan = attribution_plan(campaigns, min_users=0)
        t = table(campaigns, buyers=[BIG] * n, sales=[BIG] * n)
        return release(plan, t, PrivacyLoss(1.0)).explanations

    small, large = explained(10), explained(1000)
    assert large["cells"] == []
    assert large["outputs"]["sales"] == small["outputs"]["sales"]
    assert len(json.dumps(large)) < 2 * len(json.dumps(small))
