"""Calibration of the noise and threshold mechanisms, checked against OpenDP's own privacy maps,
and the noise's spread checked against the reported scale."""

from __future__ import annotations

import math
import statistics

import pytest

from cleanroom.dp._opendp import dp
from cleanroom.dp.mechanisms import calibrate, noise_half_width
from cleanroom.dp.selection import calibrate_threshold
from cleanroom.plan import Measurement

COUNT_G4 = Measurement("buyers", "person_count", 0, 1, True, 4)
CENTS_G4 = Measurement("sales", "sum", -200, 50_000, True, 4)
FLOAT_G3 = Measurement("basket", "sum", -2.5, 1.0, False, 3)


def _vector_space(integer: bool, l2: bool) -> tuple[object, object]:
    atom = dp.atom_domain(T="i64") if integer else dp.atom_domain(T=float, nan=False)
    metric = dp.l2_distance(T=float) if l2 else dp.l1_distance(T=float)
    return dp.vector_domain(atom), metric


@pytest.mark.parametrize("m", [COUNT_G4, CENTS_G4, FLOAT_G3])
@pytest.mark.parametrize("epsilon", [0.01, 0.3, 1.0, 7.0])
def test_laplace_scale_is_sensitivity_over_epsilon_and_opendp_agrees(
    m: Measurement, epsilon: float
) -> None:
    mech = calibrate(m, epsilon=epsilon, delta=0.0, noise="laplace")
    assert mech.mechanism == ("discrete_laplace" if m.integer else "laplace")
    assert mech.sensitivity == m.max_groups * max(abs(m.lower), abs(m.upper))
    assert mech.scale == pytest.approx(mech.sensitivity / epsilon, rel=1e-12)
    independent = dp.m.make_laplace(*_vector_space(m.integer, l2=False), mech.scale)
    assert independent.map(mech.sensitivity) <= epsilon


@pytest.mark.parametrize("m", [COUNT_G4, CENTS_G4, FLOAT_G3])
@pytest.mark.parametrize(("epsilon", "delta"), [(0.1, 1e-6), (1.0, 1e-9), (4.0, 1e-5)])
def test_gaussian_is_calibrated_through_zcdp_to_approximate_dp(
    m: Measurement, epsilon: float, delta: float
) -> None:
    mech = calibrate(m, epsilon=epsilon, delta=delta, noise="gaussian")
    assert mech.mechanism == ("discrete_gaussian" if m.integer else "gaussian")
    assert mech.sensitivity == pytest.approx(math.sqrt(m.max_groups) * m.bound)
    zcdp = dp.m.make_gaussian(*_vector_space(m.integer, l2=True), mech.scale)
    approx = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(zcdp), delta)
    spent_epsilon, spent_delta = approx.map(mech.sensitivity)
    assert spent_delta <= delta
    assert epsilon * 0.999 <= spent_epsilon <= epsilon  # tight: no noise wasted
    rho = zcdp.map(mech.sensitivity)
    assert rho == pytest.approx(mech.sensitivity**2 / (2 * mech.scale**2), rel=1e-6)


@pytest.mark.parametrize(("max_groups", "epsilon", "delta"), [(1, 1.0, 1e-6), (4, 0.5, 1e-7)])
def test_threshold_is_the_smallest_one_within_the_delta_share(
    max_groups: int, epsilon: float, delta: float
) -> None:
    m = Measurement("buyers", "person_count", 0, 1, True, max_groups)
    mech = calibrate_threshold(m, epsilon=epsilon, delta=delta)
    assert mech.scale == pytest.approx(max_groups / epsilon, rel=1e-12)
    domain = dp.map_domain(dp.atom_domain(T="u32"), dp.atom_domain(T="i64"))
    metric = dp.l01inf_distance(dp.absolute_distance(T="i64"))
    d_in = (max_groups, max_groups, 1)
    at = dp.m.make_laplace_threshold(domain, metric, scale=mech.scale, threshold=mech.threshold)
    below = dp.m.make_laplace_threshold(
        domain, metric, scale=mech.scale, threshold=mech.threshold - 1
    )
    assert at.map(d_in)[0] <= epsilon
    assert at.map(d_in)[1] <= delta < below.map(d_in)[1]


def test_half_widths_come_from_opendp_accuracy_functions() -> None:
    assert noise_half_width("laplace", 10.0) == pytest.approx(10.0 * math.log(20.0))
    assert noise_half_width("discrete_laplace", 10.0) == dp.discrete_laplacian_scale_to_accuracy(
        10.0, 0.05
    )
    assert noise_half_width("gaussian", 10.0) == pytest.approx(19.5996, rel=1e-4)
    assert noise_half_width("discrete_gaussian", 10.0) == 21.0
    assert noise_half_width("laplace", 0.0) == 0.0


def _expected_sd(mechanism: str, scale: float) -> float:
    if mechanism == "discrete_laplace":
        q = math.exp(-1.0 / scale)
        return math.sqrt(2 * q) / (1 - q)
    if mechanism == "laplace":
        return math.sqrt(2.0) * scale
    return scale  # Gaussian; the discrete Gaussian's variance is within 1e-10 of scale^2 here


@pytest.mark.parametrize("m", [CENTS_G4, FLOAT_G3, COUNT_G4])
@pytest.mark.parametrize("noise", ["laplace", "gaussian"])
def test_noise_spread_matches_the_reported_scale(m: Measurement, noise: str) -> None:
    """20,000 draws: the sample SD's relative standard error is at most sqrt(5 / (4 n)) <= 0.8%
    (Laplace kurtosis 6),
    so a 6% tolerance is at least 7.5 standard errors: a false failure is far below one in a
    million. The mean is checked at 10 standard errors."""
    mech = calibrate(m, epsilon=1.0, delta=1e-6 if noise == "gaussian" else 0.0, noise=noise)
    n = 20_000
    noise_draws = [float(v) for v in mech.sample([0] * n)]
    expected = _expected_sd(mech.mechanism, mech.scale)
    assert statistics.pstdev(noise_draws) == pytest.approx(expected, rel=0.06)
    assert abs(statistics.fmean(noise_draws)) <= 10 * expected / math.sqrt(n)


def test_mean_absolute_laplace_noise_matches_the_scale_with_a_chernoff_bound() -> None:
    """|Laplace(b)| is Exponential(b). Chernoff: P[mean of n >= (1 + t) b] <= exp(-n (t - ln(1 +
    t))) and P[mean <= (1 - t) b] <= exp(-n (-t - ln(1 - t))); n = 20,000 and t = 0.05 give
    both below 1e-9."""
    mech = calibrate(FLOAT_G3, epsilon=0.5, delta=0.0, noise="laplace")
    n, t = 20_000, 0.05
    assert math.exp(-n * (t - math.log1p(t))) < 1e-9
    assert math.exp(-n * (-t - math.log1p(-t))) < 1e-9
    mean_abs = statistics.fmean(abs(float(v)) for v in mech.sample([0.0] * n))
    assert (1 - t) * mech.scale <= mean_abs <= (1 + t) * mech.scale
