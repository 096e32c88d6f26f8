"""The opt-in rate of a consent analysis: the ``opt_in`` member of its report.

A consent analysis (template header ``-- consent: <dataset>``) reads that dataset without its
consent filter for the template's purpose and groups its release by ``consented``, the consent
as a total boolean with the public values FALSE and TRUE (zero-filled, so no threshold). Its
person count gives ``y`` people with consent and ``n`` without, per combination of any other
group keys; the opt-in rate is ``y / (y + n)``, computed after noise.

A person whose rows have both consent values is counted in both groups (the release bounds them
by its group cap like any other release), so ``y + n`` counts such a person twice: a dataset
with one row per person (customers) has none.

The rate's 95% interval is computed the way a derived output's is (:mod:`cleanroom.dp.intervals`):
each of the two noisy counts gets the (1 - 0.05 / 2) interval of its noise (Bonferroni), clipped
at 0; both hold together with probability at least 95%, and then the exact rate lies between the
rate's smallest and largest value over those two intervals. The rate grows with ``y`` and falls
with ``n``, so those are ``y_lo / (y_lo + n_hi)`` and ``y_hi / (y_hi + n_lo)``: interval
arithmetic over ``1 / (1 + n / y)``, where each count appears once. Post-processing of released
values and of the scales the report states: no privacy loss.

>>> rows = [{"consented": False, "people": 300}, {"consented": True, "people": 700}]
>>> mechanisms = [{"column": "people", "mechanism": "discrete_laplace", "scale": 2.0}]
>>> found = opt_in_of(rows, "consented", "people", [], mechanisms, "customers", "measurement")
>>> entry = found["groups"][0]
>>> entry["rate"], [round(b, 3) for b in entry["interval"]]
(0.7, [0.692, 0.708])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cleanroom.dp.explanation import NOTES
from cleanroom.dp.intervals import Interval, half_width
from cleanroom.dp.mechanisms import ALPHA, noise_half_width
from cleanroom.dp.postprocess import Value

METHOD = (
    "the rate consented / (consented + not consented) of the released person counts; its 95% "
    "interval is the rate's range over the Bonferroni-adjusted intervals of the two noisy "
    "counts (each at 1 - 0.05/2, clipped at 0), as for any derived output: it covers the DP "
    "noise, not sampling; null when a count was not released or the interval reaches 0 / 0"
)
PARTS = 2  # noisy measurements the rate reads (Bonferroni)


def _noisy(value: float, mechanism: Mapping[str, Any]) -> Interval:
    width = noise_half_width(
        str(mechanism.get("mechanism", "")), float(mechanism.get("scale", 0.0)), ALPHA / PARTS
    )
    return Interval(max(value - width, 0.0), max(value + width, 0.0))


def _ratio(top: float, rest: float) -> float | None:
    return None if top + rest <= 0 else top / (top + rest)


def _entry(
    group: dict[str, Value], yes: Value, no: Value, mechanism: Mapping[str, Any]
) -> dict[str, Any]:
    entry: dict[str, Any] = {"group": group, "consented": yes, "not_consented": no}
    if not isinstance(yes, int | float) or not isinstance(no, int | float):
        return {**entry, "rate": None, "interval": None, "half_width": None, "note": "no_value"}
    rate = _ratio(float(yes), float(no))
    y, n = _noisy(float(yes), mechanism), _noisy(float(no), mechanism)
    lo, hi = _ratio(y.lo, n.hi), _ratio(y.hi, n.lo)
    if rate is None or lo is None or hi is None:
        note = "no_value" if rate is None else "no_interval"
        return {**entry, "rate": rate, "interval": None, "half_width": None, "note": note}
    bounds = Interval(min(lo, rate), max(hi, rate))  # the released rate is always inside
    return {
        **entry,
        "rate": rate,
        "interval": [bounds.lo, bounds.hi],
        "half_width": half_width(rate, bounds),
    }


def opt_in_of(
    rows: Sequence[Mapping[str, Value]],
    key: str,
    count: str,
    others: Sequence[str],
    mechanisms: Sequence[Mapping[str, Any]],
    dataset: str,
    purpose: str,
) -> dict[str, Any]:
    """The ``opt_in`` member: ``key`` is the ``consented`` group key's output, ``count`` a person
    count output (a measurement as is), ``others`` the other group keys' outputs and
    ``mechanisms`` the report's (for the noise scales)."""
    mechanism = next((m for m in mechanisms if m.get("column") == count), {})
    by_group: dict[tuple[Value, ...], dict[bool, Value]] = {}
    for row in rows:
        value = row.get(key)
        if isinstance(value, bool):
            group = tuple(row.get(o) for o in others)
            by_group.setdefault(group, {})[value] = row.get(count)
    groups = [
        _entry(dict(zip(others, group, strict=True)), found.get(True), found.get(False), mechanism)
        for group, found in by_group.items()
    ]
    return {
        "dataset": dataset,
        "purpose": purpose,
        "key": key,
        "count": count,
        "groups": groups,
        "method": METHOD,
        "explanations": explanations(key, count, dataset, purpose, groups),
    }


def explanations(
    key: str, count: str, dataset: str, purpose: str, groups: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """What each cell of the ``opt_in`` member is, in words (the pattern of the report's
    ``explanations``: one text per cell kind, and a note for only the cells one applies to)."""
    cells = [
        {"group": i, "column": "rate", "note": g["note"]}
        for i, g in enumerate(groups)
        if "note" in g
    ]
    return {
        "consented": (
            f"The released {count} of the row whose {key} is TRUE: people of dataset '{dataset}' "
            f"with consent for purpose '{purpose}' (a missing or NULL consent is FALSE)."
        ),
        "not_consented": f"The released {count} of the row whose {key} is FALSE.",
        "rate": (
            "Derived after noise as consented / (consented + not_consented) (post-processing, "
            "no further privacy loss). Its interval: " + METHOD + "."
        ),
        "notes": {code: NOTES[code] for code in sorted({c["note"] for c in cells})},
        "cells": cells,
    }
