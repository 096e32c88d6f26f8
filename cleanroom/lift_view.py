"""A report's ``lift`` member as people read it, and the same effects from exact rows.

The lift itself (estimates, intervals, significance) is computed after noise by
:mod:`cleanroom.dp.lift`; this leaf module only reads the member, so the CLI, the demo and the
tests share one rendering without reaching into ``dp``.

>>> lift = {"campaigns": [{"group": {"campaign_id": "c1"},
...     "lift": {"value": 0.12, "interval": [0.05, 0.19], "significant": True}}]}
>>> lift_lines(lift)
['campaign_id=c1: lift +12.0% [+5.0%, +19.0%]: significant at 95%']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

USERS, BUYERS, SALES = "users", "buyers", "sales"  # the lift template's output names


def significance_text(estimate: Mapping[str, Any]) -> str:
    """The plain statement for one estimate."""
    if estimate.get("value") is None:
        return "not computed: " + str(estimate.get("reason", "no value"))
    return "significant at 95%" if estimate.get("significant") else "not significant at 95%"


_LABELS = (
    ("lift", "lift", "{:+.1%}"),
    ("incremental_buyers", "incremental buyers", "{:,.0f}"),
    ("incremental_sales", "incremental sales (cents)", "{:,.0f}"),
)


def campaign_label(group: Mapping[str, Any]) -> str:
    """``campaign_id=c1``: a campaign's group keys as one label."""
    return ", ".join(f"{k}={v}" for k, v in group.items())


def exact_effects(
    cells_of: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], campaign_keys: Sequence[str]
) -> dict[str, dict[str, float]]:
    """The same effects computed from exact (un-noised) per-cell rows, by campaign label:
    what a lift interval claims to cover (the demo and the tests compare with it).
    ``cells_of`` names the cell key and its two values (``{"cell", "test", "holdout"}``, as the
    report's ``lift`` member and ``LiftSpec.to_dict()`` do)."""
    cell, test, holdout = str(cells_of["cell"]), str(cells_of["test"]), str(cells_of["holdout"])
    cells: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in rows:
        label = campaign_label({k: row.get(k) for k in campaign_keys})
        cells.setdefault(label, {})[str(row.get(cell))] = row
    out = {}
    for label, by_cell in cells.items():
        t, h = by_cell.get(test), by_cell.get(holdout)
        if t is None or h is None or not h[USERS] or not h[BUYERS] or not t[USERS]:
            continue
        n_t, n_h = float(t[USERS]), float(h[USERS])
        effects = {
            "lift": (float(t[BUYERS]) / n_t) / (float(h[BUYERS]) / n_h) - 1,
            "incremental_buyers": float(t[BUYERS]) - n_t * float(h[BUYERS]) / n_h,
        }
        if SALES in t and SALES in h:
            effects["incremental_sales"] = float(t[SALES]) - n_t * float(h[SALES]) / n_h
        out[label] = effects
    return out


def lift_lines(
    lift: Mapping[str, Any], exact: Mapping[str, Mapping[str, float]] | None = None
) -> list[str]:
    """The ``lift`` member for a terminal: one line per campaign and estimate, with its 95%
    interval and the plain significance statement (the CLI's report and the demo print it);
    with ``exact`` (from :func:`exact_effects`), each line also says whether the exact effect
    lies inside the interval."""
    lines = []
    for campaign in lift.get("campaigns") or []:
        where = campaign_label(campaign.get("group") or {})
        truth = (exact or {}).get(where, {})
        for key, label, fmt in _LABELS:
            estimate = campaign.get(key)
            if estimate is None:
                continue
            if estimate.get("value") is None:
                lines.append(f"{where}: {label}: {significance_text(estimate)}")
                continue
            lo, hi = estimate["interval"]
            shown = f"{fmt.format(estimate['value'])} [{fmt.format(lo)}, {fmt.format(hi)}]"
            line = f"{where}: {label} {shown}: {significance_text(estimate)}"
            if key in truth:
                inside = "inside" if lo <= truth[key] <= hi else "OUTSIDE"
                line += f" (exact {fmt.format(truth[key])}: {inside})"
            lines.append(line)
    return lines
