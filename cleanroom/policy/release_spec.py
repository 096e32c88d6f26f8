"""What the release checker learns about the outermost SELECT: keys, measurements, outputs.

Plain records shared by the checker (:mod:`cleanroom.policy.release`,
:mod:`cleanroom.policy.measures`) and the rewrite (:mod:`cleanroom.policy.rewrite_release`).

>>> m = MeasurementSpec("n", "person_count", 0, 1, True, lambda: exp.Count(this=exp.Star()))
>>> m.partial().sql()
'COUNT(*)'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from cleanroom.plan import OrderItem, Output, PostExpr
from cleanroom.policy.scope import Scope


@dataclass
class MeasurementSpec:
    column: str
    kind: str  # person_count | row_count | sum
    lower: float
    upper: float
    integer: bool
    # Builds the per (group, pid) aggregate, before clamping, from the template's tree as it is
    # when the rewrite runs: after totality and after every dataset reference was wrapped, so
    # the partial can only read wrapped sources (and copies made at check time cannot leak).
    partial: Callable[[], exp.Expr]
    unconditional: bool = False


@dataclass
class KeySpec:
    name: str
    expr: exp.Expr
    domain: tuple[object, ...] | None
    kind: str | None = None  # see policy.values: decides how the rewrite canonicalises it
    integer: bool = False


@dataclass
class ReleaseSpec:
    scope: Scope
    pid: tuple[str, str]
    keys: list[KeySpec] = field(default_factory=list)
    measurements: list[MeasurementSpec] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    having: PostExpr | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    person_count: str = ""
    added_person_count: bool = False
    consent_key: str | None = None  # the group key that is a consent analysis's ``consented``
