"""DP-estimated per-person upper bounds for a SUM output (the ``-- estimate:`` header).

A template may write ``-- estimate: sales 0.99 0.1``: the output ``sales`` (a SUM measurement as
is, with outer per-person bounds ``[lo, hi]`` declared or derived) is released with its upper
bound set to a differentially private estimate of the 0.99 quantile of its per-(person, group)
partials, spending a tenth of the run's epsilon on that estimate. The steps:

1. **A public candidate grid** (:func:`candidate_grid`): ``hi`` and its halvings down to a floor
   of ``hi / 2**20`` (or ``lo`` when ``lo > 0``), whole numbers when the bounds are. It depends on
   the declared bounds only, never on the data.
2. **Stage 1** reads the partials (clamped to ``[lo, hi]``, after the per-person group cap) and
   spends :data:`QUANTILE_FRACTION` of the share on OpenDP's private quantile over the grid
   (``make_private_quantile``: the exponential mechanism on Smith's quantile score, pure DP). One
   person contributes at most ``max_groups`` partials, so the input distance is ``max_groups``
   under the symmetric distance. The rest of the share releases a noisy count of the partials
   above the estimate (discrete Laplace, sensitivity ``max_groups``): how many contributions the
   estimate clamps.
3. **Stage 2** releases as usual with the upper bound set to the estimate (post-processing of a
   DP output: the sensitivity is public once the estimate is), with the rest of the run's loss.

The estimate and the clamped count compose with the release by basic composition: the run
spends ``share * epsilon`` here and ``(1 - share) * epsilon`` (and the delta) on the release.
The release's intervals cover its noise at the estimated bound only, not the bias of clamping
contributions above it (docs/privacy.md).

>>> candidate_grid(0.0, 20000.0, integer=True)[:4], len(candidate_grid(0.0, 20000.0, True))
([1, 2, 3, 5], 16)
>>> candidate_grid(100.0, 1600.0, integer=False)
[100.0, 200.0, 400.0, 800.0, 1600.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from cleanroom.dp._opendp import dp
from cleanroom.dp.candidates import json_value
from cleanroom.dp.mechanisms import calibrate
from cleanroom.errors import InternalError
from cleanroom.plan import Col, Measurement, ReleasePlan
from cleanroom.specs import EstimateSpec

GRID_HALVINGS = 20  # the grid's floor is hi / 2**20 (when lo is not above it)
QUANTILE_FRACTION = 0.8  # of an estimate's share: the quantile; the rest, the clamped count
# Stage 1 reads the partials with the DuckDB SQL; the Spark engine refuses the header (its code:
# ``unsupported_on_spark``, at submission and at run).
ESTIMATE_ON_SPARK = (
    "estimated bounds ('-- estimate:') cannot run on the Spark engine; declare the output's "
    "bounds with '-- bounds:' instead"
)
ESTIMATE_METHOD = (
    "OpenDP's private quantile (exponential mechanism on the quantile score, pure DP) over a "
    "public grid of the outer upper bound and its halvings, on each person's per-group partials "
    "clamped to the outer bounds after the group cap (input distance: max_groups); a noisy "
    "count (discrete Laplace) of the partials above the estimate"
)


def candidate_grid(lower: float, upper: float, integer: bool) -> list[float | int]:
    """The public candidates for an upper bound in ``[lower, upper]``, ascending, ``upper``
    last: ``upper / 2**k`` for k = 0..20 down to ``lower`` when ``lower > 0``; rounded up to whole
    numbers (deduplicated) for an integer measurement."""
    if not (math.isfinite(lower) and math.isfinite(upper)) or upper <= 0 or lower >= upper:
        raise InternalError("an estimated bound needs outer bounds lo < hi with hi > 0")
    floor = lower if lower > 0 else upper / 2**GRID_HALVINGS
    values: set[float] = {upper}
    value = upper
    for _ in range(GRID_HALVINGS):
        value /= 2
        if value < floor:
            break
        values.add(value)
    if lower > 0:
        values.add(lower)
    if integer:
        return sorted({math.ceil(v) for v in values if math.ceil(v) <= upper})
    return sorted(values)


def estimate_problem(spec: EstimateSpec, plan: ReleasePlan) -> str | None:
    """Why the plan's outputs cannot carry ``spec``, or None: the output must be a SUM
    measurement as is whose outer bounds have ``hi > 0`` and ``lo < hi``."""
    m = estimated_measurement(spec, plan)
    if m is None:
        return (
            f"estimate names '{spec.output}', which is not an output that is a SUM as is "
            "(e.g. 'SUM(amount) AS sales')"
        )
    if m.column != spec.output:
        # The same SUM released twice is one measurement, bounded once (by its first output).
        return (
            f"estimate '{spec.output}' releases the same SUM as output '{m.column}': name that "
            "output in the estimate line"
        )
    if m.upper <= 0 or m.lower >= m.upper:
        return f"estimate '{spec.output}' needs outer bounds lo < hi with hi > 0"
    return None


def estimated_measurement(spec: EstimateSpec, plan: ReleasePlan) -> Measurement | None:
    """The SUM measurement ``spec.output`` releases as is, or None."""
    output = next((o for o in plan.outputs if o.name == spec.output), None)
    if output is None or output.is_group_key or not isinstance(output.expr, Col):
        return None
    m = next((x for x in plan.measurements if x.column == output.expr.name), None)
    return m if m is not None and m.kind == "sum" else None


@dataclass(frozen=True)
class EstimatedBound:
    """What stage 1 released for one output (all of it DP: safe to report)."""

    output: str
    measurement: str
    outer: tuple[float, float]
    candidates: tuple[float | int, ...]
    quantile: float
    share: float
    epsilon: float  # the whole share: quantile plus clamped count
    quantile_epsilon: float
    estimate: float | int  # the upper bound stage 2 uses
    clamped_count: int  # noisy count of partials above the estimate (clipped at 0)
    clamped_scale: float
    clamped_half_width: float
    max_groups: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "measurement": self.measurement,
            "outer_bounds": list(self.outer),
            "bounds": [self.outer[0], self.estimate],
            "estimate": self.estimate,
            "candidates": list(self.candidates),
            "quantile": self.quantile,
            "share": self.share,
            "epsilon": self.epsilon,
            "quantile_epsilon": self.quantile_epsilon,
            "clamped_partials": {
                "noisy_count": self.clamped_count,
                "mechanism": "discrete_laplace",
                "scale": self.clamped_scale,
                "half_width_95": self.clamped_half_width,
                "epsilon": self.epsilon - self.quantile_epsilon,
                "meaning": "per-(person, group) partials above the estimate, clamped to it",
            },
            "max_groups": self.max_groups,
            "method": ESTIMATE_METHOD,
            "interval_note": (
                "the output's interval covers DP noise at the estimated bound only, not the bias "
                "of clamping the contributions above it"
            ),
        }


def estimate_bound(
    spec: EstimateSpec,
    m: Measurement,
    partials: Sequence[float | int],
    epsilon: float,
) -> EstimatedBound:
    """Stage 1 for one output: spend ``epsilon`` (the share of the run's epsilon) on the private
    quantile of ``partials`` over the grid and a noisy count of the partials above it."""
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise InternalError("an estimated bound needs a positive epsilon")
    grid = candidate_grid(m.lower, m.upper, m.integer)
    quantile_epsilon = epsilon * QUANTILE_FRACTION
    values = [min(max(float(v), m.lower), m.upper) for v in partials]
    chosen = _private_quantile([float(c) for c in grid], spec.quantile, quantile_epsilon, m)(values)
    estimate: float | int = round(chosen) if m.integer else float(chosen)
    count_m = Measurement("cr_clamped", "row_count", 0, 1, True, m.max_groups)
    counter = calibrate(count_m, epsilon=epsilon - quantile_epsilon, delta=0.0, noise="laplace")
    above = sum(1 for v in values if v > estimate)
    noisy = max(0, int(counter.sample([above])[0]))
    return EstimatedBound(
        output=spec.output,
        measurement=m.column,
        outer=(m.lower, m.upper),
        candidates=tuple(grid),
        quantile=spec.quantile,
        share=spec.share,
        epsilon=epsilon,
        quantile_epsilon=quantile_epsilon,
        estimate=estimate,
        clamped_count=noisy,
        clamped_scale=counter.scale,
        clamped_half_width=counter.half_width(),
        max_groups=m.max_groups,
    )


def _private_quantile(candidates: list[float], alpha: float, epsilon: float, m: Measurement) -> Any:
    domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))

    def make(scale: float) -> Any:
        return dp.m.make_private_quantile(
            domain, dp.symmetric_distance(), dp.max_divergence(), candidates, alpha, scale
        )

    scale = dp.binary_search_param(make, d_in=m.max_groups, d_out=epsilon)
    measurement = make(scale)
    if measurement.map(m.max_groups) > epsilon:  # binary search returns a passing scale
        raise InternalError("the quantile's privacy map exceeds its share; this is a bug")
    return measurement


def partials_in_release(plan: ReleasePlan, table: pa.Table, column: str) -> list[float | int]:
    """The partials of ``column`` in groups the release can show: a group whose value of a key
    with a public domain is outside that domain is left out, as the release leaves it out
    (cleanroom.dp.candidates). So each person has at most ``max_groups`` partials here: the
    group cap keeps at most ``max_groups_per_user`` groups per person, and the plan's smaller
    ``max_groups`` (the number of key combinations) only counts groups inside the domains."""
    domains = [
        None if k.public_domain is None else {json_value(v) for v in k.public_domain}
        for k in plan.group_keys
    ]
    keys = [[json_value(v) for v in table.column(k.name).to_pylist()] for k in plan.group_keys]
    values = table.column(column).to_pylist()
    rows = zip(*keys, strict=True) if keys else iter([()] * len(values))
    return [
        0 if value is None else value
        for value, group in zip(values, rows, strict=True)
        if all(d is None or v in d for d, v in zip(domains, group, strict=True))
    ]


def check_estimated_plan(plan: ReleasePlan, estimates: Sequence[EstimatedBound]) -> None:
    """Stage 2's plan must release each estimated measurement with its upper bound at the
    estimate (at most the outer bound): what the report says is what the release used."""
    for e in estimates:
        m = next((x for x in plan.measurements if x.column == e.measurement), None)
        if m is None or m.upper != float(e.estimate) or m.lower != e.outer[0]:
            raise InternalError("the release does not use the estimated bound; this is a bug")


def bounds_with_estimates(
    declared: Mapping[str, tuple[float, float]], estimates: Sequence[EstimatedBound]
) -> dict[str, tuple[float, float]]:
    """The declared bounds with each estimated output's upper bound set to its estimate."""
    out = dict(declared)
    for e in estimates:
        out[e.output] = (e.outer[0], float(e.estimate))
    return out
