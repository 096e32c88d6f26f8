"""What a run would cost and how accurate it would be, before any data is touched.

>>> from cleanroom.plan import Col, GroupKey, Measurement, Output, ReleasePlan
>>> plan = ReleasePlan(
...     group_keys=(GroupKey("channel", ("online", "instore")),),
...     measurements=(Measurement("buyers", "person_count", 0, 1, True, 1),),
...     person_count="buyers",
...     outputs=(Output("channel", Col("channel"), True), Output("buyers", Col("buyers"))))
>>> p = preview(plan, PrivacyLoss(1.0))
>>> p.partition_selection["kind"], round(p.half_widths["buyers"], 2)
('public', 3.38)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanroom.dp.calibration import calibrate_release
from cleanroom.dp.loss import PrivacyLoss
from cleanroom.dp.mechanisms import CONFIDENCE
from cleanroom.dp.split import LossSplit
from cleanroom.plan import ReleasePlan


@dataclass(frozen=True)
class Preview:
    """Cost split, mechanisms and expected 95% half-widths of a release (no data involved)."""

    loss_split: LossSplit
    half_widths: dict[str, float]  # output columns that are measurements as is
    measurement_half_widths: dict[str, float]
    mechanisms: tuple[dict[str, Any], ...]
    partition_selection: dict[str, Any]
    noise: str
    confidence: float = CONFIDENCE

    @property
    def privacy_loss(self) -> PrivacyLoss:
        """What the run would charge."""
        return self.loss_split.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "privacy_loss": self.privacy_loss.to_dict(),
            "loss_split": self.loss_split.to_dict(),
            "accuracy": {
                "confidence": self.confidence,
                "half_widths": dict(self.half_widths),
                "measurement_half_widths": dict(self.measurement_half_widths),
            },
            "mechanisms": [dict(m) for m in self.mechanisms],
            "noise": self.noise,
            "partition_selection": dict(self.partition_selection),
        }


def preview(
    plan: ReleasePlan,
    loss: PrivacyLoss,
    *,
    noise: str = "auto",
    weights: Mapping[str, float] | None = None,
    delta_budget_for_selection: float | None = None,
) -> Preview:
    """The cost and expected accuracy :func:`~cleanroom.dp.release` would have for ``plan``.

    Half-widths of outputs derived from several measurements depend on the noisy values and are
    reported per row by the release only.
    """
    calibration = calibrate_release(
        plan,
        loss,
        noise=noise,
        weights=weights,
        delta_budget_for_selection=delta_budget_for_selection,
    )
    return Preview(
        loss_split=calibration.split,
        half_widths=calibration.output_half_widths(),
        measurement_half_widths=calibration.measurement_half_widths(),
        mechanisms=tuple(calibration.mechanism_dicts()),
        partition_selection=calibration.partition_selection_dict(),
        noise=calibration.noise,
    )
