"""The release pipeline: candidates, partition selection, policy minimum, shapes, preview."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest

from cleanroom.dp import PrivacyLoss, preview, release
from cleanroom.dp.candidates import candidates
from cleanroom.errors import InternalError, InvalidRequest
from cleanroom.plan import Col, GroupKey, Lit, Op, OrderItem, Output, ReleasePlan
from tests.dp.dp_plans import BUYERS, SALES, SPEND, attribution_plan, key, out, ratio, table

BIG = 1_000_000  # exact values far above any noise used here


def test_report_shape_matches_api_md() -> None:
    plan = attribution_plan(None, measurements=(BUYERS, SALES, SPEND))
    t = table(["c1", "c2"], buyers=[BIG, BIG], sales=[BIG, BIG], spend=[1e5, 1e5])
    result = release(plan, t, PrivacyLoss(1.0, 1e-6)).to_dict()
    json.dumps(result, allow_nan=False)
    assert result["columns"] == ["campaign", "buyers", "sales", "spend"]
    assert [r["campaign"] for r in result["rows"]] == ["c1", "c2"]
    assert all(isinstance(r["buyers"], int) and isinstance(r["sales"], int) for r in result["rows"])
    assert all(isinstance(r["spend"], float) for r in result["rows"])
    assert result["accuracy"]["confidence"] == 0.95
    assert set(result["accuracy"]["half_widths"]) == {"buyers", "sales", "spend"}
    assert [m["column"] for m in result["mechanisms"]] == ["buyers", "sales", "spend"]
    assert [m["mechanism"] for m in result["mechanisms"]] == [
        "discrete_laplace_threshold",
        "discrete_laplace",
        "laplace",
    ]
    assert {"column", "mechanism", "scale", "epsilon"} <= set(result["mechanisms"][1])
    selection = result["partition_selection"]
    assert selection["kind"] == "threshold"
    assert selection["threshold"] == result["mechanisms"][0]["threshold"] > 0
    assert result["privacy_loss"] == {"epsilon": 1.0, "delta": 1e-6}
    assert result["suppressed_by_policy"] == {"count": 0, "groups": []}
    assert len(result["accuracy"]["row_half_widths"]) == 2


def test_public_keys_release_exactly_the_domain_zero_filled() -> None:
    plan = attribution_plan(("c1", "c2", "c3"), min_users=0)
    # c2 is absent from the data; "zz" is outside the declared domain and must never appear.
    t = table(["c3", "zz", "c1"], buyers=[BIG, BIG, BIG], sales=[BIG, BIG, BIG])
    for _ in range(20):
        result = release(plan, t, PrivacyLoss(2.0))
        assert [r["campaign"] for r in result.rows] == ["c1", "c2", "c3"]
        c2 = result.rows[1]
        assert 0 <= c2["buyers"] < 100
        assert 0 <= c2["sales"] < 10_000
        assert result.partition_selection == {"kind": "public", "threshold": None, "groups": 3}


def test_public_keys_under_the_minimum_are_suppressed_and_listed() -> None:
    plan = attribution_plan(("c1", "c2", "c3"), min_users=50)
    t = table(["c1"], buyers=[BIG], sales=[BIG])
    result = release(plan, t, PrivacyLoss(2.0))
    assert [r["campaign"] for r in result.rows] == ["c1"]
    assert result.suppressed_by_policy == ({"campaign": "c2"}, {"campaign": "c3"})
    assert result.to_dict()["suppressed_by_policy"]["count"] == 2


def test_no_released_row_is_under_the_policy_minimum() -> None:
    plan = attribution_plan(tuple(f"c{i}" for i in range(40)), min_users=50)
    t = table([f"c{i}" for i in range(40)], buyers=list(range(30, 70)), sales=[0] * 40)
    released = suppressed = 0
    for _ in range(25):
        result = release(plan, t, PrivacyLoss(0.5))
        assert all(r["buyers"] >= 50 for r in result.rows)
        assert len(result.rows) + len(result.suppressed_by_policy) == 40
        released += len(result.rows)
        suppressed += len(result.suppressed_by_policy)
    assert released > 0
    assert suppressed > 0


def test_added_person_count_is_measured_but_not_shown() -> None:
    plan = ReleasePlan(
        group_keys=(GroupKey("campaign"),),
        measurements=(BUYERS, SALES),
        person_count="buyers",
        outputs=(key("campaign"), out("sales")),
        min_users_per_row=10,
        added_person_count=True,
    )
    t = table(["c1", "c2"], buyers=[BIG, 1], sales=[BIG, 100])
    result = release(plan, t, PrivacyLoss(1.0, 1e-9))  # c2 passes with probability < 1e-9
    assert result.columns == ("campaign", "sales")
    assert [r["campaign"] for r in result.rows] == ["c1"]
    assert set(result.rows[0]) == {"campaign", "sales"}
    assert result.measurement_half_widths.keys() == {"buyers", "sales"}
    assert result.half_widths.keys() == {"sales"}
    assert result.loss_split.part("buyers").role == "partition_selection"


def test_threshold_drops_keys_outside_a_partly_public_domain() -> None:
    plan = ReleasePlan(
        group_keys=(GroupKey("campaign"), GroupKey("channel", ("online", "instore"))),
        measurements=(BUYERS,),
        person_count="buyers",
        outputs=(key("campaign"), key("channel"), out("buyers")),
        min_users_per_row=10,
    )
    t = pa.table(
        {
            "campaign": ["c1", "c1", "c2"],
            "channel": ["online", "phone", "instore"],
            "buyers": [BIG, BIG, BIG],
        }
    )
    result = release(plan, t, PrivacyLoss(1.0, 1e-6))
    assert [(r["campaign"], r["channel"]) for r in result.rows] == [
        ("c1", "online"),
        ("c2", "instore"),
    ]


def test_group_values_become_json_and_order_does_not_follow_the_engine() -> None:
    plan = ReleasePlan(
        group_keys=(GroupKey("day"), GroupKey("size")),
        measurements=(BUYERS,),
        person_count="buyers",
        outputs=(key("day"), key("size"), out("buyers")),
        min_users_per_row=10,
    )
    t = pa.table(
        {
            "day": [dt.date(2024, 1, 2), dt.date(2024, 1, 1), None],
            "size": pa.array([Decimal("2"), Decimal("1.5"), Decimal("3")], pa.decimal128(5, 1)),
            "buyers": [BIG, BIG, BIG],
        }
    )
    rows = release(plan, t, PrivacyLoss(1.0, 1e-6)).rows
    assert [(r["day"], r["size"]) for r in rows] == [
        ("2024-01-01", 1.5),
        ("2024-01-02", 2),
        (None, 3),
    ]


def test_a_release_without_group_by_is_one_group() -> None:
    plan = ReleasePlan(
        group_keys=(),
        measurements=(BUYERS, SALES),
        person_count="buyers",
        outputs=(out("buyers"), out("sales")),
        min_users_per_row=10,
    )
    result = release(plan, pa.table({"buyers": [BIG], "sales": [BIG]}), PrivacyLoss(1.0))
    assert len(result.rows) == 1
    assert result.partition_selection["kind"] == "public"
    empty = pa.table({"buyers": pa.array([], pa.int64()), "sales": pa.array([], pa.int64())})
    # Zero-filled; noise of scale 0.2 reaches the minimum of 10 with probability < 1e-20.
    assert release(plan, empty, PrivacyLoss(10.0)).suppressed_by_policy == ({},)


def test_derived_outputs_having_order_and_limit_use_noisy_values() -> None:
    plan = attribution_plan(
        ("c1", "c2", "c3", "c4"),
        extra_outputs=(
            Output("avg_sale", ratio("sales", "buyers")),
            Output("roas", Op("round", (Op("/", (Col("sales"), Lit(2_000.0))), Lit(2)))),
        ),
        having=Op(">", (Col("sales"), Lit(1_000))),
        order_by=(OrderItem(Col("sales"), descending=True),),
        limit=2,
    )
    t = table(
        ["c1", "c2", "c3", "c4"],
        buyers=[BIG, BIG, BIG, BIG],
        sales=[50 * BIG, 80 * BIG, 70 * BIG, 0],
    )
    result = release(plan, t, PrivacyLoss(5.0))
    assert [r["campaign"] for r in result.rows] == ["c2", "c3"]
    for row, widths in zip(result.rows, result.row_half_widths, strict=True):
        assert row["avg_sale"] == pytest.approx(row["sales"] / row["buyers"])
        assert row["roas"] == pytest.approx(row["sales"] / 2_000.0, abs=0.0051)  # rounded
        assert widths["buyers"] == result.half_widths["buyers"]
        assert widths["avg_sale"] is not None
        assert widths["avg_sale"] > 0
        assert widths["roas"] == pytest.approx(result.half_widths["sales"] / 2_000.0, abs=0.011)
        assert "campaign" not in widths


def test_division_by_a_zero_noisy_value_is_null_with_no_interval() -> None:
    plan = attribution_plan(
        ("c1",), min_users=0, extra_outputs=(Output("r", ratio("sales", "buyers")),)
    )
    t = table(["c1"], buyers=[0], sales=[0])
    seen_zero = False
    for _ in range(200):
        result = release(plan, t, PrivacyLoss(1.0))
        row, widths = result.rows[0], result.row_half_widths[0]
        if row["buyers"] == 0:
            seen_zero = True
            assert row["r"] is None
            assert widths["r"] is None
        elif row["buyers"] <= result.half_widths["buyers"]:
            assert widths["r"] is None  # the denominator's interval reaches zero: unbounded
    assert seen_zero  # P[noisy count clipped to 0] >= 1/2 per draw: never missed in 200


@pytest.mark.parametrize("noise", ["laplace", "gaussian"])
@pytest.mark.parametrize("public", [True, False])
def test_preview_half_widths_equal_the_release_half_widths(noise: str, public: bool) -> None:
    plan = attribution_plan(("c1", "c2") if public else None, measurements=(BUYERS, SALES, SPEND))
    loss = PrivacyLoss(0.8, 1e-6)
    t = table(["c1", "c2"], buyers=[BIG, BIG], sales=[BIG, BIG], spend=[1e6, 1e6])
    before = preview(plan, loss, noise=noise)
    after = release(plan, t, loss, noise=noise)
    assert before.half_widths == after.half_widths
    assert before.measurement_half_widths == after.measurement_half_widths
    assert before.mechanisms == after.mechanisms
    assert before.partition_selection == after.partition_selection
    assert before.loss_split == after.loss_split
    assert before.privacy_loss == after.privacy_loss
    for widths in after.row_half_widths:
        assert {c: widths[c] for c in after.half_widths} == after.half_widths
    json.dumps(before.to_dict(), allow_nan=False)


def test_engine_tables_that_do_not_match_the_plan_are_bugs() -> None:
    plan = attribution_plan()
    with pytest.raises(InternalError, match="this is a bug"):
        release(plan, table(["c1"], buyers=[1]), PrivacyLoss(1.0))


def test_the_release_never_fails_on_data_values() -> None:
    """Keys the rewrite canonicalises in SQL cannot repeat, and integer partials are rounded
    there; should either reach the release anyway, it adds and rounds instead of failing (a
    failure that depends on data would be a released bit)."""
    plan = attribution_plan()
    doubled = candidates(plan, table(["c1", "c1"], buyers=[1, 2], sales=[1, 2]))
    assert doubled.groups == [("c1",), ("c2",), ("c3",)]
    assert doubled.exact == {"buyers": [3, 0, 0], "sales": [3, 0, 0]}
    fractional = candidates(plan, table(["c1"], buyers=[1.5], sales=[1]))
    assert fractional.exact["buyers"] == [2, 0, 0]


def test_bad_requests_are_refused_before_any_noise() -> None:
    t = table(["c1"], buyers=[1], sales=[1])
    with pytest.raises(InvalidRequest, match="noise must be one of"):
        release(attribution_plan(), t, PrivacyLoss(1.0), noise="exponential")
    with pytest.raises(InvalidRequest, match="needs a delta"):
        release(attribution_plan(None), t, PrivacyLoss(1.0))
    huge = ReleasePlan(
        group_keys=tuple(GroupKey(f"k{i}", tuple(range(100))) for i in range(4)),
        measurements=(BUYERS,),
        person_count="buyers",
        outputs=(),
    )
    with pytest.raises(InvalidRequest, match="more than the"):
        preview(huge, PrivacyLoss(1.0))


def test_unconditional_row_counts_never_fall_below_the_person_count() -> None:
    # reach_frequency's shape: impressions (COUNT(*)) and reach (COUNT(DISTINCT pid)), no FILTER.
    from cleanroom.plan import Measurement

    reach = Measurement("buyers", "person_count", 0, 1, True, 1, unconditional=True)
    impressions = Measurement("impressions", "row_count", 0, 30, True, 1, unconditional=True)
    plan = attribution_plan(("c1",), measurements=(reach, impressions), min_users=0)
    # Exact impressions equal reach; impressions' noise (bound 30) is far larger than reach's,
    # so without the constraint about half the draws would put impressions below reach.
    for _ in range(40):
        result = release(plan, table(["c1"], buyers=[500], impressions=[500]), PrivacyLoss(1.0))
        row, cells = result.rows[0], result.row_intervals[0]
        assert row["impressions"] >= row["buyers"]  # type: ignore[operator]
        lo, hi = cells["impressions"]  # type: ignore[misc]
        assert 0 <= lo <= row["impressions"] <= hi  # type: ignore[operator]


def test_every_released_cell_lies_in_its_interval_and_intervals_respect_signs() -> None:
    plan = attribution_plan(
        ("c1", "c2"), min_users=0, extra_outputs=(out("aov", ratio("sales", "buyers")),)
    )
    result = release(plan, table(["c1", "c2"], buyers=[3, 400], sales=[0, 40000]), PrivacyLoss(0.5))
    for row, cells, widths in zip(
        result.rows, result.row_intervals, result.row_half_widths, strict=True
    ):
        for column in ("buyers", "sales"):
            lo, hi = cells[column]  # type: ignore[misc]
            assert 0 <= lo <= row[column] <= hi  # type: ignore[operator]
            assert widths[column] is not None
        if cells["aov"] is not None:
            lo, hi = cells["aov"]
            assert lo <= row["aov"] <= hi  # type: ignore[operator]
