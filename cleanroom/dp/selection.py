"""Which groups a release may show.

* **Public keys** (every group key has a public domain): the candidates are exactly the cross
  product of the domains, whatever the data holds; absent groups are zero-filled and noised like
  the others, groups outside the domains are dropped. Nothing about which groups exist leaks.
* **Otherwise**: OpenDP's Laplace threshold (``make_laplace_threshold``, a discrete-Laplace noisy
  count per group, released only when it reaches the threshold) on the person-count measurement.
  It is calibrated to the measurement's epsilon share (scale = L1 / epsilon, L1 = G * bound) and
  its delta share (the smallest threshold whose privacy map stays within delta for a person who
  touches up to G groups, each by at most ``bound``).

>>> from cleanroom.plan import Measurement
>>> buyers = Measurement("buyers", "person_count", 0, 1, True, 4)
>>> mech = calibrate_threshold(buyers, epsilon=0.5, delta=1e-6)
>>> mech.scale, mech.threshold
(8.0, 117)
>>> sorted(mech.select([1000, 1, 0]))  # indices of the groups that pass
[0]
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cleanroom.dp._opendp import dp
from cleanroom.dp.mechanisms import ALPHA, check_scale, noise_half_width
from cleanroom.errors import InternalError, InvalidRequest
from cleanroom.plan import Measurement, ReleasePlan

# A public domain product larger than this would be a report nobody can read, and memory we do
# not want to spend: refuse before touching data.
MAX_PUBLIC_GROUPS = 1_000_000

KeyValue = str | int | float | bool | None


@dataclass(frozen=True)
class ThresholdMechanism:
    """A calibrated Laplace threshold over the person count of each candidate group."""

    column: str
    scale: float
    threshold: int
    max_groups: int  # l0: groups one person may touch
    bound: int  # l-infinity: how much one person changes one group's count
    epsilon: float
    delta: float
    mechanism: str = "discrete_laplace_threshold"

    def select(self, counts: Sequence[int]) -> dict[int, int]:
        """Noisy counts of the candidates that pass, by candidate index."""
        measurement = _threshold_measurement(self.scale, self.threshold)
        released: dict[int, int] = measurement({i: int(c) for i, c in enumerate(counts)})
        return released

    def half_width(self, alpha: float = ALPHA) -> float:
        return noise_half_width("discrete_laplace", self.scale, alpha)

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "mechanism": self.mechanism,
            "scale": self.scale,
            "sensitivity": float(self.max_groups * self.bound),
            "epsilon": self.epsilon,
            "delta": self.delta,
            "threshold": self.threshold,
        }


def calibrate_threshold(m: Measurement, *, epsilon: float, delta: float) -> ThresholdMechanism:
    """The Laplace threshold on ``m`` (a person count) spending at most (epsilon, delta)."""
    bound = max(1, math.ceil(m.bound))
    check_scale(m.column, m.max_groups * bound / epsilon)
    scale, threshold = _calibrate(m.max_groups, bound, epsilon, delta)
    return ThresholdMechanism(m.column, scale, threshold, m.max_groups, bound, epsilon, delta)


@functools.lru_cache(maxsize=256)
def _threshold_measurement(scale: float, threshold: int) -> Any:
    domain = dp.map_domain(dp.atom_domain(T="u32"), dp.atom_domain(T="i64"))
    metric = dp.l01inf_distance(dp.absolute_distance(T="i64"))
    return dp.m.make_laplace_threshold(domain, metric, scale=scale, threshold=threshold)


@functools.lru_cache(maxsize=256)
def _calibrate(max_groups: int, bound: int, epsilon: float, delta: float) -> tuple[float, int]:
    d_in = (max_groups, max_groups * bound, bound)
    probe = 2**30  # epsilon does not depend on the threshold; any large one will do

    scale = d_in[1] / epsilon
    for _ in range(64):  # the closed form may be an ulp too small after OpenDP's rounding
        if _threshold_measurement(scale, probe).map(d_in)[0] <= epsilon:
            break
        scale = math.nextafter(scale, math.inf)
    else:
        raise InternalError("could not calibrate the partition-selection scale; this is a bug")

    def passes(threshold: float) -> bool:
        return bool(_threshold_measurement(scale, int(threshold)).map(d_in)[1] <= delta)

    if not passes(probe):
        raise InvalidRequest(
            "the delta for partition selection is too small to calibrate a threshold; "
            "request a larger delta (for example 1e-9 or more)"
        )
    threshold = int(dp.binary_search(passes, bounds=(bound, probe), T=int))
    spent_epsilon, spent_delta = _threshold_measurement(scale, threshold).map(d_in)
    if spent_epsilon > epsilon or spent_delta > delta:
        raise InternalError("partition selection exceeds its loss share; this is a bug")
    return scale, threshold


def public_candidates(plan: ReleasePlan) -> list[tuple[KeyValue, ...]]:
    """The cross product of the group keys' public domains, in declaration order."""
    public_candidate_count(plan)
    domains: list[tuple[KeyValue, ...]] = []
    for key in plan.group_keys:
        if key.public_domain is None:
            raise InternalError("public_candidates on a non-public key; this is a bug")
        domains.append(key.public_domain)
    return list(itertools.product(*domains))


def public_candidate_count(plan: ReleasePlan) -> int:
    """How many groups a public-key release has; refuses products too large to release."""
    size = math.prod(len(k.public_domain or ()) for k in plan.group_keys)
    if size > MAX_PUBLIC_GROUPS:
        raise InvalidRequest(
            f"the group keys' declared values make {size} groups, more than the "
            f"{MAX_PUBLIC_GROUPS} a release may have; group by fewer or coarser dimensions"
        )
    return size
