"""The one budget rule (``cleanroom.budget``) and the budget line that applies it: a budget can
be spent exactly despite float drift, a zero total is never spent, and a refusal names the
coordinate that binds."""

from __future__ import annotations

import pytest

from cleanroom.budget import binding, fits, refusal, remaining
from cleanroom.store.records import BudgetLine


def test_a_budget_can_be_spent_exactly_despite_float_drift() -> None:
    spent = 0.0
    for _ in range(10):
        assert fits(0.1, spent=spent, total=1.0)
        spent += 0.1
    assert spent != 1.0  # 10 * 0.1 drifts in floats
    assert remaining(spent, 1.0) == 0.0
    assert not fits(1e-6, spent=spent, total=1.0)


def test_a_zero_total_is_never_spent() -> None:
    assert fits(0.0, spent=0.0, total=0.0)
    assert not fits(1e-15, spent=0.0, total=0.0)
    line = BudgetLine("col_1", "acme", 10.0, 0.0, 0.0, 0.0)
    assert line.can_afford(1.0, 0.0)
    assert not line.can_afford(1.0, 1e-12)  # a pure-DP collaboration never spends delta


def test_a_small_delta_budget_is_not_overspent() -> None:
    line = BudgetLine("col_1", "acme", 10.0, 1e-10, 0.0, 0.0)
    assert line.can_afford(1.0, 1e-10)
    assert not line.can_afford(1.0, 1e-9)  # ten times the budget


def test_the_line_shape() -> None:
    line = BudgetLine("col_1", "acme", 2.0, 1e-6, 0.5, 4e-7)
    assert line.to_dict() == {
        "org": "acme",
        "total": {"epsilon": 2.0, "delta": 1e-6},
        "spent": {"epsilon": 0.5, "delta": 4e-7},
        "remaining": {"epsilon": 1.5, "delta": pytest.approx(6e-7)},
    }
    assert not line.can_afford(0.1, 7e-7)


@pytest.mark.parametrize(
    ("requested", "left", "coordinate"),
    [
        ({"epsilon": 2.0, "delta": 0.0}, {"epsilon": 1.0, "delta": 1e-6}, "epsilon"),
        ({"epsilon": 0.5, "delta": 2e-7}, {"epsilon": 3.0, "delta": 1e-7}, "delta"),
        ({"epsilon": 0.5, "delta": 1e-9}, {"epsilon": 3.0, "delta": 0.0}, "delta"),
        ({"epsilon": 0.5, "delta": 0.0}, {"epsilon": 3.0, "delta": 0.0}, None),
    ],
)
def test_a_refusal_names_the_coordinate_that_binds(
    requested: dict[str, float], left: dict[str, float], coordinate: str | None
) -> None:
    assert binding(requested, left) == coordinate
    if coordinate is not None:
        assert refusal(requested, left).startswith(f"this run needs {coordinate}=")
