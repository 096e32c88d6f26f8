"""The composition of a fairness analysis's release: shares and disparity ratios with intervals.

A fairness release (purpose ``fairness``) groups person counts by a sensitive attribute. Its
first person count is the **eligible** population (for a campaign: every customer); each other
count (reached, converted, ...) is an audience drawn from it. For every audience and group ``g``:

- the **share** of the audience in ``g``: ``a_g / sum(a)``, beside the eligible share
  ``e_g / sum(e)``;
- the **disparity ratio**: ``(a_g / e_g) / (sum(a) / sum(e))``, the group's rate relative to the
  whole population's (1: proportional; the four-fifths rule asks for at least 0.8).

Everything here is post-processing of released values and of the noise distributions the report
already states, so it costs no privacy loss. Intervals are percentile intervals of a parametric
bootstrap: the released counts minus fresh draws of each count's own noise (its mechanism and
scale), ``DRAWS`` times, with a fixed seed so that a report is reproducible. They cover the DP
noise, not the sampling of people. A group is **flagged** for human review when its ratio's
whole 95% interval lies below the policy's ``fairness_min_ratio``.

>>> rows = [{"band": "a", "eligible": 1000, "reached": 500},
...         {"band": "b", "eligible": 1000, "reached": 150}]
>>> mechanisms = [{"column": c, "mechanism": "discrete_laplace", "scale": 2.0}
...               for c in ("eligible", "reached")]
>>> found = composition(rows, "band", ["eligible", "reached"], mechanisms, 0.8)
>>> [(g["group"], round(g["ratio"], 2), g["flagged"]) for g in found["audiences"][0]["groups"]]
[('a', 1.54, False), ('b', 0.46, True)]
>>> found["flagged"]
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cleanroom.dp.mechanisms import CONFIDENCE

DRAWS = 4000
SEED = 20_261_204


def _noise(mechanism: Mapping[str, Any], rng: np.random.Generator, size: tuple[int, ...]) -> Any:
    """Draws of one measurement's noise (continuous stand-ins for the discrete mechanisms: the
    same scale, a slightly smoother distribution)."""
    scale = float(mechanism.get("scale", 0.0))
    if scale <= 0:
        return np.zeros(size)
    if "gaussian" in str(mechanism.get("mechanism", "")):
        return rng.normal(0.0, scale, size)
    return rng.laplace(0.0, scale, size)


def _ratio(audience: Any, eligible: Any) -> Any:
    """``(a_g / e_g) / (sum a / sum e)`` along the last axis; NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = audience / eligible
        overall = audience.sum(axis=-1, keepdims=True) / eligible.sum(axis=-1, keepdims=True)
        return rate / overall


def _share(values: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return values / values.sum(axis=-1, keepdims=True)


def _interval(draws: Any, index: int) -> list[float] | None:
    column = draws[:, index]
    column = column[np.isfinite(column)]
    if len(column) < DRAWS // 2:
        return None
    alpha = (1 - CONFIDENCE) / 2
    lo, hi = np.quantile(column, [alpha, 1 - alpha])
    return [float(lo), float(hi)]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def composition(
    rows: Sequence[Mapping[str, Any]],
    key: str,
    counts: Sequence[str],
    mechanisms: Sequence[Mapping[str, Any]],
    min_ratio: float,
) -> dict[str, Any]:
    """The ``fairness`` member of a fairness report: ``counts[0]`` is the eligible population,
    every other count an audience; ``mechanisms`` are the report's (for the noise scales)."""
    by_column = {m["column"]: m for m in mechanisms}
    groups = [row[key] for row in rows]
    values = {c: np.array([float(row[c] or 0) for row in rows]) for c in counts}
    rng = np.random.default_rng(SEED)
    shape = (DRAWS, len(rows))
    drawn = {
        c: np.maximum(values[c] - _noise(by_column.get(c, {}), rng, shape), 0.0) for c in counts
    }
    eligible, audiences = counts[0], counts[1:]
    eligible_share = _share(values[eligible])
    eligible_draws = _share(drawn[eligible])
    out_audiences: list[dict[str, Any]] = []
    for audience in audiences:
        ratio = _ratio(values[audience], values[eligible])
        ratio_draws = _ratio(drawn[audience], drawn[eligible])
        share = _share(values[audience])
        share_draws = _share(drawn[audience])
        entries: list[dict[str, Any]] = []
        for i, group in enumerate(groups):
            interval = _interval(ratio_draws, i)
            flagged = interval is not None and interval[1] < min_ratio
            entries.append(
                {
                    "group": group,
                    "share": _finite(float(share[i])),
                    "share_interval": _interval(share_draws, i),
                    "eligible_share": _finite(float(eligible_share[i])),
                    "eligible_share_interval": _interval(eligible_draws, i),
                    "ratio": _finite(float(ratio[i])),
                    "ratio_interval": interval,
                    "flagged": flagged,
                }
            )
        out_audiences.append(
            {"audience": audience, "groups": entries, "flagged": any(e["flagged"] for e in entries)}
        )
    flagged_groups = sorted(
        {str(e["group"]) for a in out_audiences for e in a["groups"] if e["flagged"]}
    )
    return {
        "attribute": key,
        "eligible": eligible,
        "min_ratio": min_ratio,
        "audiences": out_audiences,
        "flagged": bool(flagged_groups),
        "flagged_groups": flagged_groups,
        "method": (
            "shares and disparity ratios of the released counts; 95% percentile intervals of "
            f"{DRAWS} parametric-bootstrap draws of each count's noise (DP noise only, not "
            "sampling); a group is flagged when its ratio's interval lies below min_ratio"
        ),
    }
