"""DP-estimated upper bounds (cleanroom.dp.estimated_bounds): the public grid, the estimate, and
which outputs may carry one."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from cleanroom.dp.estimated_bounds import (
    GRID_HALVINGS,
    bounds_with_estimates,
    candidate_grid,
    estimate_bound,
    estimate_problem,
    partials_in_release,
)
from cleanroom.errors import InternalError
from cleanroom.plan import Col, GroupKey, Measurement, Op, Output, ReleasePlan
from cleanroom.specs import EstimateSpec

SALES = Measurement("sales", "sum", 0, 20000, True, 4)
PLAN = ReleasePlan(
    group_keys=(GroupKey("brand"),),
    measurements=(Measurement("buyers", "person_count", 0, 1, True, 4), SALES),
    person_count="buyers",
    outputs=(
        Output("brand", Col("brand"), True),
        Output("buyers", Col("buyers")),
        Output("sales", Col("sales")),
        Output("per_buyer", Op("/", (Col("sales"), Col("buyers")))),
    ),
)


def test_grid_is_public_ascending_and_ends_at_the_outer_bound() -> None:
    grid = candidate_grid(0.0, 20000.0, integer=True)
    assert grid == sorted(set(grid))
    assert grid[-1] == 20000
    assert grid[0] >= 1
    assert all(isinstance(v, int) for v in grid)
    fractional = candidate_grid(0.0, 1.0, integer=False)
    assert len(fractional) == GRID_HALVINGS + 1
    assert fractional[0] == 2.0**-GRID_HALVINGS
    assert candidate_grid(300.0, 1000.0, integer=False) == [300.0, 500.0, 1000.0]
    with pytest.raises(InternalError):
        candidate_grid(-10.0, 0.0, integer=False)


def test_estimate_is_a_candidate_near_the_quantile_and_counts_the_clamped() -> None:
    rng = random.Random(7)
    partials = [min(20000, int(rng.expovariate(1 / 500))) for _ in range(50_000)]
    found = estimate_bound(EstimateSpec("sales", 0.99, 0.1), SALES, partials, epsilon=0.5)
    assert found.estimate in found.candidates
    # The 0.99 quantile of this sample is about 2300: the candidate just above it is 2500.
    assert found.estimate == 2500
    above = sum(1 for p in partials if p > 2500)
    assert abs(found.clamped_count - above) <= 10 * found.clamped_half_width
    assert found.quantile_epsilon < found.epsilon == 0.5
    report = found.to_dict()
    assert report["bounds"] == [0, 2500]
    assert report["outer_bounds"] == [0, 20000]
    assert bounds_with_estimates({"refunds": (0.0, 9.0)}, [found]) == {
        "refunds": (0.0, 9.0),
        "sales": (0.0, 2500.0),
    }


def test_only_a_sum_output_as_is_may_be_estimated() -> None:
    assert estimate_problem(EstimateSpec("sales", 0.99, 0.1), PLAN) is None
    for name in ("buyers", "per_buyer", "brand", "missing"):
        problem = estimate_problem(EstimateSpec(name, 0.99, 0.1), PLAN)
        assert problem is not None
        assert "not an output that is a SUM as is" in problem


def test_partials_outside_a_public_domain_are_left_out() -> None:
    """The release drops groups outside a key's public domain, so stage 1 does too: otherwise a
    person could have more partials than the max_groups the quantile's input distance assumes."""
    plan = ReleasePlan(
        group_keys=(GroupKey("brand", ("acme", "zeta")), GroupKey("day")),
        measurements=PLAN.measurements,
        person_count="buyers",
        outputs=PLAN.outputs,
    )
    table = pa.table(
        {
            "brand": ["acme", "other", "zeta", None],
            "day": [1, 1, 2, 3],
            "sales": [10, 20, None, 40],
        }
    )
    assert partials_in_release(plan, table, "sales") == [10, 0]
    keyless = ReleasePlan((), PLAN.measurements, "buyers", PLAN.outputs)
    assert partials_in_release(keyless, pa.table({"sales": [5, 6]}), "sales") == [5, 6]


def test_an_estimate_on_a_second_output_of_the_same_sum_is_refused() -> None:
    plan = ReleasePlan(
        group_keys=PLAN.group_keys,
        measurements=PLAN.measurements,
        person_count="buyers",
        outputs=(*PLAN.outputs, Output("sales_again", Col("sales"))),
    )
    problem = estimate_problem(EstimateSpec("sales_again", 0.99, 0.1), plan)
    assert problem is not None
    assert "releases the same SUM as output 'sales'" in problem
