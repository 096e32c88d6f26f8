"""How a run's privacy loss is divided among its measurements, and how the parts compose.

The rule (stated in every report and in docs/privacy.md):

1. **Weights.** Each measurement has a weight: by default 1 for person and row counts and
   :data:`DEFAULT_WEIGHTS` ``["sum"]`` for sums (money), or what the template or the run request
   declares for it. Epsilon is divided in proportion to the weights.
2. **Mechanisms and composition.** Each aggregate measurement is noised either with discrete
   Laplace (pure epsilon-DP, its weighted share of epsilon) or with discrete Gaussian. All Gaussian
   measurements of a run are composed in **zero-concentrated DP**: their epsilon shares are pooled,
   the pool is converted once to a rho budget at the pool's delta (OpenDP's zCDP -> approximate DP
   conversion, :mod:`cleanroom.dp.accounting`), and rho is divided among them by weight. Which
   measurements take Gaussian noise is decided by :mod:`cleanroom.dp.calibration` (smallest
   half-widths for the loss charged); a run that may spend no delta uses Laplace throughout.
3. **Partition selection.** When the group keys are not all public, the person count's share pays
   for partition selection (OpenDP's Laplace threshold, approximate DP): the thresholded noisy
   person count is both the selection and the released count.
4. **Delta** goes only to what needs it: partition selection and the zCDP pool share the requested
   delta equally (selection takes it all when no measurement is Gaussian); a
   ``delta_budget_for_selection`` given by the caller is used for selection as is, the requested
   delta then goes to the pool. A requested delta nothing needs is not used, and not charged.

Basic composition of the parts: the release is (sum of the pure and selection parts' epsilons
plus the pool's epsilon, their deltas plus the pool's delta)-DP; :attr:`LossSplit.total` is what
to charge and never exceeds the requested loss.

>>> from cleanroom.plan import Col, Measurement, ReleasePlan, GroupKey
>>> plan = ReleasePlan(
...     group_keys=(GroupKey("brand"),),
...     measurements=(Measurement("buyers", "person_count", 0, 1, True, 4),
...                   Measurement("sales", "sum", 0, 50000, True, 4)),
...     person_count="buyers", outputs=())
>>> split = split_loss(plan, PrivacyLoss(1.0, 1e-6))
>>> [(p.column, p.role, round(p.epsilon, 4), p.delta) for p in split.parts]
[('buyers', 'partition_selection', 0.25, 1e-06), ('sales', 'aggregate', 0.75, 0.0)]
>>> split.total == PrivacyLoss(1.0, 1e-6)
True
>>> pooled = split_loss(plan, PrivacyLoss(1.0, 1e-6), gaussian_columns=("sales",))
>>> pooled.part("sales").rho > 0, pooled.part("buyers").delta, pooled.pool.delta
(True, 5e-07, 5e-07)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cleanroom.budget import RELATIVE_TOLERANCE
from cleanroom.dp.accounting import epsilon_of_rho, rho_for_epsilon
from cleanroom.dp.loss import PrivacyLoss, compose
from cleanroom.errors import InternalError, InvalidRequest
from cleanroom.plan import Col, Measurement, ReleasePlan

# auto: per measurement, Laplace or Gaussian (zCDP-composed), whichever gives the smaller
# half-widths for the loss charged; laplace: Laplace only; gaussian: Gaussian for every aggregate.
NOISE_KINDS = ("auto", "laplace", "gaussian")
Role = Literal["partition_selection", "aggregate"]

# Default weights by measurement kind. Money is what retail-media decisions turn on and a sum's
# per-person bound is thousands of times a count's, so sums get the larger share; see the
# ``utility`` figure in docs/benchmarks.md for the measured effect.
DEFAULT_WEIGHTS: Mapping[str, float] = {"person_count": 1.0, "row_count": 1.0, "sum": 3.0}
MAX_WEIGHT = 1000.0

SPLIT_RULE = (
    "epsilon divided by weight (default: 1 per count, 3 per sum); the person count's share pays "
    "for partition selection when keys are not public; Gaussian measurements pool their shares "
    "and compose in zCDP, converted once to (epsilon, delta) by OpenDP; delta shared equally by "
    "partition selection and the zCDP pool; basic composition of the parts"
)


def check_noise(noise: str) -> str:
    """Validate the ``noise`` option."""
    if noise not in NOISE_KINDS:
        raise InvalidRequest(f"noise must be one of {', '.join(NOISE_KINDS)}")
    return noise


def check_weights(raw: Any, what: str = "weights") -> dict[str, float]:
    """A ``{name: weight}`` object: names are strings, weights numbers in (0, 1000]."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidRequest(f'{what} must be an object like {{"sales": 3}}')
    out: dict[str, float] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{what} names must be non-empty strings")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 < value <= MAX_WEIGHT
        ):
            raise InvalidRequest(f"{what}.{name} must be a number greater than 0, at most 1000")
        out[name] = float(value)
    return out


