"""Privacy-loss values and budget arithmetic.

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
>>> b = BudgetBalance(total_epsilon=1.0, total_delta=1e-6)
>>> for _ in range(10):
...     b = b.charge(PrivacyLoss(0.1))
>>> b.remaining_epsilon  # 1.0 - 10 * 0.1 is 1.1e-16 in floats; the tolerance makes it 0
0.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cleanroom.budget import fits, remaining
from cleanroom.errors import BudgetExhausted, InvalidRequest
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

    @classmethod
    def from_dict(cls, data: Any) -> PrivacyLoss:
        """Parse ``{"epsilon": ..., "delta"?: ...}`` (the request body's ``privacy_loss``)."""
        if not isinstance(data, Mapping):
            raise InvalidRequest('privacy_loss must be an object like {"epsilon": 1.0}')
        unknown = sorted(set(data) - {"epsilon", "delta"})
        if unknown:
            raise InvalidRequest(f"unknown privacy_loss key(s): {', '.join(unknown)}")
        if "epsilon" not in data:
            raise InvalidRequest("privacy_loss.epsilon is required")
        return cls(data["epsilon"], data.get("delta", 0.0))

    def to_dict(self) -> dict[str, float]:
        return {"epsilon": self.epsilon, "delta": self.delta}


def compose(losses: Iterable[PrivacyLoss]) -> tuple[float, float]:
    """Basic composition of any number of losses, as plain (epsilon, delta) (0, 0 when empty).

    >>> compose([PrivacyLoss(1.0, 1e-7), PrivacyLoss(0.5)])
    (1.5, 1e-07)
    """
    items = list(losses)
    return math.fsum(x.epsilon for x in items), math.fsum(x.delta for x in items)


@dataclass(frozen=True)
class BudgetBalance:
    """A privacy budget and what has been spent from it (the API's ``budget`` shape).

    Remaining = total - spent, each coordinate, with a relative float tolerance so that a budget
    can be spent exactly (and never negative).
    """

    total_epsilon: float
    total_delta: float
    spent_epsilon: float = 0.0
    spent_delta: float = 0.0

    def __post_init__(self) -> None:
        for name in ("total_epsilon", "total_delta", "spent_epsilon", "spent_delta"):
            value = _check_number(getattr(self, name), f"budget.{name}")
            if value < 0:
                raise InvalidRequest(f"budget.{name} must not be negative")
            object.__setattr__(self, name, value)

    @property
    def remaining_epsilon(self) -> float:
        return remaining(self.spent_epsilon, self.total_epsilon)

    @property
    def remaining_delta(self) -> float:
        return remaining(self.spent_delta, self.total_delta)

    def can_afford(self, loss: PrivacyLoss) -> bool:
        """True when ``loss`` fits on both coordinates (cleanroom.budget.fits)."""
        return fits(loss.epsilon, spent=self.spent_epsilon, total=self.total_epsilon) and fits(
            loss.delta, spent=self.spent_delta, total=self.total_delta
        )

    def charge(self, loss: PrivacyLoss) -> BudgetBalance:
        """The balance after spending ``loss``; :class:`BudgetExhausted` when it does not fit."""
        if not self.can_afford(loss):
            raise BudgetExhausted(
                requested=loss.to_dict(),
                remaining={"epsilon": self.remaining_epsilon, "delta": self.remaining_delta},
            )
        return BudgetBalance(
            self.total_epsilon,
            self.total_delta,
            self.spent_epsilon + loss.epsilon,
            self.spent_delta + loss.delta,
        )

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {
            "total": {"epsilon": self.total_epsilon, "delta": self.total_delta},
            "spent": {"epsilon": self.spent_epsilon, "delta": self.spent_delta},
            "remaining": {"epsilon": self.remaining_epsilon, "delta": self.remaining_delta},
        }
