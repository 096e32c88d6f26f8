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

Accuracy targets: the smallest epsilon whose expected half-widths meet every target.

>>> found = smallest_loss(plan, {"buyers": 10.0}, 0.0, max_epsilon=5.0)
>>> found.met, found.epsilon, found.half_widths["buyers"] <= 10.0
(True, 0.315, True)
>>> smallest_loss(plan, {"buyers": 0.1}, 0.0, max_epsilon=5.0).met
False
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanroom.dp.calibration import calibrate_release
from cleanroom.dp.loss import PrivacyLoss
from cleanroom.dp.mechanisms import CONFIDENCE
from cleanroom.dp.split import LossSplit
from cleanroom.errors import InvalidRequest
from cleanroom.plan import Col, ReleasePlan
from cleanroom.ranges import EPSILON_PER_RUN

# The search stops when the bracket around the smallest epsilon is this tight (relative).
TARGET_TOLERANCE = 5e-3
TARGET_DIGITS = 3  # the answer is rounded up to this many significant digits


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


def target_outputs(plan: ReleasePlan) -> list[str]:
    """The outputs a target may name: those that are a measurement as is (their half-width is
    known before the data is read)."""
    measured = {m.column for m in plan.measurements}
    return [
        o.name
        for o in plan.outputs
        if isinstance(o.expr, Col) and o.expr.name in measured and not o.is_group_key
    ]


def check_targets(raw: Any, plan: ReleasePlan) -> dict[str, float]:
    """A ``{output: half-width}`` object: every name an output of :func:`target_outputs` (all
    unknown names are named at once), every half-width a positive finite number."""
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidRequest('targets must be an object like {"sales": 500000}')
    allowed = target_outputs(plan)
    unknown = sorted(str(name) for name in raw if name not in allowed)
    if unknown:
        raise InvalidRequest(
            f"targets name {', '.join(repr(n) for n in unknown)}, not outputs of this template "
            f"with a half-width known in advance (allowed: {', '.join(allowed)})"
        )
    out: dict[str, float] = {}
    for name, value in raw.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise InvalidRequest(f"targets.{name} must be a half-width greater than 0")
        out[str(name)] = float(value)
    return out


@dataclass(frozen=True)
class TargetSearch:
    """The smallest epsilon (at a fixed delta) whose expected 95% half-widths meet every target;
    ``epsilon`` is None when even ``max_epsilon`` does not."""

    targets: dict[str, float]
    epsilon: float | None
    delta: float
    max_epsilon: float
    half_widths: dict[str, float]  # at ``epsilon`` (or at ``max_epsilon`` when not met)
    privacy_loss: PrivacyLoss | None  # what a run at ``epsilon`` would charge

    @property
    def met(self) -> bool:
        return self.epsilon is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "targets": dict(self.targets),
            "met": self.met,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "max_epsilon": self.max_epsilon,
            "half_widths": dict(self.half_widths),
            "privacy_loss": None if self.privacy_loss is None else self.privacy_loss.to_dict(),
        }


def _round_up(value: float) -> float:
    digits = TARGET_DIGITS - 1 - math.floor(math.log10(value))
    scale = 10.0**digits
    return math.ceil(value * scale - 1e-9) / scale


def smallest_loss(
    plan: ReleasePlan,
    targets: Mapping[str, float],
    delta: float,
    *,
    max_epsilon: float,
    noise: str = "auto",
    weights: Mapping[str, float] | None = None,
    start: Preview | None = None,
) -> TargetSearch:
    """The smallest epsilon in ``[EPSILON_PER_RUN.low, max_epsilon]`` at ``delta`` whose expected
    half-widths meet every target. Half-widths shrink as epsilon grows (each mechanism's scale
    is a decreasing function of its share), roughly as ``1 / epsilon``; so each step jumps to
    where that rule puts the answer (a little beyond, to bracket it), then bisects the bracket
    on log epsilon until it is within :data:`TARGET_TOLERANCE`; the answer (the bracket's upper
    end, which meets the targets) is rounded up to :data:`TARGET_DIGITS` significant digits and
    checked again. Same calibration as :func:`preview` (``start``: one already made); no data.
    """
    low = EPSILON_PER_RUN.low

    def at(epsilon: float) -> Preview | None:
        try:
            return preview(plan, PrivacyLoss(epsilon, delta), noise=noise, weights=weights)
        except InvalidRequest:  # a scale too large to calibrate: certainly not met
            return None

    def ratio(found: Preview | None) -> float:
        """The largest half-width over its target (met: at most 1)."""
        if found is None:
            return math.inf
        return max(found.half_widths[name] / target for name, target in targets.items())

    def answer(epsilon: float | None, found: Preview | None) -> TargetSearch:
        widths = {} if found is None else {n: found.half_widths[n] for n in targets}
        loss = None if found is None or epsilon is None else found.privacy_loss
        return TargetSearch(dict(targets), epsilon, delta, max_epsilon, widths, loss)

    met: tuple[float, Preview] | None = None  # the smallest epsilon known to meet
    unmet: float | None = None  # the largest epsilon known not to
    epsilon = max_epsilon if start is None else start.loss_split.requested.epsilon
    found = start if start is not None else at(epsilon)
    for _ in range(60):
        r = ratio(found)
        if r <= 1 and found is not None:
            met = (epsilon, found)
        else:
            unmet = epsilon
        if met is not None and met[0] <= low:
            break
        if unmet is not None and unmet >= max_epsilon:
            return answer(None, found)
        if met is not None and unmet is not None:
            if met[0] / unmet <= 1 + TARGET_TOLERANCE:
                break
            epsilon = math.sqrt(met[0] * unmet)
        elif math.isinf(r):
            epsilon = min(epsilon * 10, max_epsilon)
        else:  # one side known: jump past where 1 / epsilon puts the answer
            step = (1 + TARGET_TOLERANCE) if r > 1 else 1 / (1 + TARGET_TOLERANCE)
            epsilon = min(max(epsilon * r * step, low), max_epsilon)
        found = at(epsilon)
    if met is None:
        return answer(None, found)
    rounded = min(_round_up(met[0]), max_epsilon)
    if rounded != met[0]:
        at_rounded = at(rounded)
        if ratio(at_rounded) <= 1:
            return answer(rounded, at_rounded)
    return answer(met[0], met[1])
