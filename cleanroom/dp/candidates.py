"""From the engine's exact per-group table to the candidate groups and their exact vectors.

The engine's table has one row per group: the group key columns (named as the plan's group keys)
and one column per measurement. Public-key releases use the cross product of the declared domains
as candidates (zero-filled, rows outside the domains dropped); others use the groups present,
minus any whose value of a key with a public domain is outside that domain.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cleanroom.dp.postprocess import Value
from cleanroom.dp.selection import public_candidates
from cleanroom.errors import InternalError
from cleanroom.plan import Measurement, ReleasePlan

GroupTuple = tuple[Value, ...]


@dataclass(frozen=True)
class Candidates:
    groups: list[GroupTuple]
    exact: dict[str, list[int | float]]  # measurement column -> value per candidate group


def json_value(value: Any) -> Value:
    """A group-key value as JSON can carry it (dates as ISO strings, decimals as numbers)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def candidates(plan: ReleasePlan, table: pa.Table) -> Candidates:
    """Candidate groups and their exact measurement vectors (in candidate order)."""
    key_names = [k.name for k in plan.group_keys]
    missing = [
        n for n in key_names + [m.column for m in plan.measurements] if n not in table.schema.names
    ]
    if missing:
        raise InternalError("the engine's result does not match the release plan; this is a bug")
    keys = [[json_value(v) for v in table.column(n).to_pylist()] for n in key_names]
    observed = list(zip(*keys, strict=True)) if keys else [()] * table.num_rows
    # The rewrite canonicalises group keys in SQL, so two engine rows never share a JSON key;
    # should they anyway, their exact values are added (never an error that depends on data).
    by_group: dict[GroupTuple, list[int]] = {}
    for row, group in enumerate(observed):
        by_group.setdefault(group, []).append(row)

    if plan.keys_are_public:
        groups = [tuple(json_value(v) for v in g) for g in public_candidates(plan)]
    else:
        domains = [
            None if k.public_domain is None else {json_value(v) for v in k.public_domain}
            for k in plan.group_keys
        ]
        groups = sorted(
            (
                g
                for g in by_group
                if all(d is None or v in d for d, v in zip(domains, g, strict=True))
            ),
            key=_group_order,
        )
    exact = {
        m.column: _column_values(m, table.column(m.column).to_pylist(), groups, by_group)
        for m in plan.measurements
    }
    return Candidates(groups, exact)


def _column_values(
    m: Measurement,
    values: list[Any],
    groups: list[GroupTuple],
    by_group: dict[GroupTuple, list[int]],
) -> list[int | float]:
    out: list[int | float] = []
    for group in groups:
        rows = by_group.get(group, [])
        total: int | float = 0 if m.integer else 0.0
        for row in rows:
            total += _exact(m, values[row])
        out.append(total)
    return out


def _exact(m: Measurement, value: Any) -> int | float:
    """One exact aggregate as an int (integer measurements) or float; absent or NULL is 0."""
    if value is None:
        return 0 if m.integer else 0.0
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InternalError("the engine returned a non-numeric aggregate; this is a bug")
    if isinstance(value, float) and not math.isfinite(value):
        raise InternalError("the engine returned a non-finite aggregate; this is a bug")
    if m.integer:
        # The rewrite rounds integer partials after their clamp; round here too, never fail.
        return round(value)
    return float(value)


def _group_order(group: GroupTuple) -> tuple[tuple[int, str, Any], ...]:
    # A stable order for released rows that depends only on the keys, never on the engine's
    # (possibly data-dependent) row order. NULLs last; numbers before strings within a column.
    return tuple(
        (1, "", 0) if v is None else (0, "number" if isinstance(v, int | float) else "text", v)
        for v in group
    )
