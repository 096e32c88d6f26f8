"""The one rule for "does this privacy loss fit the budget", used by every layer that asks.

A budget coordinate (epsilon or delta) has a total and a spend. A request fits when
``spent + requested <= total * (1 + RELATIVE_TOLERANCE)``: the tolerance is relative, so float
sums that drift by a few ulps (``10 * 0.1 != 1.0``) can still spend a budget exactly, and it is
zero for a zero total, so a collaboration with ``delta_budget: 0`` never spends any delta. The
ledger's SQL (``allowance``), the preview and the run planning all use these functions.

>>> fits(0.1, spent=0.9, total=1.0), fits(1e-9, spent=0.0, total=0.0)
(True, False)
>>> refusal({"epsilon": 0.5, "delta": 2e-7}, {"epsilon": 3.0, "delta": 1e-7})
'this run needs delta=2e-07 but only delta=1e-07 remains in the budget (short by 1e-07)'
"""

from __future__ import annotations

from collections.abc import Mapping

RELATIVE_TOLERANCE = 1e-9
COORDINATES = ("epsilon", "delta")


def allowance(total: float) -> float:
    """The most that may be spent from ``total`` (the total plus the relative tolerance)."""
    return total * (1.0 + RELATIVE_TOLERANCE)


def fits(requested: float, *, spent: float, total: float) -> bool:
    """Does spending ``requested`` more keep the coordinate within its total?"""
    return spent + requested <= allowance(total)


def remaining(spent: float, total: float) -> float:
    """What is left, never negative, with float noise below the tolerance snapped to zero."""
    left = total - spent
    return 0.0 if left <= RELATIVE_TOLERANCE * total else left


def binding(requested: Mapping[str, float], left: Mapping[str, float]) -> str | None:
    """The coordinate that refuses ``requested`` given what is ``left`` (epsilon first), or None
    when both fit."""
    for name in COORDINATES:
        want, have = float(requested.get(name, 0.0)), float(left.get(name, 0.0))
        if want > have * (1.0 + RELATIVE_TOLERANCE):
            return name
    return None


def refusal(requested: Mapping[str, float], left: Mapping[str, float]) -> str:
    """The message for a refused charge: the binding coordinate, what it needs, what remains and
    the difference."""
    name = binding(requested, left) or "epsilon"
    want, have = float(requested.get(name, 0.0)), float(left.get(name, 0.0))
    return (
        f"this run needs {name}={want:g} but only {name}={have:g} remains in the budget "
        f"(short by {want - have:g})"
    )
