"""Zero-concentrated DP (zCDP) accounting, done by OpenDP's own maps.

Gaussian measurements of one run are composed in zCDP (their rhos add) and the sum is converted
**once** to an (epsilon, delta) guarantee with OpenDP's ``make_zCDP_to_approxDP`` then
``make_fix_delta``. That conversion depends on rho only; :func:`epsilon_of_rho` evaluates it on a
unit-scale OpenDP Gaussian at the input distance whose rho (OpenDP's map, rounded up) is at least
the one asked for, so the epsilon it returns is never below OpenDP's for that rho.

>>> rho = rho_for_epsilon(1.0, 1e-6)
>>> 0.02 < rho < 0.03 and epsilon_of_rho(rho, 1e-6) <= 1.0
True
"""

from __future__ import annotations

import functools
import math
from typing import Any

from cleanroom.dp._opendp import dp
from cleanroom.errors import InternalError


@functools.lru_cache(maxsize=1)
def _unit_gaussian() -> Any:
    return dp.m.make_gaussian(
        dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), 1.0
    )


@functools.lru_cache(maxsize=64)
def _converted(delta: float) -> Any:
    return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(_unit_gaussian()), delta)


def _distance_for(rho: float) -> float:
    """An input distance of the unit Gaussian whose OpenDP rho is at least ``rho``."""
    d_in = math.sqrt(2.0 * rho)
    for _ in range(64):
        if _unit_gaussian().map(d_in) >= rho:
            return d_in
        d_in = math.nextafter(d_in, math.inf)
    raise InternalError("could not evaluate the zCDP conversion; this is a bug")


@functools.lru_cache(maxsize=4096)
def epsilon_of_rho(rho: float, delta: float) -> float:
    """OpenDP's epsilon at ``delta`` for a rho-zCDP mechanism (0 for rho 0)."""
    if rho <= 0:
        return 0.0
    if not 0 < delta < 1:
        raise InternalError("a zCDP conversion needs a delta in (0, 1); this is a bug")
    epsilon, spent_delta = _converted(delta).map(_distance_for(rho))
    if spent_delta > delta:
        raise InternalError("the zCDP conversion exceeds its delta; this is a bug")
    return float(epsilon)


@functools.lru_cache(maxsize=1024)
def rho_for_epsilon(epsilon: float, delta: float) -> float:
    """The largest rho whose OpenDP conversion at ``delta`` stays within ``epsilon``."""
    if epsilon <= 0 or not 0 < delta < 1:
        raise InternalError("a zCDP budget needs epsilon > 0 and delta in (0, 1); this is a bug")
    # Bracket: the textbook conversion epsilon = rho + 2 sqrt(rho ln(1/delta)) is looser than
    # OpenDP's, so (halved, for margin) its rho passes; the upper end grows until it fails.
    log_term = math.log(1.0 / delta)
    lower = (math.sqrt(log_term + epsilon) - math.sqrt(log_term)) ** 2 / 2.0
    upper = 2.0 * epsilon + 1.0
    while epsilon_of_rho(upper, delta) <= epsilon:
        upper *= 2.0

    def passes(rho: float) -> bool:
        return epsilon_of_rho(rho, delta) <= epsilon

    if not passes(lower):
        raise InternalError("could not bracket the zCDP budget; this is a bug")
    rho = float(dp.binary_search(passes, bounds=(lower, upper), T=float))
    if not passes(rho):
        raise InternalError("could not calibrate the zCDP budget; this is a bug")
    return rho
