"""The accepted range of every number the API takes, in one place.

Each :class:`Range` checks a value (raising :class:`~cleanroom.errors.InvalidRequest`, or the
error class given, with a message naming the member and the range, never the value) and renders
itself as a JSON Schema fragment, so the OpenAPI document states exactly what is checked. A
number outside its range is refused before anything is written or charged; none reaches a
``500``. docs/api.md (Numbers) lists them.

>>> EPSILON_PER_RUN.check(0.5, "privacy_loss.epsilon")
0.5
>>> EPSILON_PER_RUN.check(1e-300, "privacy_loss.epsilon")
Traceback (most recent call last):
...
cleanroom.errors.InvalidRequest: privacy_loss.epsilon must be a number from 0.001 to 100
>>> RETENTION_DAYS.schema()
{'type': 'integer', 'minimum': 1, 'maximum': 36500}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cleanroom.errors import CleanroomError, InvalidRequest

# Per-person bounds beyond this magnitude are refused (dataset specs, template headers and
# bodies, derived bounds): every sensitivity, noise scale and exact sum stays finite, and integer
# sums of up to millions of people stay exact in a double (2**53 is about 9.007e15).
MAX_ABS_BOUND = 1e15
# The largest noise scale a release may use. A larger one would make the noisy value meaningless
# and, for integer measurements, risk leaving the 64-bit range (a Laplace draw beyond 2**63 at
# scale 1e17 has probability below e**-92); a run needing it is refused at preview and at run
# request (a larger epsilon or narrower bounds bring it down). Bounds at MAX_ABS_BOUND over a few
# groups at epsilon 1 stay below it.
MAX_NOISE_SCALE = 1e17
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def is_finite_number(value: Any) -> bool:
    """A JSON number (not a bool) that is finite as a double; huge integers are not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the double range
        return False


def _shown(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


@dataclass(frozen=True)
class Range:
    """A range ``[low, high]`` of integers or numbers (``low_exclusive``: ``(low, high]``)."""

    low: float
    high: float
    integer: bool = False
    low_exclusive: bool = False

    def contains(self, value: Any) -> bool:
        if not is_finite_number(value) or (self.integer and not isinstance(value, int)):
            return False
        above_low = value > self.low if self.low_exclusive else value >= self.low
        return bool(above_low and value <= self.high)

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low_exclusive:
            return f"{kind} greater than {_shown(self.low)} and at most {_shown(self.high)}"
        return f"{kind} from {_shown(self.low)} to {_shown(self.high)}"

    def check(self, value: Any, what: str, error: type[CleanroomError] = InvalidRequest) -> Any:
        """``value`` as given (an int stays an int) when it is in range, else ``error``."""
        if not self.contains(value):
            raise error(f"{what} must be {self.describe()}")
        return value

    def schema(self) -> dict[str, Any]:
        """The JSON Schema fragment of this range (OpenAPI and the request checker)."""
        low_key = "exclusiveMinimum" if self.low_exclusive else "minimum"
        return {
            "type": "integer" if self.integer else "number",
            low_key: self.low,
            "maximum": self.high,
        }


# Privacy loss: per run, per budget (a total or a top-up); delta is a probability.
EPSILON_PER_RUN = Range(0.001, 100.0)
EPSILON_BUDGET = Range(0.001, 10_000.0)
EPSILON_TOP_UP = Range(0.0, 10_000.0)
DELTA = Range(0.0, 0.5)
# Policy counts.
MIN_USERS_PER_ROW = Range(10, 1_000_000, integer=True)
MAX_GROUPS_PER_USER = Range(1, 10_000, integer=True)
MAX_COUNT_PER_USER = Range(1, 1_000_000, integer=True)
BUDGET_REFRESH_DAYS = Range(1, 36_500, integer=True)
FAIRNESS_MIN_RATIO = Range(0.0, 1.0)
# Dataset specs.
MAX_ROWS_PER_USER = Range(1, 1_000_000, integer=True)
RETENTION_DAYS = Range(1, 36_500, integer=True)
BOUND = Range(-MAX_ABS_BOUND, MAX_ABS_BOUND)
# Template parameters: an int may size an interval or an offset, which engines hold in 32 bits;
# a float stays within the bounds' magnitude.
INT_PARAMETER = Range(INT32_MIN, INT32_MAX, integer=True)
FLOAT_PARAMETER = Range(-MAX_ABS_BOUND, MAX_ABS_BOUND)
# JSON integers beyond this magnitude are read as (non-integer) numbers: every integer the API
# stores fits in 64 bits.
MAX_JSON_INT = 2**63 - 1
