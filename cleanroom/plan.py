"""The release plan: what ``policy`` tells ``dp`` about the engine's result.

The engine's result has one row per group: the group key columns, then one column per
measurement, each already the exact sum across people of per-person contributions clamped to
[lower, upper], with each person in at most ``max_groups`` groups. ``dp`` adds noise to each
measurement, selects partitions, then evaluates the outputs (post-processing).
:class:`CompiledQuery` carries the plan with the engine SQL it describes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

MeasurementKind = Literal["person_count", "row_count", "sum"]


@dataclass(frozen=True)
class Measurement:
    column: str
    kind: MeasurementKind
    lower: float  # per person per group
    upper: float
    integer: bool  # integer-valued: discrete noise
    max_groups: int  # groups a person may touch (max_groups_per_user, 1 for a single group)
    # No FILTER: a row count and a person count that are both unconditional count the same
    # people's rows, so the row count is never below the person count (post-processing uses it).
    unconditional: bool = False

    @property
    def bound(self) -> float:
        """Largest absolute contribution of one person to one group."""
        return max(abs(self.lower), abs(self.upper))

    @property
    def l1_sensitivity(self) -> float:
        return self.max_groups * self.bound

    @property
    def l2_sensitivity(self) -> float:
        return math.sqrt(self.max_groups) * self.bound

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "bounds": [self.lower, self.upper],
            "integer": self.integer,
            "max_groups": self.max_groups,
            "l1_sensitivity": self.l1_sensitivity,
        }


@dataclass(frozen=True)
class Col:
    """Post-noise expression: a group key or a noisy measurement by column name."""

    name: str


@dataclass(frozen=True)
class Lit:
    value: str | int | float | bool | None


@dataclass(frozen=True)
class Op:
    """``op`` is one of + - * / (arithmetic), = <> < <= > >= and or not (HAVING), neg,
    or a function among round, floor, ceil, abs, coalesce, nullif, least, greatest."""

    op: str
    args: tuple[PostExpr, ...]


PostExpr = Col | Lit | Op


@dataclass(frozen=True)
class GroupKey:
    name: str  # output column name
    public_domain: tuple[str | int | float | bool | None, ...] | None = None


@dataclass(frozen=True)
class Output:
    name: str
    expr: PostExpr
    is_group_key: bool = False


@dataclass(frozen=True)
class OrderItem:
    expr: PostExpr
    descending: bool = False


@dataclass(frozen=True)
class ReleasePlan:
    group_keys: tuple[GroupKey, ...]
    measurements: tuple[Measurement, ...]
    person_count: str  # the measurement column used for thresholding and min_users_per_row
    outputs: tuple[Output, ...]
    having: PostExpr | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    max_groups_per_user: int = 1
    min_users_per_row: int = 50
    added_person_count: bool = False  # measured for partition selection, not asked for

    @property
    def keys_are_public(self) -> bool:
        return all(k.public_domain is not None for k in self.group_keys)


@dataclass(frozen=True)
class CompiledQuery:
    """A validated, bound and rewritten template, ready for an engine and for ``dp``."""

    duckdb_sql: str
    spark_sql: str
    plan: ReleasePlan
    datasets: tuple[str, ...]  # dataset names the query reads (views: dataset_view(name))
    parameters: Mapping[str, Any] = field(default_factory=dict)
    pin: str = ""  # hash of the normalized AST with parameter values abstracted
    # A consent analysis: the group key that is its dataset's ``consented`` (cleanroom.dp.opt_in).
    consent_key: str | None = None
