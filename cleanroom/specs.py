"""Dataset specs, column specs, template parameter specs and the collaboration policy.

All are frozen dataclasses with explicit ``from_dict`` (validating, raising
:class:`~cleanroom.errors.InvalidRequest` / :class:`~cleanroom.errors.DatasetInvalid` with a
message a person can act on) and ``to_dict``. No third-party imports.

>>> p = CollaborationPolicy.from_dict({"epsilon_budget": 5, "purposes": ["measurement"]})
>>> p.min_users_per_row, p.max_groups_per_user
(50, 4)
>>> CollaborationPolicy.from_dict({"min_users_per_row": 3})
Traceback (most recent call last):
...
cleanroom.errors.InvalidRequest: policy.min_users_per_row must be an integer from 10 to 1000000
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanroom import ranges
from cleanroom.errors import DatasetInvalid, InvalidRequest
from cleanroom.names import NAME_RE, PID, RESERVED_PREFIX, is_reserved_name
from cleanroom.ranges import MAX_ABS_BOUND

COLUMN_ROLES = (
    "identifier", "dimension", "metric", "timestamp", "consent", "blocked", "sensitive",
)  # fmt: skip
# A sensitive column holds a declared protected-class proxy (age band, gender, region ...): a
# template may only carry it as a plain column and group a fairness analysis's release by it.
FAIRNESS_PURPOSE = "fairness"
METRIC_TYPES = ("integer", "number")  # how a metric is stored: BIGINT or DOUBLE
DATASET_KINDS = ("personal", "reference")
RELEASE_AGGREGATES = ("SUM", "AVG", "COUNT")
PARAM_TYPES = ("str", "int", "float", "bool", "date", "timestamp", "list[str]", "list[int]")


def _finite_number(value: Any, what: str, error: type[InvalidRequest | DatasetInvalid]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"{what} must be a number")
    if not ranges.is_finite_number(value):
        raise error(f"{what} must be finite")
    return float(value)


def _check_name(value: Any, what: str, error: type[InvalidRequest | DatasetInvalid]) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise error(
            f"{what} must be a lower-case name of letters, digits and underscores "
            "starting with a letter (at most 63 characters)"
        )
    if is_reserved_name(value):
        raise error(f"{what} must not start with '{RESERVED_PREFIX}' (reserved for the engine)")
    return value


def _in_range(data: Mapping[str, Any], key: str, default: Any, allowed: ranges.Range) -> Any:
    return allowed.check(data.get(key, default), f"policy.{key}")


@dataclass(frozen=True)
class CollaborationPolicy:
    """Rules of one collaboration (docs/specs.md, Collaboration policy)."""

    epsilon_budget: float = 10.0
    delta_budget: float = 1e-6
    min_users_per_row: int = 50
    max_groups_per_user: int = 4
    max_count_per_user: int = 10
    max_epsilon_per_run: float = 2.0
    budget_refresh: str | None = None  # ISO-8601 duration such as "P30D"; None: never refreshes
    purposes: tuple[str, ...] = ("measurement", "audience_sizing")
    # A fairness analysis flags a campaign for human review when a group's rate, relative to the
    # whole eligible population's, is below this ratio with its 95% interval excluding it (the
    # four-fifths rule by default).
    fairness_min_ratio: float = 0.8

    KEYS = (
        "epsilon_budget", "delta_budget", "min_users_per_row", "max_groups_per_user",
        "max_count_per_user", "max_epsilon_per_run", "budget_refresh", "purposes",
        "fairness_min_ratio",
    )  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CollaborationPolicy:
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.KEYS))
        if unknown:
            raise InvalidRequest(f"unknown policy key(s): {', '.join(unknown)}")
        eps = float(_in_range(data, "epsilon_budget", 10.0, ranges.EPSILON_BUDGET))
        delta = float(_in_range(data, "delta_budget", 1e-6, ranges.DELTA))
        per_run = float(
            _in_range(data, "max_epsilon_per_run", min(2.0, eps), ranges.EPSILON_PER_RUN)
        )
        if per_run > eps:
            raise InvalidRequest("policy.max_epsilon_per_run must be <= epsilon_budget")
        refresh = data.get("budget_refresh")
        days = re.fullmatch(r"P(\d{1,9})D", refresh) if isinstance(refresh, str) else None
        if refresh is not None and (
            days is None or not ranges.BUDGET_REFRESH_DAYS.contains(int(days.group(1)))
        ):
            raise InvalidRequest(
                'policy.budget_refresh must be null or a period in days like "P30D" '
                f"({ranges.BUDGET_REFRESH_DAYS.describe()} days)"
            )
        purposes = data.get("purposes", ["measurement", "audience_sizing"])
        if not isinstance(purposes, list | tuple) or not purposes:
            raise InvalidRequest("policy.purposes must be a non-empty list of names")
        checked = tuple(_check_name(p, "each policy purpose", InvalidRequest) for p in purposes)
        return cls(
            epsilon_budget=eps,
            delta_budget=delta,
            min_users_per_row=_in_range(data, "min_users_per_row", 50, ranges.MIN_USERS_PER_ROW),
            max_groups_per_user=_in_range(
                data, "max_groups_per_user", 4, ranges.MAX_GROUPS_PER_USER
            ),
            max_count_per_user=_in_range(data, "max_count_per_user", 10, ranges.MAX_COUNT_PER_USER),
            max_epsilon_per_run=per_run,
            budget_refresh=refresh,
            purposes=tuple(dict.fromkeys(checked)),
            fairness_min_ratio=float(
                _in_range(data, "fairness_min_ratio", 0.8, ranges.FAIRNESS_MIN_RATIO)
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "epsilon_budget": self.epsilon_budget,
            "delta_budget": self.delta_budget,
            "min_users_per_row": self.min_users_per_row,
            "max_groups_per_user": self.max_groups_per_user,
            "max_count_per_user": self.max_count_per_user,
            "max_epsilon_per_run": self.max_epsilon_per_run,
            "budget_refresh": self.budget_refresh,
            "purposes": list(self.purposes),
            "fairness_min_ratio": self.fairness_min_ratio,
        }


@dataclass(frozen=True)
class ColumnSpec:
    """One declared column of a dataset (docs/specs.md, Dataset spec)."""

    name: str
    role: str
    bounds: tuple[float, float] | None = None  # metric: per person per group
    aggregates: tuple[str, ...] = ()  # metric: allowed release aggregates
    values: tuple[str | int | float, ...] | None = None  # dimension: public domain
    purpose: str | None = None  # consent: the purpose this column grants
    # metric: stored as BIGINT ("integer", the default: money in minor units stays exact) or
    # DOUBLE ("number"). Declared, never inferred from the values: a stored type that one
    # person's value could change would change how every template computes over everyone.
    number_type: str = "integer"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role}
        if self.role == "metric" and self.number_type != "integer":
            out["type"] = self.number_type
        if self.bounds is not None:
            out["bounds"] = list(self.bounds)
        if self.aggregates:
            out["aggregates"] = list(self.aggregates)
        if self.values is not None:
            out["values"] = list(self.values)
        if self.purpose is not None:
            out["purpose"] = self.purpose
        return out


def _column_from_dict(name: str, data: Any, kind: str) -> ColumnSpec:
    if not isinstance(data, Mapping):
        raise DatasetInvalid(f"column '{name}': spec must be an object with a 'role'")
    role = data.get("role")
    if role not in COLUMN_ROLES:
        raise DatasetInvalid(f"column '{name}': role must be one of {', '.join(COLUMN_ROLES)}")
    allowed_keys = {"role"} | {
        "metric": {"bounds", "aggregates", "type"},
        "dimension": {"values"},
        "sensitive": {"values"},
        "consent": {"purpose"},
    }.get(role, set())
    extra = sorted(set(data) - allowed_keys)
    if extra:
        raise DatasetInvalid(
            f"column '{name}': keys {', '.join(extra)} do not apply to role {role}"
        )
    if kind == "reference" and role not in ("dimension", "metric", "timestamp"):
        raise DatasetInvalid(
            f"column '{name}': a reference dataset has only dimension, metric or timestamp columns"
        )
    bounds: tuple[float, float] | None = None
    aggregates: tuple[str, ...] = ()
    values: tuple[str | int | float, ...] | None = None
    purpose: str | None = None
    number_type = "integer"
    if role == "metric":
        number_type = data.get("type", "integer")
        if number_type not in METRIC_TYPES:
            raise DatasetInvalid(
                f"column '{name}': type must be one of {', '.join(METRIC_TYPES)} "
                "(integer: whole numbers such as money in cents; number: fractional values)"
            )
        raw = data.get("bounds")
        if raw is None and kind == "personal":
            raise DatasetInvalid(f"column '{name}': a metric of a personal dataset needs bounds")
        if raw is not None:
            if not isinstance(raw, list | tuple) or len(raw) != 2:
                raise DatasetInvalid(f"column '{name}': bounds must be [lo, hi]")
            lo = _finite_number(raw[0], f"column '{name}': bounds", DatasetInvalid)
            hi = _finite_number(raw[1], f"column '{name}': bounds", DatasetInvalid)
            if lo > hi:
                raise DatasetInvalid(f"column '{name}': bounds must have lo <= hi")
            if max(abs(lo), abs(hi)) > MAX_ABS_BOUND:
                raise DatasetInvalid(
                    f"column '{name}': bounds must lie within ±{MAX_ABS_BOUND:g} per person"
                )
            bounds = (lo, hi)
        aggs = data.get("aggregates", ["SUM", "AVG"])
        if not isinstance(aggs, list | tuple) or not all(isinstance(a, str) for a in aggs):
            raise DatasetInvalid(f"column '{name}': aggregates must be a list of names")
        upper = tuple(dict.fromkeys(a.upper() for a in aggs))
        bad = [a for a in upper if a not in RELEASE_AGGREGATES]
        if bad:
            raise DatasetInvalid(
                f"column '{name}': aggregate(s) {', '.join(bad)} not allowed; "
                f"choose from {', '.join(RELEASE_AGGREGATES)}"
            )
        aggregates = upper
    elif role in ("dimension", "sensitive") and data.get("values") is not None:
        raw_values = data["values"]
        if (
            not isinstance(raw_values, list | tuple)
            or not raw_values
            or not all(
                isinstance(v, str | int | float) and not isinstance(v, bool) for v in raw_values
            )
        ):
            raise DatasetInvalid(f"column '{name}': values must be a non-empty list of scalars")
        if len(set(raw_values)) != len(raw_values):
            raise DatasetInvalid(f"column '{name}': values must not repeat")
        values = tuple(raw_values)
    elif role == "consent":
        purpose = _check_name(data.get("purpose"), f"column '{name}': purpose", DatasetInvalid)
    return ColumnSpec(name, role, bounds, aggregates, values, purpose, number_type)


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset holds and how it may be used (docs/specs.md, Dataset spec)."""

    name: str
    kind: str
    columns: tuple[ColumnSpec, ...]
    purposes: tuple[str, ...] = ()
    max_rows_per_user: int | None = None
    retention_days: int | None = None

    KEYS = ("name", "kind", "columns", "purposes", "max_rows_per_user", "retention_days")

    @classmethod
    def from_dict(cls, data: Any) -> DatasetSpec:
        if not isinstance(data, Mapping):
            raise DatasetInvalid("the dataset spec must be a JSON object")
        unknown = sorted(set(data) - set(cls.KEYS))
        if unknown:
            raise DatasetInvalid(f"unknown dataset spec key(s): {', '.join(unknown)}")
        name = _check_name(data.get("name"), "dataset name", DatasetInvalid)
        kind = data.get("kind")
        if kind not in DATASET_KINDS:
            raise DatasetInvalid("dataset kind must be 'personal' or 'reference'")
        raw_columns = data.get("columns")
        if not isinstance(raw_columns, Mapping) or not raw_columns:
            raise DatasetInvalid("columns must be a non-empty object of column name -> spec")
        columns = []
        for col_name, col in raw_columns.items():
            _check_name(col_name, f"column name '{col_name}'", DatasetInvalid)
            if col_name == PID:
                raise DatasetInvalid("'pid' is reserved for the re-keyed identifier")
            if col_name.startswith("cr_"):
                raise DatasetInvalid(f"column '{col_name}': the prefix cr_ is reserved")
            try:
                columns.append(_column_from_dict(col_name, col, kind))
            except DatasetInvalid as err:  # located, so that an editor can point at the column
                raise DatasetInvalid(err.detail, column=col_name) from None
        identifiers = [c for c in columns if c.role == "identifier"]
        purposes: tuple[str, ...] = ()
        max_rows: int | None = None
        if kind == "personal":
            if len(identifiers) != 1:
                raise DatasetInvalid("a personal dataset needs exactly one identifier column")
            raw_purposes = data.get("purposes")
            if not isinstance(raw_purposes, list | tuple) or not raw_purposes:
                raise DatasetInvalid("a personal dataset must list the purposes it may serve")
            purposes = tuple(
                dict.fromkeys(_check_name(p, "each purpose", DatasetInvalid) for p in raw_purposes)
            )
            max_rows = ranges.MAX_ROWS_PER_USER.check(
                data.get("max_rows_per_user", 1000), "max_rows_per_user", DatasetInvalid
            )
        else:
            for key in ("purposes", "max_rows_per_user"):
                if key in data:
                    raise DatasetInvalid(f"a reference dataset has no {key}")
        retention = data.get("retention_days")
        if retention is not None:
            ranges.RETENTION_DAYS.check(retention, "retention_days (or absent)", DatasetInvalid)
        seen_consent: set[str] = set()
        for c in columns:
            if c.role == "consent":
                assert c.purpose is not None
                if c.purpose in seen_consent:
                    raise DatasetInvalid(f"two consent columns for purpose '{c.purpose}'")
                seen_consent.add(c.purpose)
        return cls(name, kind, tuple(columns), purposes, max_rows, retention)

    def check_against_policy(self, policy: CollaborationPolicy) -> None:
        """Purposes and consent purposes must be ones the collaboration allows."""
        known = set(policy.purposes)
        for purpose in self.purposes:
            if purpose not in known:
                raise DatasetInvalid(
                    f"purpose '{purpose}' is not allowed by this collaboration "
                    f"(allowed: {', '.join(policy.purposes)})"
                )
        for c in self.columns:
            if c.role == "consent" and c.purpose not in known:
                raise DatasetInvalid(
                    f"column '{c.name}': consent purpose '{c.purpose}' is not a purpose of this "
                    "collaboration"
                )

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def identifier(self) -> ColumnSpec | None:
        return next((c for c in self.columns if c.role == "identifier"), None)

    @property
    def is_personal(self) -> bool:
        return self.kind == "personal"

    def stored_columns(self) -> tuple[ColumnSpec, ...]:
        """Columns kept in the stored file: blocked ones are dropped, the identifier becomes pid."""
        return tuple(c for c in self.columns if c.role not in ("blocked", "identifier"))

    def consent_column(self, purpose: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.role == "consent" and c.purpose == purpose), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "columns": {c.name: c.to_dict() for c in self.columns},
        }
        if self.kind == "personal":
            out["purposes"] = list(self.purposes)
            out["max_rows_per_user"] = self.max_rows_per_user
        if self.retention_days is not None:
            out["retention_days"] = self.retention_days
        return out


