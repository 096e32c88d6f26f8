"""Exact binomial (Clopper-Pearson) confidence bounds for the DP statistical tests.

scipy is not a dependency, so the bounds are computed from the binomial distribution directly:
log-pmf from log-factorials (numpy), tail sums with a stable log-sum-exp, and bisection on p.
numpy here computes statistics only; every noise draw in the tests comes from OpenDP.

>>> lo, hi = clopper_pearson(50, 100, alpha=0.05)
>>> round(lo, 3), round(hi, 3)
(0.398, 0.602)
"""

from __future__ import annotations

import math

import numpy as np


def _log_pmf(n: int, p: float) -> np.ndarray:
    k = np.arange(n + 1)
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1)))))
    log_choose = log_fact[n] - log_fact - log_fact[::-1]
    with np.errstate(divide="ignore"):
        return log_choose + k * np.log(p) + (n - k) * np.log1p(-p)


def _log_sum(values: np.ndarray) -> float:
    top = float(np.max(values))
    if top == -math.inf:
        return -math.inf
    return top + math.log(float(np.sum(np.exp(values - top))))


def upper_tail(k: int, n: int, p: float) -> float:
    """P[Binomial(n, p) >= k]."""
    if k <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    return math.exp(_log_sum(_log_pmf(n, p)[k:]))


def lower_tail(k: int, n: int, p: float) -> float:
    """P[Binomial(n, p) <= k]."""
    if k >= n:
        return 1.0
    return 1.0 - upper_tail(k + 1, n, p)


def clopper_pearson(k: int, n: int, alpha: float) -> tuple[float, float]:
    """Exact bounds on p from k successes in n trials; each side fails w.p. <= alpha / 2."""
    half = alpha / 2
    lower = 0.0
    if k > 0:
        a, b = 0.0, k / n
        for _ in range(100):  # largest p with P[X >= k | p] <= alpha/2
            mid = (a + b) / 2
            if upper_tail(k, n, mid) <= half:
                a = mid
            else:
                b = mid
        lower = a
    upper = 1.0
    if k < n:
        a, b = k / n, 1.0
        for _ in range(100):  # smallest p with P[X <= k | p] <= alpha/2
            mid = (a + b) / 2
            if lower_tail(k, n, mid) <= half:
                b = mid
            else:
                a = mid
        upper = b
    return lower, upper