@dataclass(frozen=True)
class LossPart:
    """The loss one measurement may use: pure epsilon (Laplace, selection) or rho (Gaussian)."""

    column: str
    role: Role
    epsilon: float  # pure or selection epsilon; for a Gaussian, its share of the pooled epsilon
    delta: float = 0.0  # partition selection only
    rho: float = 0.0  # > 0: a Gaussian measurement composed in the zCDP pool
    weight: float = 1.0

    @property
    def pooled(self) -> bool:
        return self.rho > 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "column": self.column,
            "role": self.role,
            "weight": self.weight,
            "composition": "zcdp" if self.pooled else "pure" if self.delta == 0 else "approx",
            "epsilon": self.epsilon,
            "delta": self.delta,
        }
        if self.pooled:
            out["rho"] = self.rho
        return out


@dataclass(frozen=True)
class ZcdpPool:
    """The Gaussian measurements' pooled loss: granted (epsilon, delta), rho, and OpenDP's
    conversion of the rho actually divided (``epsilon_used`` <= ``epsilon``)."""

    epsilon: float
    delta: float
    rho: float
    epsilon_used: float

    def to_dict(self) -> dict[str, float]:
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "rho": self.rho,
            "epsilon_used": self.epsilon_used,
        }


@dataclass(frozen=True)
class LossSplit:
    """A run's requested loss, its parts, and the composed total to charge."""

    requested: PrivacyLoss
    parts: tuple[LossPart, ...]
    pool: ZcdpPool | None = None
    rule: str = SPLIT_RULE

    @property
    def total(self) -> PrivacyLoss:
        """Basic composition of the pure and selection parts and the zCDP pool (what the
        ledger must charge for this run)."""
        losses = [PrivacyLoss(p.epsilon, p.delta) for p in self.parts if not p.pooled]
        if self.pool is not None:
            losses.append(PrivacyLoss(self.pool.epsilon, self.pool.delta))
        epsilon, delta = compose(losses)
        return PrivacyLoss(epsilon, delta)

    @property
    def gaussian_columns(self) -> tuple[str, ...]:
        return tuple(p.column for p in self.parts if p.pooled)

    def part(self, column: str) -> LossPart:
        for p in self.parts:
            if p.column == column:
                return p
        raise InternalError()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "requested": self.requested.to_dict(),
            "total": self.total.to_dict(),
            "parts": [p.to_dict() for p in self.parts],
        }
        if self.pool is not None:
            out["zcdp"] = self.pool.to_dict()
        return out


