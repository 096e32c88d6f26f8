"""The lift member's intervals (cleanroom.dp.lift): over many simulated randomized tests, each
drawn from a known population (Bernoulli conversion, bounded sales) and released with Laplace
noise at the stated scales, the 95% intervals cover the population's effects at least 93% of
the time (sales: at least 95%, its sampling variance is bounded conservatively); and the
plain statements follow the intervals."""

from __future__ import annotations

import numpy as np
import pytest

from cleanroom.dp.lift import lift_of
from cleanroom.lift_view import significance_text
from cleanroom.types import parse_lift

SPEC = parse_lift("cell test holdout")
SCALES = {"users": 3.0, "buyers": 3.0, "sales": 20000.0}
MECHANISMS = [{"column": c, "mechanism": "discrete_laplace", "scale": s} for c, s in SCALES.items()]
BOUNDS = {"users": (0.0, 1.0), "buyers": (0.0, 1.0), "sales": (0.0, 30000.0)}
N_TEST, N_HOLD, P_HOLD, LIFT = 8000, 2000, 0.05, 0.3
PRICE = 600.0


def _one_test(rng: np.random.Generator) -> dict[str, object]:
    rows = []
    for cell, n, p in (("test", N_TEST, P_HOLD * (1 + LIFT)), ("holdout", N_HOLD, P_HOLD)):
        buys = rng.random(n) < p
        sales = np.where(buys, rng.integers(1, 4, n) * PRICE, 0.0)
        noise = {c: rng.laplace(0, s) for c, s in SCALES.items()}
        rows.append({"campaign_id": "c1", "cell": cell,
                     "users": n + noise["users"], "buyers": buys.sum() + noise["buyers"],
                     "sales": sales.sum() + noise["sales"]})  # fmt: skip
    return lift_of(SPEC, rows, ["campaign_id"], MECHANISMS, BOUNDS)["campaigns"][0]


def test_intervals_cover_the_population_effects() -> None:
    rng = np.random.default_rng(7)
    mean_sales = P_HOLD * 2 * PRICE  # one to three units, mean two
    truth = {
        "lift": LIFT,
        "incremental_buyers": N_TEST * P_HOLD * LIFT,
        "incremental_sales": N_TEST * mean_sales * LIFT,
    }
    seeds = 600
    covered = dict.fromkeys(truth, 0)
    for _ in range(seeds):
        entry = _one_test(rng)
        for name, value in truth.items():
            lo, hi = entry[name]["interval"]
            covered[name] += lo <= value <= hi
    assert covered["lift"] / seeds >= 0.93
    assert covered["incremental_buyers"] / seeds >= 0.93
    assert covered["incremental_sales"] / seeds >= 0.95


def test_significance_follows_the_interval() -> None:
    entry = _one_test(np.random.default_rng(3))
    for name in ("lift", "incremental_buyers", "incremental_sales"):
        lo, hi = entry[name]["interval"]
        assert entry[name]["significant"] == (lo > 0 or hi < 0)
    assert significance_text({"value": 1.0, "significant": True}) == "significant at 95%"
    assert significance_text({"value": 1.0, "significant": False}) == "not significant at 95%"


@pytest.mark.parametrize("missing", ["test", "holdout"])
def test_a_cell_not_released_gives_no_value(missing: str) -> None:
    rows = [{"campaign_id": "c1", "cell": c, "users": 100, "buyers": 5, "sales": 3000}
            for c in ("test", "holdout") if c != missing]  # fmt: skip
    entry = lift_of(SPEC, rows, ["campaign_id"], MECHANISMS, BOUNDS)["campaigns"][0]
    assert entry["lift"]["value"] is None
    assert entry["lift"]["interval"] is None
    assert "not released" in significance_text(entry["lift"])


def test_a_lift_line_needs_three_words() -> None:
    with pytest.raises(ValueError, match="cell_key test_value holdout_value"):
        parse_lift("cell test")
    with pytest.raises(ValueError, match="a lift line is"):
        parse_lift("cell test test")
