"""Noise mechanisms built with OpenDP and calibrated from a measurement's sensitivity.

* ``noise="laplace"``: discrete Laplace on integer measurements (counts, money in minor units),
  Laplace on float measurements; pure epsilon-DP with L1 sensitivity ``max_groups * bound``.
* ``noise="gaussian"``: discrete Gaussian on integers, Gaussian on floats; OpenDP gives a zCDP map
  (rho), converted to (epsilon, delta) with ``make_zCDP_to_approxDP`` then ``make_fix_delta``;
  L2 sensitivity ``sqrt(max_groups) * bound``.

Calibration: Laplace uses the closed form ``scale = sensitivity / epsilon``; Gaussian uses
``dp.binary_search`` over OpenDP's own (epsilon, delta) map. Either way the resulting OpenDP
measurement's privacy map is evaluated at the sensitivity and must not exceed the measurement's
share of the loss, or calibration fails loudly. All noise comes from OpenDP's samplers.

>>> from cleanroom.plan import Measurement
>>> sales = Measurement("sales", "sum", 0, 50000, True, 4)
>>> mech = calibrate(sales, epsilon=0.5, delta=0.0, noise="laplace")
>>> mech.mechanism, mech.scale, mech.sensitivity
('discrete_laplace', 400000.0, 200000.0)
>>> len(mech.sample([10, 20, 30]))
3
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cleanroom.dp._opendp import dp
from cleanroom.errors import InternalError, InvalidRequest
from cleanroom.plan import Measurement
from cleanroom.ranges import MAX_NOISE_SCALE

ALPHA = 0.05  # 95% confidence intervals
CONFIDENCE = 0.95

Number = int | float


@dataclass(frozen=True)
class NoiseMechanism:
    """A calibrated additive-noise mechanism for one measurement column (one value per group)."""

    column: str
    mechanism: str  # discrete_laplace | laplace | discrete_gaussian | gaussian
    scale: float
    sensitivity: float  # L1 for Laplace, L2 for Gaussian
    epsilon: float
    delta: float
    integer: bool
    rho: float = 0.0  # > 0: a zCDP mechanism, composed with the run's others (see split)

    def sample(self, values: Sequence[Number]) -> list[Number]:
        """Add fresh noise to each value (one OpenDP invocation on the whole vector)."""
        if not values:
            return []
        if self.scale == 0:  # zero sensitivity: the value cannot depend on any person
            return list(values)
        data: list[Any] = [int(v) for v in values] if self.integer else [float(v) for v in values]
        measurement = _sampler(self.mechanism, self.scale)
        noisy: list[Number] = measurement(data)
        return noisy

    def half_width(self, alpha: float = ALPHA) -> float:
        """Half-width of the (1 - alpha) confidence interval of one noisy value."""
        return noise_half_width(self.mechanism, self.scale, alpha)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "column": self.column,
            "mechanism": self.mechanism,
            "scale": self.scale,
            "sensitivity": self.sensitivity,
        }
        if self.rho > 0:
            out["rho"] = self.rho
        else:
            out["epsilon"] = self.epsilon
        if self.delta > 0:
            out["delta"] = self.delta
        return out


def check_scale(column: str, scale: float) -> None:
    """Refuse (``400``) a noise scale above :data:`~cleanroom.ranges.MAX_NOISE_SCALE`: it
    depends only on the bounds and the loss, never on data, so the run is refused before any
    charge instead of releasing meaningless (or 64-bit saturated) values."""
    if not scale <= MAX_NOISE_SCALE:  # also NaN and infinity
        raise InvalidRequest(
            f"the noise for '{column}' would exceed a scale of {MAX_NOISE_SCALE:g}: request a "
            "larger epsilon (or a smaller delta share), or declare narrower bounds"
        )


def calibrate_zcdp(m: Measurement, *, rho: float) -> NoiseMechanism:
    """The discrete Gaussian (Gaussian for floats) on ``m`` spending at most ``rho`` (zCDP).

    L2 sensitivity ``sqrt(max_groups) * bound``; scale ``sensitivity / sqrt(2 rho)``, nudged up
    until OpenDP's own zCDP map at the sensitivity is within ``rho``."""
    name = "discrete_gaussian" if m.integer else "gaussian"
    sensitivity = float(m.l2_sensitivity)
    scale = _zcdp_scale(name, sensitivity, rho)
    check_scale(m.column, scale)
    return NoiseMechanism(m.column, name, scale, sensitivity, 0.0, 0.0, m.integer, rho)


def zcdp_rho(mechanism: NoiseMechanism) -> float:
    """OpenDP's rho for a zCDP mechanism at its sensitivity (what the accounting sums)."""
    if mechanism.scale == 0:
        return 0.0
    return float(_sampler(mechanism.mechanism, mechanism.scale).map(mechanism.sensitivity))


@functools.lru_cache(maxsize=1024)
def _zcdp_scale(mechanism: str, sensitivity: float, rho: float) -> float:
    if sensitivity == 0:
        return 0.0
    if rho <= 0:
        raise InternalError("a zCDP mechanism needs rho > 0; this is a bug")
    scale = sensitivity / math.sqrt(2.0 * rho)
    for _ in range(64):
        if _sampler(mechanism, scale).map(sensitivity) <= rho:
            return scale
        scale = math.nextafter(scale, math.inf)
    raise InternalError("could not calibrate the zCDP Gaussian mechanism; this is a bug")