def measurement_weights(
    plan: ReleasePlan, weights: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Each measurement's weight: ``weights`` by measurement column or by the name of an output
    that is that measurement as is, else the default for its kind."""
    given = dict(weights or {})
    by_output = {o.name: o.expr.name for o in plan.outputs if isinstance(o.expr, Col)}
    resolved: dict[str, float] = {}
    unknown = []
    for name, value in given.items():
        column = name if any(m.column == name for m in plan.measurements) else by_output.get(name)
        if column is None or not any(m.column == column for m in plan.measurements):
            unknown.append(name)
            continue
        resolved[column] = value
    if unknown:
        names = ", ".join(f"'{n}'" for n in sorted(unknown))
        raise InvalidRequest(f"weights name {names}: not a measured output of this template")
    return {m.column: resolved.get(m.column, _default_weight(m)) for m in plan.measurements}


def _default_weight(m: Measurement) -> float:
    return DEFAULT_WEIGHTS.get(m.kind, 1.0)


def split_loss(
    plan: ReleasePlan,
    loss: PrivacyLoss,
    *,
    noise: str = "laplace",
    gaussian_columns: Iterable[str] | None = None,
    weights: Mapping[str, float] | None = None,
    delta_budget_for_selection: float | None = None,
) -> LossSplit:
    """Divide ``loss`` among ``plan``'s measurements by the rule in this module's docstring.

    ``gaussian_columns`` are the aggregates noised with Gaussian (zCDP pool); when not given,
    every aggregate with ``noise="gaussian"`` and none otherwise."""
    check_noise(noise)
    columns = [m.column for m in plan.measurements]
    if not columns or plan.person_count not in columns or len(set(columns)) != len(columns):
        raise InternalError("the release plan's measurements are inconsistent; this is a bug")
    selecting = not plan.keys_are_public
    selection = plan.person_count if selecting else None
    if gaussian_columns is None:
        pooled = [c for c in columns if c != selection] if noise == "gaussian" else []
    else:
        pooled = list(gaussian_columns)
        if not set(pooled) <= set(columns) - {selection}:
            raise InternalError("only aggregates can take Gaussian noise; this is a bug")
    if pooled and loss.delta <= 0:
        raise InvalidRequest(_needs_delta_message(False))

    # Delta: selection and the pool (each only when present).
    selection_delta = 0.0
    pool_delta = 0.0
    if selecting and delta_budget_for_selection is not None:
        selection_delta = _selection_delta(delta_budget_for_selection)
        pool_delta = loss.delta if pooled else 0.0
    elif selecting:
        selection_delta = loss.delta / 2 if pooled else loss.delta
        pool_delta = loss.delta - selection_delta if pooled else 0.0
    else:
        pool_delta = loss.delta if pooled else 0.0
    if selecting and selection_delta <= 0:
        raise InvalidRequest(_needs_delta_message(True))

    weight = measurement_weights(plan, weights)
    total_weight = math.fsum(weight.values())
    epsilon = {c: loss.epsilon * weight[c] / total_weight for c in columns}

    pool: ZcdpPool | None = None
    rho: dict[str, float] = {}
    if pooled:
        pool_epsilon = math.fsum(epsilon[c] for c in pooled)
        budget = rho_for_epsilon(pool_epsilon, pool_delta)
        pool_weight = math.fsum(weight[c] for c in pooled)
        rho = {c: budget * weight[c] / pool_weight for c in pooled}
        used = epsilon_of_rho(math.fsum(rho.values()), pool_delta)
        pool = ZcdpPool(pool_epsilon, pool_delta, budget, used)

    parts = tuple(
        LossPart(
            column=column,
            role="partition_selection" if column == selection else "aggregate",
            epsilon=epsilon[column],
            delta=selection_delta if column == selection else 0.0,
            rho=rho.get(column, 0.0),
            weight=weight[column],
        )
        for column in columns
    )
    split = LossSplit(requested=loss, parts=parts, pool=pool)
    total = split.total
    slack = 1 + RELATIVE_TOLERANCE
    allowed_delta = loss.delta + (selection_delta if delta_budget_for_selection else 0.0)
    if total.epsilon > loss.epsilon * slack or total.delta > allowed_delta * slack:
        raise InternalError("the loss split exceeds the requested loss; this is a bug")
    return split


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
