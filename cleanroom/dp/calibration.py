"""Everything about a release that does not depend on data: the loss split, each measurement's
calibrated mechanism, the partition-selection threshold and the expected half-widths.

:func:`calibrate_release` is shared by :func:`~cleanroom.dp.release` and
:func:`~cleanroom.dp.preview`, so a preview's numbers are exactly those of the release that
follows it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cleanroom.dp.loss import PrivacyLoss
from cleanroom.dp.mechanisms import (
    ALPHA,
    CONFIDENCE,
    NoiseMechanism,
    calibrate,
    calibrate_zcdp,
    noise_half_width,
    zcdp_rho,
)
from cleanroom.dp.selection import ThresholdMechanism, calibrate_threshold, public_candidate_count
from cleanroom.dp.split import LossSplit, check_noise, split_loss
from cleanroom.errors import InternalError
from cleanroom.plan import Col, Measurement, ReleasePlan


@dataclass(frozen=True)
class ReleaseCalibration:
    plan: ReleasePlan
    noise: str
    split: LossSplit
    mechanisms: tuple[NoiseMechanism, ...]  # every measurement noised additively
    threshold: ThresholdMechanism | None  # the person count's mechanism when keys are not public
    # Per aggregate column: why its mechanism was chosen (the alternative's half-width).
    choices: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    def measurement(self, column: str) -> Measurement:
        for m in self.plan.measurements:
            if m.column == column:
                return m
        raise InternalError()

    def half_width(self, column: str, alpha: float = ALPHA) -> float:
        """(1 - alpha) half-width of one noisy value of measurement ``column``."""
        if self.threshold is not None and column == self.threshold.column:
            return self.threshold.half_width(alpha)
        for mech in self.mechanisms:
            if mech.column == column:
                return mech.half_width(alpha)
        raise InternalError()

    def measurement_half_widths(self) -> dict[str, float]:
        """95% half-width per measurement column (including an added person count)."""
        return {m.column: self.half_width(m.column) for m in self.plan.measurements}

    def output_half_widths(self) -> dict[str, float]:
        """95% half-width per output column that is a measurement as is (report ``half_widths``)."""
        measured = {m.column for m in self.plan.measurements}
        return {
            o.name: self.half_width(o.expr.name)
            for o in self.plan.outputs
            if isinstance(o.expr, Col) and o.expr.name in measured and not o.is_group_key
        }

    def mechanism_dicts(self) -> list[dict[str, Any]]:
        """The report's ``mechanisms``: one entry per measurement, in the plan's order, with the
        95% half-width and, for aggregates, why the mechanism was chosen."""
        out = []
        for m in self.plan.measurements:
            if self.threshold is not None and m.column == self.threshold.column:
                entry = self.threshold.to_dict()
            else:
                entry = next(x for x in self.mechanisms if x.column == m.column).to_dict()
                if m.column in self.choices:
                    entry["choice"] = dict(self.choices[m.column])
            entry["half_width"] = self.half_width(m.column)
            out.append(entry)
        return out

    def score(self) -> float:
        """Weighted mean log half-width over the measurements (smaller is better): the figure
        :func:`calibrate_release` minimizes when it chooses mechanisms."""
        total = 0.0
        weights = 0.0
        for part in self.split.parts:
            width = self._estimated_half_width(part.column)
            total += part.weight * math.log(max(width, 1e-300))
            weights += part.weight
        return total / weights

    def _estimated_half_width(self, column: str) -> float:
        """The half-width used to compare assignments: exact, except that a discrete Gaussian is
        estimated by its continuous counterpart (OpenDP's exact discrete tail sums take tens of
        milliseconds each at large scales; the two agree to well under one unit there, and the
        reported half-widths of the chosen release stay exact)."""
        for mech in self.mechanisms:
            if mech.column == column and mech.mechanism == "discrete_gaussian":
                return noise_half_width("gaussian", mech.scale)
        return self.half_width(column)

    def partition_selection_dict(self) -> dict[str, Any]:
        if self.threshold is None:
            return {
                "kind": "public",
                "threshold": None,
                "groups": public_candidate_count(self.plan),
            }
        return {
            "kind": "threshold",
            "threshold": self.threshold.threshold,
            "column": self.threshold.column,
            "mechanism": self.threshold.mechanism,
            "scale": self.threshold.scale,
            "epsilon": self.threshold.epsilon,
            "delta": self.threshold.delta,
        }

    def accuracy_dict(self) -> dict[str, Any]:
        return {
            "confidence": CONFIDENCE,
            "half_widths": self.output_half_widths(),
            "measurement_half_widths": self.measurement_half_widths(),
        }


# Up to this many aggregates every Laplace/Gaussian assignment is compared (2^k calibrations, each
# a few OpenDP maps: about 0.1 s). Beyond it, all Laplace, all Gaussian and each "all Gaussian but
# one" are compared (k + 2), so a preview stays interactive for wide templates.
MAX_ENUMERATED = 3


def calibrate_release(
    plan: ReleasePlan,
    loss: PrivacyLoss,
    *,
    noise: str = "auto",
    weights: Mapping[str, float] | None = None,
    delta_budget_for_selection: float | None = None,
) -> ReleaseCalibration:
    """Split ``loss`` and calibrate every mechanism of ``plan`` (no data involved).

    ``noise="auto"`` with a delta to spend tries the assignments of discrete Laplace (pure DP)
    or discrete Gaussian (zCDP pool) to the aggregates (every one up to ``MAX_ENUMERATED``
    aggregates) and keeps the one with the smallest
    weighted mean log half-width (:meth:`ReleaseCalibration.score`); without delta it is Laplace.
    The choice depends only on the plan and the loss, never on data."""
    check_noise(noise)
    selection = None if plan.keys_are_public else plan.person_count
    aggregates = [m.column for m in plan.measurements if m.column != selection]
    if noise == "laplace" or (noise == "auto" and loss.delta <= 0):
        options: list[tuple[str, ...]] = [()]
    elif noise == "gaussian":
        options = [tuple(aggregates)]
    elif len(aggregates) > MAX_ENUMERATED:
        everything = tuple(aggregates)
        options = [(), everything, *(tuple(a for a in everything if a != c) for c in everything)]
    else:
        options = [
            combo
            for r in range(len(aggregates) + 1)
            for combo in itertools.combinations(aggregates, r)
        ]
    tried = {
        combo: _calibrate(plan, loss, combo, weights, delta_budget_for_selection)
        for combo in options
    }
    best = min(options, key=lambda combo: tried[combo].score())
    chosen = tried[best]
    if noise != "auto" or len(options) == 1:
        reason = "laplace (no delta to spend)" if noise == "auto" else f"noise={noise} setting"
        choices = {c: {"reason": reason} for c in aggregates}
    else:
        choices = {c: _why(c, best, tried) for c in aggregates}
    return ReleaseCalibration(
        chosen.plan, noise, chosen.split, chosen.mechanisms, chosen.threshold, choices
    )


def _why(
    column: str, best: tuple[str, ...], tried: Mapping[tuple[str, ...], ReleaseCalibration]
) -> dict[str, Any]:
    """The alternative for ``column`` (the same assignment with only its mechanism flipped)."""
    flipped = tuple(sorted(set(best) ^ {column}, key=lambda c: _order(tried, c)))
    alternative = tried.get(flipped)
    chosen = tried[best]
    out: dict[str, Any] = {
        "reason": "smallest half-widths for the loss charged (weighted mean of log half-widths "
        "over the measurements, the Laplace/Gaussian assignments compared)",
        "half_width": chosen.half_width(column),
    }
    if alternative is not None:
        mech = next(m for m in alternative.mechanisms if m.column == column)
        out["alternative"] = {"mechanism": mech.mechanism, "half_width": mech.half_width()}
    return out


def _order(tried: Mapping[tuple[str, ...], ReleaseCalibration], column: str) -> int:
    plan = next(iter(tried.values())).plan
    return [m.column for m in plan.measurements].index(column)


def _calibrate(
    plan: ReleasePlan,
    loss: PrivacyLoss,
    gaussian: tuple[str, ...],
    weights: Mapping[str, float] | None,
    delta_budget_for_selection: float | None,
) -> ReleaseCalibration:
    split = split_loss(
        plan,
        loss,
        noise="gaussian" if gaussian else "laplace",
        gaussian_columns=gaussian,
        weights=weights,
        delta_budget_for_selection=delta_budget_for_selection,
    )
    if plan.keys_are_public:
        public_candidate_count(plan)  # refuse oversized domains before anything else
    threshold: ThresholdMechanism | None = None
    mechanisms = []
    for m in plan.measurements:
        part = split.part(m.column)
        if part.role == "partition_selection":
            threshold = calibrate_threshold(m, epsilon=part.epsilon, delta=part.delta)
        elif part.pooled:
            mechanisms.append(calibrate_zcdp(m, rho=part.rho))
        else:
            mechanisms.append(calibrate(m, epsilon=part.epsilon, delta=0.0, noise="laplace"))
    if split.pool is not None:
        # The accounting, checked with OpenDP's own maps: the Gaussians' rhos at their
        # sensitivities sum to at most the pool's rho.
        spent = math.fsum(zcdp_rho(x) for x in mechanisms if x.rho > 0)
        if spent > split.pool.rho * (1 + 1e-9):
            raise InternalError("the zCDP pool exceeds its rho; this is a bug")
    noise = "gaussian" if gaussian else "laplace"
    return ReleaseCalibration(plan, noise, split, tuple(mechanisms), threshold)
