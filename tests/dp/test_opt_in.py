"""The ``opt_in`` member of a consent analysis's report (cleanroom.dp.opt_in): the rate of the
released counts, an interval that covers the exact rate at least 95% of the time under the
release's own noise, and explanations that note only the cells without a value or interval."""

from __future__ import annotations

import numpy as np
import pytest

from cleanroom.dp.opt_in import opt_in_of

SCALE = 8.0
MECHANISMS = [{"column": "people", "mechanism": "laplace", "scale": SCALE}]


def _one(yes: float | None, no: float | None) -> dict[str, object]:
    rows = [{"consented": False, "people": no}, {"consented": True, "people": yes}]
    found = opt_in_of(rows, "consented", "people", [], MECHANISMS, "customers", "measurement")
    (entry,) = found["groups"]
    return entry


def test_the_interval_covers_the_exact_rate_under_the_noise() -> None:
    rng = np.random.default_rng(7)
    yes, no = 140, 60
    exact = yes / (yes + no)
    draws = 2000
    covered = 0
    for _ in range(draws):
        y = max(yes + rng.laplace(0, SCALE), 0.0)
        n = max(no + rng.laplace(0, SCALE), 0.0)
        lo, hi = _one(y, n)["interval"]  # type: ignore[misc]
        covered += lo <= exact <= hi
    assert covered / draws >= 0.95


def test_groups_by_the_other_keys() -> None:
    rows = [
        {"region": r, "consented": c, "people": p}
        for r, c, p in (("north", True, 90), ("north", False, 10), ("south", True, 30),
                        ("south", False, 70))
    ]  # fmt: skip
    found = opt_in_of(rows, "consented", "people", ["region"], MECHANISMS, "c", "measurement")
    rates = {g["group"]["region"]: g["rate"] for g in found["groups"]}
    assert rates == {"north": pytest.approx(0.9), "south": pytest.approx(0.3)}


def test_cells_without_a_value_or_an_interval_are_noted() -> None:
    assert _one(0, 0)["rate"] is None
    assert _one(None, 10)["note"] == "no_value"  # a count not released
    entry = _one(0.0, 0.0)
    assert (entry["interval"], entry["note"]) == (None, "no_value")
    rows = [{"consented": True, "people": 0.0}, {"consented": False, "people": None}]
    found = opt_in_of(rows, "consented", "people", [], MECHANISMS, "customers", "measurement")
    explained = found["explanations"]
    assert explained["cells"] == [{"group": 0, "column": "rate", "note": "no_value"}]
    assert set(explained["notes"]) == {"no_value"}
    assert "customers" in explained["consented"]
    assert "measurement" in explained["consented"]
    assert _one(50, 50)["interval"] is not None
    assert "note" not in _one(50, 50)
