"""zCDP accounting checked numerically against OpenDP's own composition and conversion maps."""

from __future__ import annotations

import math

import pytest

from cleanroom.dp import PrivacyLoss
from cleanroom.dp._opendp import dp
from cleanroom.dp.accounting import epsilon_of_rho, rho_for_epsilon
from cleanroom.dp.calibration import ReleaseCalibration, calibrate_release
from cleanroom.plan import Col, GroupKey, Measurement, Output, ReleasePlan

COUNT4 = Measurement("buyers", "person_count", 0, 1, True, 4)
USERS4 = Measurement("users", "person_count", 0, 1, True, 4)
SALES4 = Measurement("sales", "sum", 0, 30000, True, 4)
ORDERS4 = Measurement("orders", "row_count", 0, 30, True, 4)
SPEND1 = Measurement("spend", "sum", 0.0, 2.5, False, 1)


def _plan(*measurements: Measurement, public: bool = True) -> ReleasePlan:
    domain = ("c1", "c2", "c3", "c4") if public else None
    return ReleasePlan(
        group_keys=(GroupKey("campaign", domain),),
        measurements=measurements,
        person_count="buyers",
        outputs=tuple(Output(m.column, Col(m.column)) for m in measurements),
    )


def _opendp_total(calibration: ReleaseCalibration) -> tuple[float, float]:
    """The release's (epsilon, delta) recomputed from OpenDP: the Gaussians as ONE OpenDP
    composition (each normalized to input distance 1 on a shared domain, so its map is the real
    mechanism's), converted by OpenDP at the pool's delta; Laplace and threshold parts by their
    own OpenDP maps; basic composition of the three."""
    epsilon = delta = 0.0
    gaussians = [m for m in calibration.mechanisms if m.rho > 0]
    if gaussians:
        pool = calibration.split.pool
        assert pool is not None
        space = (dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T=float))
        parts = [dp.m.make_gaussian(*space, m.scale / m.sensitivity) for m in gaussians]
        composed = dp.c.make_composition(parts)
        converted = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(composed), pool.delta)
        e, d = converted.map(1.0)
        epsilon += e
        delta += d
    for m in calibration.mechanisms:
        if m.rho == 0 and m.scale > 0:
            space = (dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T=float))
            if not m.integer:
                space = (dp.vector_domain(dp.atom_domain(T=float, nan=False)), space[1])
            epsilon += dp.m.make_laplace(*space, m.scale).map(m.sensitivity)
    threshold = calibration.threshold
    if threshold is not None:
        domain = dp.map_domain(dp.atom_domain(T="u32"), dp.atom_domain(T="i64"))
        metric = dp.l01inf_distance(dp.absolute_distance(T="i64"))
        t = dp.m.make_laplace_threshold(
            domain, metric, scale=threshold.scale, threshold=threshold.threshold
        )
        e, d = t.map(
            (threshold.max_groups, threshold.max_groups * threshold.bound, threshold.bound)
        )
        epsilon += e
        delta += d
    return epsilon, delta


@pytest.mark.parametrize(
    "measurements",
    [(COUNT4, SALES4), (COUNT4, USERS4, SALES4), (COUNT4, ORDERS4, SALES4, SPEND1)],
)
@pytest.mark.parametrize("noise", ["auto", "gaussian"])
@pytest.mark.parametrize("public", [True, False])
@pytest.mark.parametrize("loss", [PrivacyLoss(1.0, 1e-6), PrivacyLoss(3.0, 1e-7)])
def test_charged_loss_bounds_what_opendp_says_the_mechanisms_spend(
    measurements: tuple[Measurement, ...], noise: str, public: bool, loss: PrivacyLoss
) -> None:
    calibration = calibrate_release(_plan(*measurements, public=public), loss, noise=noise)
    charged = calibration.split.total
    assert charged.epsilon <= loss.epsilon * (1 + 1e-12)
    assert charged.delta <= loss.delta * (1 + 1e-12)
    epsilon, delta = _opendp_total(calibration)
    assert epsilon <= charged.epsilon * (1 + 1e-12)
    assert delta <= charged.delta * (1 + 1e-12)
    if noise == "gaussian":
        assert calibration.split.pool is not None
        # Tight: the one conversion uses (nearly) all of the pool's epsilon.
        assert epsilon >= 0.999 * charged.epsilon


def test_zcdp_conversion_matches_opendp_and_inverts() -> None:
    rho = 0.02
    gaussian = dp.m.make_gaussian(
        dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), 1.0
    )
    direct = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian), 1e-6).map(math.sqrt(2 * rho))
    assert epsilon_of_rho(rho, 1e-6) == pytest.approx(direct[0], rel=1e-12)
    assert epsilon_of_rho(rho, 1e-6) >= direct[0]
    budget = rho_for_epsilon(1.0, 1e-6)
    assert epsilon_of_rho(budget, 1e-6) <= 1.0
    assert epsilon_of_rho(budget * 1.001, 1e-6) > 1.0  # the largest rho that fits, within 0.1%


def test_pure_dp_runs_use_laplace_and_charge_no_delta() -> None:
    calibration = calibrate_release(_plan(COUNT4, SALES4), PrivacyLoss(1.0), noise="auto")
    assert {m.mechanism for m in calibration.mechanisms} == {"discrete_laplace"}
    assert calibration.split.pool is None
    assert calibration.split.total.delta == 0.0


def test_auto_keeps_the_assignment_with_the_smallest_half_widths_and_says_why() -> None:
    plan = _plan(COUNT4, USERS4, ORDERS4, SALES4)
    loss = PrivacyLoss(1.0, 1e-6)
    chosen = calibrate_release(plan, loss, noise="auto")
    for forced in ("laplace", "gaussian"):
        assert chosen.score() <= calibrate_release(plan, loss, noise=forced).score() + 1e-12
    for entry in chosen.mechanism_dicts():
        choice = entry["choice"]
        assert "smallest half-widths" in choice["reason"]
        assert choice["half_width"] == entry["half_width"]
        assert choice["alternative"]["mechanism"] != entry["mechanism"]
    # With many measurements touching 4 groups each, one zCDP conversion beats splitting epsilon.
    assert any(m.mechanism == "discrete_gaussian" for m in chosen.mechanisms)
