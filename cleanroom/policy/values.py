"""What the checker knows about a value: is it ``pid``, may it be a group key, its numeric bounds.

Bounds are closed intervals ``(lo, hi)`` propagated by interval arithmetic.

>>> add((0, 10), (5, 6)), mul((-1, 2), (3, 4)), div((0, 10), (2, 5))
((5, 16), (-4, 8), (0.0, 5.0))
>>> div((0, 10), (-1, 1)) is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

Interval = tuple[float, float]
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Val:
    """Facts about one expression's value in one scope."""

    pid: bool = False  # a person key (``pid`` of some personal relation)
    nullable: bool = False  # a person key that is NULL on unmatched rows (LEFT/ASOF right side)
    groupable: bool = True  # may be a release group key (no raw personal metric in it)
    bounds: Interval | None = None  # numeric range, when known
    integer: bool = False  # integer valued (discrete noise)
    domain: tuple[Scalar, ...] | None = None  # public set of values, when known
    metrics: frozenset[str] = frozenset()  # "dataset.column" of personal metrics it derives from
    aggregate: bool = False  # contains an aggregate function of the current scope
    literal: bool = False  # a constant
    reference: bool = False  # derived from a reference dataset (contents a partner chooses)
    kind: str | None = None  # "number" | "text" | "time" | "bool" | "interval"; None: unknown
    sensitive: bool = False  # a sensitive column (declared protected-class proxy), or from one
    consent: bool = False  # a consent analysis's ``consented`` column, or from one

    @property
    def owner(self) -> bool:
        """The row owner's key: a person key that is never NULL (partitions, groups, correlates)."""
        return self.pid and not self.nullable

    def with_(self, **changes: object) -> Val:
        return replace(self, **changes)  # type: ignore[arg-type]


CONST = Val(literal=True)
NUMBER, TEXT, TIME, BOOL, INTERVAL = "number", "text", "time", "bool", "interval"


def merge(*vals: Val) -> Val:
    """Facts of an expression combining ``vals`` (no bounds or kind: the caller sets them)."""
    return Val(
        groupable=all(v.groupable for v in vals),
        metrics=frozenset().union(*(v.metrics for v in vals)),
        aggregate=any(v.aggregate for v in vals),
        literal=all(v.literal for v in vals),
        reference=any(v.reference for v in vals),
        sensitive=any(v.sensitive for v in vals),
        consent=any(v.consent for v in vals),
    )


def common_kind(vals: list[Val]) -> str | None:
    """The kind shared by ``vals`` (None when they differ or one is unknown)."""
    kinds = {v.kind for v in vals if not (v.literal and v.kind is None)}  # NULL fits any kind
    return kinds.pop() if len(kinds) == 1 else None


def add(a: Interval, b: Interval) -> Interval:
    return (a[0] + b[0], a[1] + b[1])


def sub(a: Interval, b: Interval) -> Interval:
    return (a[0] - b[1], a[1] - b[0])


def mul(a: Interval, b: Interval) -> Interval:
    products = [x * y for x in a for y in b]
    return (min(products), max(products))


def div(a: Interval, b: Interval) -> Interval | None:
    if b[0] <= 0 <= b[1]:
        return None
    quotients = [x / y for x in a for y in b]
    return (min(quotients), max(quotients))


def union(intervals: list[Interval | None]) -> Interval | None:
    if not intervals or any(i is None for i in intervals):
        return None
    known = [i for i in intervals if i is not None]
    return (min(i[0] for i in known), max(i[1] for i in known))


def finite(interval: Interval | None) -> Interval | None:
    if interval is None or not all(math.isfinite(x) for x in interval):
        return None
    return interval


def intersect(a: Interval | None, b: Interval) -> Interval:
    """Declared bounds tighten known ones; they supply bounds where none are known."""
    if a is None:
        return b
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else b
