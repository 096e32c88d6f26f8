"""Confidence intervals for outputs derived from noisy measurements (ROAS, lift, averages).

Method (documented in docs/privacy.md): an output that reads k distinct noisy measurements gets,
for each of them, the (1 - 0.05 / k) confidence interval of its noise (Bonferroni), intersected
with the sign the measurement's bounds imply (a count is never negative); the output's interval
is then computed by interval arithmetic over its expression. All k intervals hold together with
probability at least 95%, and then the exact output lies in the computed interval, so the
interval is a conservative 95% interval. The reported half-width is the larger distance from the
released value to either end. It is ``None`` when the interval is unbounded (a denominator whose
interval contains zero) or the output is NULL or not numeric. An output that reads no noisy
measurement has half-width 0.

>>> from cleanroom.plan import Col, Op
>>> ratio = Op("/", (Col("sales"), Col("buyers")))
>>> noisy = {"sales": Interval(900.0, 1100.0), "buyers": Interval(90.0, 110.0)}
>>> bounds = interval(ratio, {"sales": 1000, "buyers": 100}, noisy)
>>> round(bounds.lo, 3), round(bounds.hi, 3)
(8.182, 12.222)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cleanroom.dp.postprocess import Env, evaluate, is_number, round_half_away
from cleanroom.plan import Col, Lit, Op, PostExpr


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not self.lo <= self.hi:
            raise ValueError("an interval needs lo <= hi")


Bounded = Interval | None  # None: unbounded, NULL or not numeric


def interval(expr: PostExpr, env: Env, noisy: Mapping[str, Interval]) -> Bounded:
    """The interval of ``expr``: intervals for the noisy columns, exact values for the others."""
    if isinstance(expr, Lit):
        return _point(expr.value)
    if isinstance(expr, Col):
        return noisy[expr.name] if expr.name in noisy else _point(env.get(expr.name))
    op = expr.op.lower()
    if op == "coalesce":
        chosen = next((a for a in expr.args if evaluate(a, env) is not None), None)
        return None if chosen is None else interval(chosen, env, noisy)
    if op == "nullif":
        return None if evaluate(expr, env) is None else interval(expr.args[0], env, noisy)
    if op in ("least", "greatest"):
        present = [a for a in expr.args if evaluate(a, env) is not None]
        parts = [interval(a, env, noisy) for a in present]
        if not parts or any(p is None for p in parts):
            return None
        pick = min if op == "least" else max
        return _make(pick(p.lo for p in parts if p), pick(p.hi for p in parts if p))
    function = _INTERVAL_OPERATIONS.get(op)
    if function is None:
        return None  # comparisons and logic: not numeric
    parts = [interval(a, env, noisy) for a in expr.args]
    if op == "round":
        digits = evaluate(expr.args[1], env) if len(expr.args) == 2 else 0
        first = parts[0]
        if first is None or not isinstance(digits, int):
            return None
        return _make(round_half_away(first.lo, digits), round_half_away(first.hi, digits))
    if any(p is None for p in parts):
        return None
    return function([p for p in parts if p is not None])


def half_width(value: object, bounds: Bounded) -> float | None:
    """Largest distance from the released value to an end of its interval."""
    if bounds is None or not is_number(value):
        return None
    v = float(value)  # type: ignore[arg-type]
    width = max(v - bounds.lo, bounds.hi - v, 0.0)
    return width if math.isfinite(width) else None


def _point(value: object) -> Bounded:
    if is_number(value) and math.isfinite(float(value)):  # type: ignore[arg-type]
        return Interval(float(value), float(value))  # type: ignore[arg-type]
    return None


def _make(lo: float, hi: float) -> Bounded:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return Interval(min(lo, hi), max(lo, hi))


def _add(p: Sequence[Interval]) -> Bounded:
    return _make(p[0].lo + p[1].lo, p[0].hi + p[1].hi)


def _subtract(p: Sequence[Interval]) -> Bounded:
    if len(p) == 1:
        return _make(-p[0].hi, -p[0].lo)
    return _make(p[0].lo - p[1].hi, p[0].hi - p[1].lo)


def _multiply(p: Sequence[Interval]) -> Bounded:
    products = [a * b for a in (p[0].lo, p[0].hi) for b in (p[1].lo, p[1].hi)]
    return _make(min(products), max(products))


def _divide(p: Sequence[Interval]) -> Bounded:
    denominator = p[1]
    if denominator.lo <= 0 <= denominator.hi:
        return None  # the exact denominator may be zero or of either sign: no finite bound
    inverse = Interval(1.0 / denominator.hi, 1.0 / denominator.lo)
    return _multiply([p[0], inverse])


def _absolute(p: Sequence[Interval]) -> Bounded:
    lo, hi = p[0].lo, p[0].hi
    if lo >= 0:
        return _make(lo, hi)
    if hi <= 0:
        return _make(-hi, -lo)
    return _make(0.0, max(-lo, hi))


def _monotone(function: Callable[[float], float]) -> Callable[[Sequence[Interval]], Bounded]:
    return lambda p: _make(float(function(p[0].lo)), float(function(p[0].hi)))


_INTERVAL_OPERATIONS: dict[str, Callable[[Sequence[Interval]], Bounded]] = {
    "+": _add,
    "-": _subtract,
    "neg": _subtract,
    "*": _multiply,
    "/": _divide,
    "abs": _absolute,
    "floor": _monotone(math.floor),
    "ceil": _monotone(math.ceil),
    "round": _monotone(round_half_away),  # handled with its digits in interval()
}


def noisy_columns(expr: PostExpr, measured: set[str]) -> set[str]:
    """The noisy measurement columns an expression reads (k of the Bonferroni correction)."""
    if isinstance(expr, Col):
        return {expr.name} & measured
    if isinstance(expr, Op):
        return set().union(*(noisy_columns(a, measured) for a in expr.args))
    return set()