@dataclass(frozen=True)
class ParamSpec:
    """A declared template parameter: ``-- param: window_days int = 14``."""

    name: str
    type: str
    default: Any = None
    has_default: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.has_default:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class LiftSpec:
    """A template's ``-- lift:`` header line: the cell key and its test and holdout values."""

    cell: str
    test: str
    holdout: str

    def to_dict(self) -> dict[str, str]:
        return {"cell": self.cell, "test": self.test, "holdout": self.holdout}


def parse_lift(value: str) -> LiftSpec:
    """``cell test holdout`` -> LiftSpec; raises ValueError with a readable reason."""
    parts = value.split()
    if len(parts) != 3 or parts[1] == parts[2]:
        raise ValueError(
            "a lift line is 'cell_key test_value holdout_value', e.g. 'cell test holdout'"
        )
    return LiftSpec(parts[0].lower(), parts[1], parts[2])


# ``-- estimate:`` bounds: the quantile lies strictly between the median and 1; the share of the
# run's epsilon spent on the estimate is at most half of it (across all estimate lines).
MAX_ESTIMATE_SHARE = 0.5


@dataclass(frozen=True)
class EstimateSpec:
    """A template's ``-- estimate:`` header line: the SUM output whose per-person upper bound is
    estimated at run time (a DP quantile of the clamped partials), the quantile, and the share of
    the run's epsilon the estimate spends (cleanroom.dp.estimated_bounds)."""

    output: str
    quantile: float
    share: float

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "quantile": self.quantile, "share": self.share}


def parse_estimate(value: str) -> EstimateSpec:
    """``output quantile share`` -> EstimateSpec; raises ValueError with a readable reason.

    >>> parse_estimate("sales 0.99 0.1")
    EstimateSpec(output='sales', quantile=0.99, share=0.1)
    """
    parts = value.split()
    if len(parts) != 3:
        raise ValueError("an estimate line is 'output quantile share', e.g. 'sales 0.99 0.1'")
    try:
        quantile, share = float(parts[1]), float(parts[2])
    except ValueError:
        raise ValueError("an estimate's quantile and share must be numbers") from None
    if not (math.isfinite(quantile) and 0.5 < quantile < 1):
        raise ValueError("an estimate's quantile must be greater than 0.5 and less than 1")
    if not (math.isfinite(share) and 0 < share <= MAX_ESTIMATE_SHARE):
        raise ValueError(
            f"an estimate's share of the run's epsilon must be greater than 0, at most "
            f"{MAX_ESTIMATE_SHARE:g}"
        )
    return EstimateSpec(parts[0].lower(), quantile, share)
