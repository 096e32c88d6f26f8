"""How a run's privacy loss is divided among its measurements.

The rule (stated in every report and in docs/privacy.md):

1. **Epsilon** is divided equally among the plan's measurements: each aggregate column and the
   person count (which is always measured, because rows below the policy's minimum are dropped on
   it). When the group keys are not all public, the person count's share pays for partition
   selection: the thresholded noisy person count is both the selection and the released count.
2. **Delta** goes only to mechanisms that need it: partition selection (the threshold) and, with
   ``noise="gaussian"``, every Gaussian mechanism. The requested delta is divided equally among
   them, except that a ``delta_budget_for_selection`` given by the caller (the share of the
   collaboration's delta the service grants to selection) is used for selection as is, and the
   requested delta is then divided among the Gaussian mechanisms only. A requested delta that no
   mechanism needs is not used, and not charged: :attr:`LossSplit.total` is what to charge.

Basic composition: the release is (sum of the parts' epsilons, sum of their deltas)-DP.

>>> from cleanroom.types import Measurement, ReleasePlan, GroupKey
>>> plan = ReleasePlan(
...     group_keys=(GroupKey("brand"),),
...     measurements=(Measurement("buyers", "person_count", 0, 1, True, 4),
...                   Measurement("sales", "sum", 0, 50000, True, 4)),
...     person_count="buyers", outputs=())
>>> split = split_loss(plan, PrivacyLoss(1.0, 1e-6))
>>> [(p.column, p.role, p.epsilon, p.delta) for p in split.parts]
[('buyers', 'partition_selection', 0.5, 1e-06), ('sales', 'aggregate', 0.5, 0.0)]
>>> split.total == PrivacyLoss(1.0, 1e-6)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from cleanroom.dp.loss import PrivacyLoss, compose
from cleanroom.errors import InternalError, InvalidRequest
from cleanroom.types import ReleasePlan

NOISE_KINDS = ("laplace", "gaussian")
Role = Literal["partition_selection", "aggregate"]

SPLIT_RULE = (
    "epsilon divided equally among the measurements (the person count's share pays for "
    "partition selection when keys are not public); delta divided equally among the mechanisms "
    "that need it (threshold partition selection, Gaussian noise); basic composition"
)


def check_noise(noise: str) -> str:
    """Validate the ``noise`` option."""
    if noise not in NOISE_KINDS:
        raise InvalidRequest(f"noise must be one of {', '.join(NOISE_KINDS)}")
    return noise


@dataclass(frozen=True)
class LossPart:
    """The loss one measurement may use."""

    column: str
    role: Role
    epsilon: float
    delta: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "role": self.role,
            "epsilon": self.epsilon,
            "delta": self.delta,
        }


@dataclass(frozen=True)
class LossSplit:
    """A run's requested loss, its parts, and the composed total to charge."""

    requested: PrivacyLoss
    parts: tuple[LossPart, ...]
    rule: str = SPLIT_RULE

    @property
    def total(self) -> PrivacyLoss:
        """Basic composition of the parts: what the ledger must charge for this run."""
        epsilon, delta = compose(PrivacyLoss(p.epsilon, p.delta) for p in self.parts)
        return PrivacyLoss(epsilon, delta)

    def part(self, column: str) -> LossPart:
        for p in self.parts:
            if p.column == column:
                return p
        raise InternalError()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "requested": self.requested.to_dict(),
            "total": self.total.to_dict(),
            "parts": [p.to_dict() for p in self.parts],
        }


def split_loss(
    plan: ReleasePlan,
    loss: PrivacyLoss,
    *,
    noise: str = "laplace",
    delta_budget_for_selection: float | None = None,
) -> LossSplit:
    """Divide ``loss`` among ``plan``'s measurements by the rule in this module's docstring."""
    check_noise(noise)
    columns = [m.column for m in plan.measurements]
    if not columns or plan.person_count not in columns or len(set(columns)) != len(columns):
        raise InternalError("the release plan's measurements are inconsistent; this is a bug")
    selecting = not plan.keys_are_public
    gaussian = noise == "gaussian"

    needs_delta: list[str] = []
    for column in columns:
        is_selection = selecting and column == plan.person_count
        if is_selection or gaussian:
            needs_delta.append(column)

    deltas = dict.fromkeys(columns, 0.0)
    if selecting and delta_budget_for_selection is not None:
        deltas[plan.person_count] = _selection_delta(delta_budget_for_selection)
        gaussian_columns = [c for c in needs_delta if c != plan.person_count]
        for column in gaussian_columns:
            deltas[column] = loss.delta / len(gaussian_columns)
    else:
        for column in needs_delta:
            deltas[column] = loss.delta / len(needs_delta)
    for column in needs_delta:
        if deltas[column] <= 0:
            raise InvalidRequest(_needs_delta_message(selecting and column == plan.person_count))

    epsilon_share = loss.epsilon / len(columns)
    parts = tuple(
        LossPart(
            column=column,
            role="partition_selection"
            if selecting and column == plan.person_count
            else "aggregate",
            epsilon=epsilon_share,
            delta=deltas[column],
        )
        for column in columns
    )
    return LossSplit(requested=loss, parts=parts)


def _selection_delta(value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value < 1
    ):
        raise InvalidRequest("the delta for partition selection must be a number in (0, 1)")
    return float(value)


def _needs_delta_message(selection: bool) -> str:
    if selection:
        return (
            "this release needs a delta greater than zero: its group keys have no public domain, "
            "so which groups appear is chosen by a noisy threshold; request a delta (for example "
            "1e-7) or group only by dimensions with declared values"
        )
    return (
        "Gaussian noise needs a delta greater than zero; request a delta (for example 1e-7) "
        'or use noise="laplace"'
    )
