"""Holdout lift of a randomized test: the ``lift`` member of a lift release's report.

A template declares itself a lift release with the header line ``-- lift: <cell> <test>
<holdout>``: ``<cell>`` is the group key that holds the randomized cell, ``<test>`` and
``<holdout>`` its two values. Its outputs must include the person counts ``users`` (people in
the cell) and ``buyers`` (people who converted), and may include the sum ``sales`` (each as a
measurement as is). Every other group key (the campaign) names one test. Per test, with
``n``, ``b``, ``s`` the released users, buyers and sales of a cell (``t`` test, ``h`` holdout):

- **lift** ``(b_t / n_t) / (b_h / n_h) - 1``, the relative change of the conversion rate;
- **incremental buyers** ``b_t - n_t * b_h / n_h``;
- **incremental sales** ``s_t - n_t * s_h / n_h`` (in the sum's units: cents).

These are intention-to-treat effects of assignment to the test cell. Each has a 95% interval
(normal approximation, the delta method) whose variance adds two independent parts:

- **DP noise**: each released value's noise variance from its mechanism and scale as the report
  states them (discrete Laplace with scale ``b``: at most ``2 b**2``; discrete Gaussian with scale
  ``sigma``: at most ``sigma**2``);
- **sampling**: buyers are binomial in the cell's users (``n p (1 - p)``). Per-person sales
  variance is not released, so it is bounded: a person's sales in a group lie within the sum's
  declared per-person bounds ``[lo, hi]``, and a variable in ``[lo, hi]`` with mean ``m`` has
  variance at most ``(m - lo) (hi - m)`` (the Bhatia-Davis inequality), with ``m = s / n``. The
  sales interval is therefore conservative (wider than the true sampling error).

The lift interval is computed on ``log(1 + lift)`` and mapped back (it never goes below -1).
A result is **significant at 95%** when its interval excludes 0. Everything here is
post-processing of released values and of scales the report already states: no privacy loss.

>>> spec = parse_lift("cell test holdout")
>>> rows = [{"campaign_id": "c1", "cell": "test", "users": 90000, "buyers": 9900, "sales": 9e6},
...         {"campaign_id": "c1", "cell": "holdout", "users": 10000, "buyers": 1000,
...          "sales": 9e5}]
>>> mechanisms = [{"column": c, "mechanism": "discrete_laplace", "scale": s}
...               for c, s in (("users", 4.0), ("buyers", 4.0), ("sales", 40000.0))]
>>> bounds = {"users": (0.0, 1.0), "buyers": (0.0, 1.0), "sales": (0.0, 30000.0)}
>>> found = lift_of(spec, rows, ["campaign_id"], mechanisms, bounds)
>>> entry = found["campaigns"][0]
>>> round(entry["lift"]["value"], 3), entry["lift"]["significant"]
(0.1, True)
>>> round(entry["incremental_buyers"]["value"]), entry["incremental_sales"]["significant"]
(900, False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

from cleanroom.dp.mechanisms import CONFIDENCE
from cleanroom.lift_view import BUYERS, SALES, USERS
from cleanroom.types import Col, LiftSpec, Measurement, ReleasePlan, parse_lift

__all__ = [
    "LiftSpec",
    "group_key_outputs",
    "lift_of",
    "lift_problem",
    "measured_outputs",
    "parse_lift",
]
Z = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2)

METHOD = (
    "intention-to-treat effects of the test cell against the randomized holdout; 95% normal "
    "intervals (delta method) whose variance adds the DP noise of every released value (its "
    "mechanism's scale) and sampling error: binomial for buyers, and for sales at most "
    "(m - lo)(hi - m) per person (m the cell's sales per user, [lo, hi] the declared per-person "
    "bounds), so the sales interval is conservative; significant at 95% when the interval "
    "excludes 0"
)


def measured_outputs(plan: ReleasePlan) -> dict[str, Measurement]:
    """Each output that is a measurement as is, by output name."""
    by_column = {m.column: m for m in plan.measurements}
    return {
        o.name: by_column[o.expr.name]
        for o in plan.outputs
        if not o.is_group_key and isinstance(o.expr, Col) and o.expr.name in by_column
    }


def group_key_outputs(plan: ReleasePlan) -> list[str]:
    """The names of the outputs that are group keys (the released rows' key columns)."""
    return [o.name for o in plan.outputs if o.is_group_key]


def lift_problem(spec: LiftSpec, plan: ReleasePlan) -> str | None:
    """Why ``plan``'s release cannot carry ``spec``'s lift (None when it can)."""
    group_keys = group_key_outputs(plan)
    measured = {name: m.kind for name, m in measured_outputs(plan).items()}
    if spec.cell not in group_keys:
        return f"the lift header names the cell key '{spec.cell}', which is not a group key"
    for name in (USERS, BUYERS):
        if measured.get(name) != "person_count":
            return f"a lift release needs a person count output named '{name}'"
    if SALES in measured and measured[SALES] != "sum":
        return f"the '{SALES}' output of a lift release must be a sum"
    return None


def _variance(mechanism: Mapping[str, Any] | None) -> float:
    """An upper bound on the variance of one released value's noise."""
    if not mechanism:
        return 0.0
    scale = float(mechanism.get("scale") or 0.0)
    if "gaussian" in str(mechanism.get("mechanism", "")):
        return scale**2
    return 2.0 * scale**2


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _estimate(value: float, variance: float) -> dict[str, Any]:
    half = Z * math.sqrt(max(variance, 0.0))
    lo, hi = value - half, value + half
    return {"value": value, "interval": [lo, hi], "significant": lo > 0 or hi < 0}


def _missing(reason: str) -> dict[str, Any]:
    return {"value": None, "interval": None, "significant": False, "reason": reason}


def _incremental(
    n_t: float, n_h: float, y_t: float, y_h: float, dp: Mapping[str, float], sampling: float
) -> dict[str, Any]:
    """``y_t - n_t * y_h / n_h`` with its interval; ``dp`` the noise variances of
    ``n_t, n_h, y_t, y_h``; ``sampling`` the sampling variance of the estimate."""
    r, rate = n_t / n_h, y_h / n_h
    noise = dp["y_t"] + rate**2 * dp["n_t"] + r**2 * dp["y_h"] + (r * rate) ** 2 * dp["n_h"]
    return _estimate(y_t - n_t * rate, noise + sampling)


def _one(
    cells: Mapping[str, Mapping[str, Any]],
    spec: LiftSpec,
    variances: Mapping[str, float],
    sales_bounds: tuple[float, float] | None,
) -> dict[str, Any]:
    test, hold = cells.get(spec.test), cells.get(spec.holdout)
    names = [USERS, BUYERS] + ([SALES] if sales_bounds is not None else [])
    if test is None or hold is None:
        reason = "a cell was not released (thresholded or suppressed)"
        return {name: _missing(reason) for name in ("lift", "incremental_buyers")} | (
            {"incremental_sales": _missing(reason)} if sales_bounds is not None else {}
        )
    t = {k: _number(test.get(k)) for k in names}
    h = {k: _number(hold.get(k)) for k in names}
    out: dict[str, Any] = {}
    n_t, n_h, b_t, b_h = t[USERS], h[USERS], t[BUYERS], h[BUYERS]
    if n_t is None or n_h is None or n_t <= 0 or n_h <= 0 or b_t is None or b_h is None:
        reason = "a cell has no users or no released buyers"
        out["lift"] = _missing(reason)
        out["incremental_buyers"] = _missing(reason)
        if sales_bounds is not None:
            out["incremental_sales"] = _missing(reason)
        return out
    p_t, p_h = min(b_t / n_t, 1.0), min(b_h / n_h, 1.0)
    var_n, var_b = variances.get(USERS, 0.0), variances.get(BUYERS, 0.0)
    binomial = n_t * p_t * (1 - p_t) + (n_t / n_h) ** 2 * n_h * p_h * (1 - p_h)
    out["incremental_buyers"] = _incremental(
        n_t, n_h, b_t, b_h, {"n_t": var_n, "n_h": var_n, "y_t": var_b, "y_h": var_b}, binomial
    )
    if b_t > 0 and b_h > 0:
        log_var = (
            (1 - p_t) / b_t + (1 - p_h) / b_h + var_b / b_t**2 + var_b / b_h**2
            + var_n / n_t**2 + var_n / n_h**2
        )  # fmt: skip
        log_ratio = math.log(p_t / p_h)
        half = Z * math.sqrt(log_var)
        lo, hi = math.expm1(log_ratio - half), math.expm1(log_ratio + half)
        out["lift"] = {
            "value": math.expm1(log_ratio),
            "interval": [lo, hi],
            "significant": lo > 0 or hi < 0,
        }
    else:
        out["lift"] = _missing("a cell has no buyers: the ratio of rates is undefined")
    if sales_bounds is not None:
        s_t, s_h = t[SALES], h[SALES]
        if s_t is None or s_h is None:
            out["incremental_sales"] = _missing("a cell has no released sales")
        else:
            lo_b, hi_b = sales_bounds
            spread = [
                max((min(max(s / n, lo_b), hi_b) - lo_b) * (hi_b - min(max(s / n, lo_b), hi_b)), 0)
                for s, n in ((s_t, n_t), (s_h, n_h))
            ]
            sampling = n_t * spread[0] + (n_t / n_h) ** 2 * n_h * spread[1]
            var_s = variances.get(SALES, 0.0)
            out["incremental_sales"] = _incremental(
                n_t, n_h, s_t, s_h, {"n_t": var_n, "n_h": var_n, "y_t": var_s, "y_h": var_s},
                sampling,
            )  # fmt: skip
    return out


def lift_of(
    spec: LiftSpec,
    rows: Sequence[Mapping[str, Any]],
    campaign_keys: Sequence[str],
    mechanisms: Sequence[Mapping[str, Any]],
    bounds: Mapping[str, tuple[float, float]],
) -> dict[str, Any]:
    """The ``lift`` member: per campaign (the values of ``campaign_keys``, every group key but
    the cell), its lift, incremental buyers and (when ``sales`` is released) incremental sales.
    ``mechanisms`` are the report's, by output name (the outputs are measurements as is);
    ``bounds`` the per-person bounds of those measurements."""
    by_column = {str(m["column"]): m for m in mechanisms}
    has_sales = SALES in bounds
    variances = {
        name: _variance(by_column.get(name))
        for name in (USERS, BUYERS, SALES)
        if name != SALES or has_sales
    }
    grouped: dict[tuple[Any, ...], dict[str, Mapping[str, Any]]] = {}
    for row in rows:
        key = tuple(row.get(k) for k in campaign_keys)
        grouped.setdefault(key, {})[str(row.get(spec.cell))] = row
    campaigns = []
    for key in sorted(grouped, key=lambda k: tuple(str(v) for v in k)):
        entry = _one(grouped[key], spec, variances, bounds.get(SALES) if has_sales else None)
        campaigns.append({"group": dict(zip(campaign_keys, key, strict=True)), **entry})
    return {
        **spec.to_dict(),
        "confidence": CONFIDENCE,
        "campaigns": campaigns,
        "units": {"incremental_sales": "the sales output's units (cents)"} if has_sales else {},
        "method": METHOD,
    }
