"""Everything about a release that does not depend on data: the loss split, each measurement's
calibrated mechanism, the partition-selection threshold and the expected half-widths.

:func:`calibrate_release` is shared by :func:`~cleanroom.dp.release` and
:func:`~cleanroom.dp.preview`, so a preview's numbers are exactly those of the release that
follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cleanroom.dp.loss import PrivacyLoss
from cleanroom.dp.mechanisms import ALPHA, CONFIDENCE, NoiseMechanism, calibrate
from cleanroom.dp.selection import ThresholdMechanism, calibrate_threshold, public_candidate_count
from cleanroom.dp.split import LossSplit, split_loss
from cleanroom.errors import InternalError
from cleanroom.types import Col, Measurement, ReleasePlan


@dataclass(frozen=True)
class ReleaseCalibration:
    plan: ReleasePlan
    noise: str
    split: LossSplit
    mechanisms: tuple[NoiseMechanism, ...]  # every measurement noised additively
    threshold: ThresholdMechanism | None  # the person count's mechanism when keys are not public

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
        """The report's ``mechanisms``: one entry per measurement, in the plan's order."""
        out = []
        for m in self.plan.measurements:
            if self.threshold is not None and m.column == self.threshold.column:
                out.append(self.threshold.to_dict())
            else:
                out.append(next(x for x in self.mechanisms if x.column == m.column).to_dict())
        return out

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


def calibrate_release(
    plan: ReleasePlan,
    loss: PrivacyLoss,
    *,
    noise: str = "laplace",
    delta_budget_for_selection: float | None = None,
) -> ReleaseCalibration:
    """Split ``loss`` and calibrate every mechanism of ``plan`` (no data involved)."""
    split = split_loss(
        plan, loss, noise=noise, delta_budget_for_selection=delta_budget_for_selection
    )
    if plan.keys_are_public:
        public_candidate_count(plan)  # refuse oversized domains before anything else
    threshold: ThresholdMechanism | None = None
    mechanisms = []
    for m in plan.measurements:
        part = split.part(m.column)
        if part.role == "partition_selection":
            threshold = calibrate_threshold(m, epsilon=part.epsilon, delta=part.delta)
        else:
            mechanisms.append(calibrate(m, epsilon=part.epsilon, delta=part.delta, noise=noise))
    return ReleaseCalibration(plan, noise, split, tuple(mechanisms), threshold)
