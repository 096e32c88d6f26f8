"""Privacy-loss values and their composition (the budget a loss is charged to is
``cleanroom.budget``'s rule and the store's budget line).

A :class:`PrivacyLoss` is an (epsilon, delta) pair for approximate differential privacy with the
person as privacy unit. Losses compose by **basic composition**: running mechanisms with losses
(e1, d1) and (e2, d2) on the same people costs at most (e1 + e2, d1 + d2), whatever the order and
even when the second mechanism was chosen after seeing the first one's output. That is what ``+``
does, and what the ledger sums.

>>> PrivacyLoss(0.5, 1e-7) + PrivacyLoss(0.25)
PrivacyLoss(epsilon=0.75, delta=1e-07)
>>> PrivacyLoss(0.0)
Traceback (most recent call last):
...
cleanroom.errors.InvalidRequest: privacy_loss.epsilon must be greater than zero
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cleanroom.errors import InvalidRequest
from cleanroom.ranges import is_finite_number


def _check_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{what} must be a number")
    if not is_finite_number(value):
        raise InvalidRequest(f"{what} must be a finite number")
    return float(value)


@dataclass(frozen=True)
class PrivacyLoss:
    """An (epsilon, delta) privacy loss: epsilon > 0 and finite, 0 <= delta < 1."""

    epsilon: float
    delta: float = 0.0

    def __post_init__(self) -> None:
        epsilon = _check_number(self.epsilon, "privacy_loss.epsilon")
        delta = _check_number(self.delta, "privacy_loss.delta")
        if epsilon <= 0:
            raise InvalidRequest("privacy_loss.epsilon must be greater than zero")
        if not 0.0 <= delta < 1.0:
            raise InvalidRequest("privacy_loss.delta must be at least 0 and less than 1")
        object.__setattr__(self, "epsilon", epsilon)
        object.__setattr__(self, "delta", delta)

    def __add__(self, other: PrivacyLoss) -> PrivacyLoss:
        """Basic composition: epsilons add, deltas add."""
        if not isinstance(other, PrivacyLoss):
            return NotImplemented
        return PrivacyLoss(self.epsilon + other.epsilon, self.delta + other.delta)

    def to_dict(self) -> dict[str, float]:
        return {"epsilon": self.epsilon, "delta": self.delta}


def compose(losses: Iterable[PrivacyLoss]) -> tuple[float, float]:
    """Basic composition of any number of losses, as plain (epsilon, delta) (0, 0 when empty).

    >>> compose([PrivacyLoss(1.0, 1e-7), PrivacyLoss(0.5)])
    (1.5, 1e-07)
    """
    items = list(losses)
    return math.fsum(x.epsilon for x in items), math.fsum(x.delta for x in items)