def calibrate(m: Measurement, *, epsilon: float, delta: float, noise: str) -> NoiseMechanism:
    """The mechanism for ``m`` under ``noise`` that spends at most (epsilon, delta)."""
    # Every mechanism's scale is at least this: refuse before any search on an absurd one.
    check_scale(m.column, float(m.l2_sensitivity) / epsilon)
    if noise == "gaussian":
        name = "discrete_gaussian" if m.integer else "gaussian"
        sensitivity = float(m.l2_sensitivity)
        scale = _gaussian_scale(name, sensitivity, epsilon, delta)
        spent_delta = delta
    else:
        name = "discrete_laplace" if m.integer else "laplace"
        sensitivity = float(m.l1_sensitivity)
        scale = _laplace_scale(name, sensitivity, epsilon)
        spent_delta = 0.0
    check_scale(m.column, scale)
    return NoiseMechanism(m.column, name, scale, sensitivity, epsilon, spent_delta, m.integer)


def noise_half_width(mechanism: str, scale: float, alpha: float = ALPHA) -> float:
    """OpenDP's accuracy bound: P(|noise| >= half_width) <= alpha."""
    if scale == 0:
        return 0.0
    return _accuracy(mechanism, float(scale), float(alpha))


# Above this scale OpenDP's exact discrete Gaussian accuracy (a tail sum over about ``scale``
# integers) is too slow; the bound below is used instead.
DISCRETE_GAUSSIAN_EXACT_MAX_SCALE = 1_000.0


@functools.lru_cache(maxsize=4096)
def _accuracy(mechanism: str, scale: float, alpha: float) -> float:
    if mechanism == "discrete_gaussian" and scale > DISCRETE_GAUSSIAN_EXACT_MAX_SCALE:
        # Valid and within one unit of exact: with Z = sum_x exp(-x^2 / 2s^2) >= sqrt(2 pi) s
        # (Poisson summation) and each term at most the integral over [x - 1, x],
        # P(X >= t) <= P(Y >= t - 1) for Y ~ N(0, s^2); so the continuous half-width plus one
        # bounds the discrete noise's tail at the same alpha.
        return math.ceil(float(dp.gaussian_scale_to_accuracy(scale, alpha))) + 1.0
    functions = {
        "discrete_laplace": dp.discrete_laplacian_scale_to_accuracy,
        "laplace": dp.laplacian_scale_to_accuracy,
        "discrete_gaussian": dp.discrete_gaussian_scale_to_accuracy,
        "gaussian": dp.gaussian_scale_to_accuracy,
    }
    return float(functions[mechanism](scale, alpha))


def _input_space(mechanism: str) -> tuple[Any, Any]:
    # Integer data with a float distance type: sensitivities such as sqrt(G) * bound need not be
    # integers, and OpenDP supports f64 distances over i64 vectors.
    atom = (
        dp.atom_domain(T="i64")
        if mechanism.startswith("discrete_")
        else dp.atom_domain(T=float, nan=False)
    )
    metric = dp.l2_distance(T=float) if mechanism.endswith("gaussian") else dp.l1_distance(T=float)
    return dp.vector_domain(atom), metric


@functools.lru_cache(maxsize=1024)
def _sampler(mechanism: str, scale: float) -> Any:
    """The OpenDP measurement that draws the noise: pure DP (Laplace) or zCDP (Gaussian)."""
    domain, metric = _input_space(mechanism)
    if mechanism.endswith("gaussian"):
        return dp.m.make_gaussian(domain, metric, scale)
    return dp.m.make_laplace(domain, metric, scale)


@functools.lru_cache(maxsize=1024)
def _measurement(mechanism: str, scale: float, delta: float) -> Any:
    """The OpenDP measurement; Gaussian ones are converted to (epsilon, delta) at ``delta``."""
    domain, metric = _input_space(mechanism)
    if mechanism.endswith("gaussian"):
        zcdp = dp.m.make_gaussian(domain, metric, scale)
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(zcdp), delta)
    return dp.m.make_laplace(domain, metric, scale)


@functools.lru_cache(maxsize=1024)
def _laplace_scale(mechanism: str, sensitivity: float, epsilon: float) -> float:
    if sensitivity == 0:
        return 0.0
    scale = sensitivity / epsilon
    # The closed form can be an ulp too small after OpenDP's conservative rounding: nudge up.
    for _ in range(64):
        if _measurement(mechanism, scale, 0.0).map(sensitivity) <= epsilon:
            return scale
        scale = math.nextafter(scale, math.inf)
    raise InternalError("could not calibrate the Laplace mechanism; this is a bug")


@functools.lru_cache(maxsize=1024)
def _gaussian_scale(mechanism: str, sensitivity: float, epsilon: float, delta: float) -> float:
    if sensitivity == 0:
        return 0.0
    # Bracket the search: the textbook conversion epsilon = rho + 2 * sqrt(rho * ln(1 / delta)),
    # rho = sensitivity^2 / (2 scale^2), is looser than OpenDP's, so its scale always passes.
    log_term = math.log(1.0 / delta)
    rho = (math.sqrt(log_term + epsilon) - math.sqrt(log_term)) ** 2
    upper = 1.01 * sensitivity / math.sqrt(2.0 * rho)
    lower = upper / 1000.0

    def passes(scale: float) -> bool:
        try:
            spent = _measurement(mechanism, scale, delta).map(sensitivity)
        except dp.OpenDPException:  # an overflowing map means "far too little noise"
            return False
        return bool(spent[0] <= epsilon and spent[1] <= delta)

    scale = float(dp.binary_search(passes, bounds=(lower, upper), T=float))
    if not passes(scale):
        raise InternalError("could not calibrate the Gaussian mechanism; this is a bug")
    return scale
