"""Privacy-loss values, budget arithmetic and the split of a run's loss."""

from __future__ import annotations

import math

import pytest

from cleanroom.dp import PrivacyLoss, compose, split_loss
from cleanroom.errors import InvalidRequest
from tests.dp.dp_plans import BUYERS, SALES, SPEND, attribution_plan


@pytest.mark.parametrize(
    ("epsilon", "delta", "message"),
    [
        (math.nan, 0.0, "epsilon must be a finite number"),
        (math.inf, 0.0, "epsilon must be a finite number"),
        (-1.0, 0.0, "epsilon must be greater than zero"),
        (0.0, 0.0, "epsilon must be greater than zero"),
        (1.0, math.nan, "delta must be a finite number"),
        (1.0, -1e-9, "delta must be at least 0 and less than 1"),
        (1.0, 1.0, "delta must be at least 0 and less than 1"),
        (True, 0.0, "epsilon must be a number"),
        ("1", 0.0, "epsilon must be a number"),
    ],
)
def test_privacy_loss_rejects_bad_values(epsilon: object, delta: object, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        PrivacyLoss(epsilon, delta)  # type: ignore[arg-type]


def test_privacy_loss_composes_by_summing_and_serializes() -> None:
    total = PrivacyLoss(0.5, 1e-7) + PrivacyLoss(1, 2e-7)
    assert total.epsilon == 1.5
    assert total.delta == pytest.approx(3e-7)
    assert isinstance(PrivacyLoss(1).epsilon, float)
    assert PrivacyLoss(2.0, 1e-6).to_dict() == {"epsilon": 2.0, "delta": 1e-6}
    assert compose([]) == (0.0, 0.0)
    assert compose([PrivacyLoss(0.1)] * 10) == (1.0, 0.0)


def _assert_sums_to(split_total: PrivacyLoss, loss: PrivacyLoss) -> None:
    assert split_total.epsilon == pytest.approx(loss.epsilon, rel=1e-12)
    assert split_total.delta == pytest.approx(loss.delta, rel=1e-12)
    assert split_total.epsilon <= loss.epsilon * (1 + 1e-12)


@pytest.mark.parametrize("measurements", [(BUYERS,), (BUYERS, SALES), (BUYERS, SALES, SPEND)])
@pytest.mark.parametrize("noise", ["laplace", "gaussian"])
@pytest.mark.parametrize("public", [True, False])
def test_split_sums_to_the_requested_loss(
    measurements: tuple[object, ...], noise: str, public: bool
) -> None:
    plan = attribution_plan(("c1",) if public else None, measurements=measurements)  # type: ignore[arg-type]
    loss = PrivacyLoss(0.7, 3e-7)
    split = split_loss(plan, loss, noise=noise)
    assert [p.column for p in split.parts] == [m.column for m in plan.measurements]
    # Epsilon in proportion to the weights: 1 per count, 3 per sum.
    weights = {"buyers": 1.0, "sales": 3.0, "spend": 3.0}
    total_weight = sum(weights[p.column] for p in split.parts)
    for p in split.parts:
        assert p.weight == weights[p.column]
        assert p.epsilon == pytest.approx(loss.epsilon * p.weight / total_weight, rel=1e-12)
    if public and noise == "laplace":
        _assert_sums_to(split.total, PrivacyLoss(0.7, 0.0))  # no mechanism uses delta: not charged
    else:
        _assert_sums_to(split.total, loss)
    roles = {p.column: p.role for p in split.parts}
    assert roles["buyers"] == ("aggregate" if public else "partition_selection")
    assert all(p.delta == 0 for p in split.parts if p.role == "aggregate")
    if noise == "gaussian" and len(measurements) > (0 if public else 1):
        assert split.pool is not None
        assert all(p.rho > 0 for p in split.parts if p.role == "aggregate")
        assert split.pool.epsilon_used <= split.pool.epsilon


def test_split_with_a_delta_granted_for_selection() -> None:
    plan = attribution_plan(None)
    split = split_loss(plan, PrivacyLoss(1.0), delta_budget_for_selection=1e-7)
    assert split.part("buyers").delta == 1e-7
    assert split.total == PrivacyLoss(1.0, 1e-7)
    gaussian = split_loss(
        plan, PrivacyLoss(1.0, 2e-7), noise="gaussian", delta_budget_for_selection=1e-7
    )
    assert gaussian.part("buyers").delta == 1e-7
    assert gaussian.pool is not None
    assert gaussian.pool.delta == 2e-7
    assert gaussian.total == PrivacyLoss(1.0, 3e-7)
    # Keys with public domains need no selection: the granted delta is neither used nor charged.
    public = split_loss(attribution_plan(), PrivacyLoss(1.0), delta_budget_for_selection=1e-7)
    assert public.total == PrivacyLoss(1.0)


def test_split_refuses_when_a_mechanism_needs_delta_and_gets_none() -> None:
    with pytest.raises(InvalidRequest, match="no public domain"):
        split_loss(attribution_plan(None), PrivacyLoss(1.0))
    with pytest.raises(InvalidRequest, match="Gaussian noise needs a delta"):
        split_loss(attribution_plan(), PrivacyLoss(1.0), noise="gaussian")
    with pytest.raises(InvalidRequest, match="noise must be one of"):
        split_loss(attribution_plan(), PrivacyLoss(1.0), noise="uniform")
    with pytest.raises(InvalidRequest, match="partition selection must be a number"):
        split_loss(attribution_plan(None), PrivacyLoss(1.0), delta_budget_for_selection=2.0)


def test_split_to_dict_is_shown_in_reports() -> None:
    data = split_loss(attribution_plan(None), PrivacyLoss(1.0, 1e-6)).to_dict()
    assert data["requested"] == {"epsilon": 1.0, "delta": 1e-6}
    assert data["total"] == {"epsilon": 1.0, "delta": 1e-6}
    assert data["parts"][0] == {
        "column": "buyers",
        "role": "partition_selection",
        "weight": 1.0,
        "composition": "approx",
        "epsilon": 0.25,
        "delta": 1e-6,
    }
    assert "epsilon divided by weight" in data["rule"]


def test_weights_by_output_name_and_refused_for_unknown_names() -> None:
    plan = attribution_plan(measurements=(BUYERS, SALES))
    split = split_loss(plan, PrivacyLoss(1.0), weights={"buyers": 4.0, "sales": 1.0})
    assert split.part("buyers").epsilon == pytest.approx(0.8)
    with pytest.raises(InvalidRequest, match="not a measured output"):
        split_loss(plan, PrivacyLoss(1.0), weights={"roas": 1.0})
