"""The private release: noise, partition selection, policy minimum, post-processing, accuracy.

Order of operations (docs/template-language.md, "What the engine runs"; docs/privacy.md):

1. calibrate every mechanism from the plan and the loss split (no data);
2. candidates: the public domains' cross product, or the groups the engine found;
3. noise each measurement's vector over the candidates; with non-public keys, OpenDP's Laplace
   threshold on the person count picks the groups that appear (its noisy counts are the released
   person counts);
4. clip noisy values at zero where the bounds say the exact one cannot be negative, and raise an
   unconditional row count to the unconditional person count where it fell below (every person
   counted has at least one row: impressions >= reach);
5. drop rows whose noisy person count is under ``min_users_per_row`` (reported as suppressed);
6. outputs, HAVING, ORDER BY, LIMIT on noisy values; half-widths and 95% intervals per cell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from cleanroom.dp.calibration import ReleaseCalibration, calibrate_release
from cleanroom.dp.candidates import Candidates, GroupTuple, candidates
from cleanroom.dp.explanation import CellNote, Dropped, explain
from cleanroom.dp.intervals import Interval, half_width, interval, noisy_columns
from cleanroom.dp.loss import PrivacyLoss
from cleanroom.dp.mechanisms import ALPHA, CONFIDENCE
from cleanroom.dp.postprocess import Env, Value, columns_of, evaluate, is_number, order_indices
from cleanroom.dp.split import LossSplit
from cleanroom.plan import Col, Output, ReleasePlan

DERIVED_METHOD = (
    "interval arithmetic over Bonferroni-adjusted intervals of the noisy measurements an "
    "output reads (each at 1 - 0.05/k for k measurements, clipped to the sign the bounds imply); "
    "an output reading one noisy measurement (ROAS over a public spend) is exact, not "
    "Bonferroni-widened; null when unbounded"
)
COVERS = (
    "the intervals cover the DP noise only: not sampling error, and not the bias of clamping "
    "each person's contribution to the declared bounds"
)


@dataclass(frozen=True)
class Release:
    """A finished private release: what a report shows, all noisy, all JSON-ready."""

    columns: tuple[str, ...]
    rows: tuple[dict[str, Value], ...]
    half_widths: dict[str, float]  # output columns that are measurements as is (the report)
    measurement_half_widths: dict[str, float]  # every measurement, an added person count too
    row_half_widths: tuple[dict[str, float | None], ...]  # parallel to rows, non-key outputs
    row_intervals: tuple[dict[str, list[float] | None], ...]  # parallel to rows: [lo, hi]
    mechanisms: tuple[dict[str, Any], ...]
    partition_selection: dict[str, Any]
    suppressed_by_policy: tuple[dict[str, Value], ...]  # group keys of rows under the minimum
    min_users_per_row: int
    loss_split: LossSplit
    noise: str
    confidence: float = CONFIDENCE
    explanations: dict[str, Any] = field(default_factory=dict)  # see cleanroom.dp.explanation

    @property
    def privacy_loss(self) -> PrivacyLoss:
        """The composed loss of this release (what the ledger charges)."""
        return self.loss_split.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "rows": [dict(r) for r in self.rows],
            "privacy_loss": self.privacy_loss.to_dict(),
            "accuracy": {
                "confidence": self.confidence,
                "half_widths": dict(self.half_widths),
                "measurement_half_widths": dict(self.measurement_half_widths),
                "row_half_widths": [dict(r) for r in self.row_half_widths],
                "row_intervals": [dict(r) for r in self.row_intervals],
                "derived_method": DERIVED_METHOD,
                "covers": COVERS,
            },
            "mechanisms": [dict(m) for m in self.mechanisms],
            "noise": self.noise,
            "partition_selection": dict(self.partition_selection),
            "min_users_per_row": self.min_users_per_row,
            "suppressed_by_policy": {
                "count": len(self.suppressed_by_policy),
                "groups": [dict(g) for g in self.suppressed_by_policy],
            },
            "loss_split": self.loss_split.to_dict(),
            "explanations": self.explanations,
        }


def release(
    plan: ReleasePlan,
    table: pa.Table,
    loss: PrivacyLoss,
    *,
    noise: str = "auto",
    weights: Mapping[str, float] | None = None,
    delta_budget_for_selection: float | None = None,
    bound_sources: Mapping[str, str] | None = None,
    run_epsilon: float | None = None,
) -> Release:
    """Release ``plan``'s outputs from the engine's exact per-group ``table`` under ``loss``.

    ``table`` has the group key columns (named as ``plan.group_keys``) and one column per
    measurement, already bounded per person by the rewrite. ``noise`` is ``"auto"``,
    ``"laplace"`` or ``"gaussian"`` and ``weights`` the per-output weights (see
    :mod:`cleanroom.dp.split`); ``delta_budget_for_selection`` is the delta the service
    grants partition selection; ``bound_sources`` says where each measurement's bounds come from
    (:data:`~cleanroom.dp.explanation.BOUND_SOURCES`, by measurement column; the default is by
    kind); ``run_epsilon`` is the run's whole epsilon when the release spends only part of it
    (estimated bounds spend the rest), for the explanations' shares. Noise is drawn here, once:
    persist the result.
    """
    calibration = calibrate_release(
        plan,
        loss,
        noise=noise,
        weights=weights,
        delta_budget_for_selection=delta_budget_for_selection,
    )
    groups, noisy, moved = _noise(calibration, candidates(plan, table))
    key_names = [k.name for k in plan.group_keys]
    envs: list[dict[str, Value]] = []
    suppressed: list[dict[str, Value]] = []
    for i, group in enumerate(groups):
        keys = dict(zip(key_names, group, strict=True))
        person_count = noisy[plan.person_count][i]
        if person_count < plan.min_users_per_row:
            suppressed.append(keys)
            continue
        env = {**keys, **{column: values[i] for column, values in noisy.items()}}
        envs.append({**env, _GROUP: i})

    rows, kept, dropped = _post_process(plan, envs)
    hw = _RowAccuracy(calibration)
    cells = [hw.for_row(env, row) for env, row in zip(kept, rows, strict=True)]
    notes = _cell_notes(plan, rows, kept, cells, moved)
    explanations = explain(
        calibration,
        notes,
        Dropped(len(suppressed), *dropped),
        len(rows),
        bound_sources,
        DERIVED_METHOD,
        run_epsilon,
    )
    return Release(
        columns=tuple(o.name for o in plan.outputs),
        rows=tuple(rows),
        half_widths=calibration.output_half_widths(),
        measurement_half_widths=calibration.measurement_half_widths(),
        row_half_widths=tuple({k: v[0] for k, v in c.items()} for c in cells),
        row_intervals=tuple({k: v[1] for k, v in c.items()} for c in cells),
        mechanisms=tuple(calibration.mechanism_dicts()),
        partition_selection=calibration.partition_selection_dict(),
        suppressed_by_policy=tuple(suppressed),
        min_users_per_row=plan.min_users_per_row,
        loss_split=calibration.split,
        noise=calibration.noise,
        explanations=explanations,
    )


# The group index an environment came from (no column name holds a NUL character).
_GROUP = "\0group"
# Per measurement column, the group indices post-processing moved, by cell-note code.
Moved = dict[str, dict[str, set[int]]]


def _cell_notes(
    plan: ReleasePlan,
    rows: list[dict[str, Value]],
    kept: list[dict[str, Value]],
    cells: list[dict[str, tuple[float | None, list[float] | None]]],
    moved: Moved,
) -> list[CellNote]:
    """What happened to each released cell that a general explanation cannot say."""
    measured = [m.column for m in plan.measurements]
    reads = {o.name: [c for c in measured if c in columns_of(o.expr)] for o in plan.outputs}
    notes: list[CellNote] = []
    for r, (row, env, accuracy) in enumerate(zip(rows, kept, cells, strict=True)):
        group = env[_GROUP]
        for output in plan.outputs:
            if output.is_group_key:
                continue
            name = output.name
            for column in reads[name]:
                for code, where in moved.get(column, {}).items():
                    if group in where:
                        notes.append(CellNote(r, name, code, column))
            if row[name] is None:
                notes.append(CellNote(r, name, "no_value"))
            elif is_number(row[name]) and accuracy[name][1] is None:
                notes.append(CellNote(r, name, "no_interval"))
    return notes


def _noise(
    calibration: ReleaseCalibration, found: Candidates
) -> tuple[list[GroupTuple], dict[str, list[int | float]], Moved]:
    """Noisy values per measurement for the groups that may appear, clipped where bounds allow,
    and which values post-processing moved (by group index)."""
    noisy = {m.column: m.sample(found.exact[m.column]) for m in calibration.mechanisms}
    groups = found.groups
    threshold = calibration.threshold
    if threshold is not None:
        passed = threshold.select([int(v) for v in found.exact[threshold.column]])
        keep = sorted(passed)
        groups = [groups[i] for i in keep]
        noisy = {column: [values[i] for i in keep] for column, values in noisy.items()}
        noisy[threshold.column] = [passed[i] for i in keep]
    moved: Moved = {}
    for m in calibration.plan.measurements:
        # Post-processing toward the feasible range never hurts privacy and only reduces error.
        zero: int | float = 0 if m.integer else 0.0
        values = noisy[m.column]
        if m.lower >= 0:
            clipped = {i for i, v in enumerate(values) if v < zero}
            noisy[m.column] = [max(v, zero) for v in values]
        elif m.upper <= 0:
            clipped = {i for i, v in enumerate(values) if v > zero}
            noisy[m.column] = [min(v, zero) for v in values]
        else:
            clipped = set()
        if clipped:
            moved.setdefault(m.column, {})["clipped_to_zero"] = clipped
    people = next(
        m for m in calibration.plan.measurements if m.column == calibration.plan.person_count
    )
    for m in calibration.plan.measurements:
        if m.kind == "row_count" and m.unconditional and people.unconditional and m.lower >= 0:
            floor = noisy[people.column]
            values = noisy[m.column]
            raised = {i for i, (v, p) in enumerate(zip(values, floor, strict=True)) if v < p}
            noisy[m.column] = [max(v, p) for v, p in zip(values, floor, strict=True)]
            if raised:
                moved.setdefault(m.column, {})["raised_to_person_count"] = raised
    return groups, noisy, moved


def _post_process(
    plan: ReleasePlan, envs: list[dict[str, Value]]
) -> tuple[list[dict[str, Value]], list[dict[str, Value]], tuple[int, int]]:
    """Output rows after HAVING, ORDER BY and LIMIT, with the environments they came from and
    how many rows HAVING and LIMIT removed."""
    rows: list[dict[str, Value]] = []
    kept: list[dict[str, Value]] = []
    for env in envs:
        row = {o.name: _finite(evaluate(o.expr, env)) for o in plan.outputs}
        # Names resolve to keys and measurements first, then to output aliases.
        scope = {**row, **env}
        if plan.having is not None and evaluate(plan.having, scope) is not True:
            continue
        rows.append(row)
        kept.append(scope)
    if plan.order_by:
        order = order_indices(kept, plan.order_by)
        rows, kept = [rows[i] for i in order], [kept[i] for i in order]
    by_having = len(envs) - len(rows)
    by_limit = 0
    if plan.limit is not None:
        by_limit = max(0, len(rows) - plan.limit)
        rows, kept = rows[: plan.limit], kept[: plan.limit]
    return rows, kept, (by_having, by_limit)


def _finite(value: Value) -> Value:
    return None if isinstance(value, float) and not math.isfinite(value) else value


class _RowAccuracy:
    """Per-cell half-widths of one row's non-key outputs (see :mod:`cleanroom.dp.intervals`)."""

    def __init__(self, calibration: ReleaseCalibration) -> None:
        self.calibration = calibration
        self.measured = {m.column for m in calibration.plan.measurements}
        self._widths: dict[tuple[str, int], float] = {}

    def _part_half_width(self, column: str, parts: int) -> float:
        if (column, parts) not in self._widths:
            self._widths[column, parts] = self.calibration.half_width(column, ALPHA / parts)
        return self._widths[column, parts]

    def for_row(
        self, env: Env, row: dict[str, Value]
    ) -> dict[str, tuple[float | None, list[float] | None]]:
        return {
            o.name: self._cell(o, env, row[o.name])
            for o in self.calibration.plan.outputs
            if not o.is_group_key
        }

    def _cell(
        self, output: Output, env: Env, value: Value
    ) -> tuple[float | None, list[float] | None]:
        if not is_number(value):
            return None, None
        v = float(value)  # type: ignore[arg-type]
        expr = output.expr
        if isinstance(expr, Col) and expr.name in self.measured:
            bounds: Interval | None = self._interval(expr.name, env, 1)
        else:
            reads = noisy_columns(expr, self.measured)
            if not reads:
                return 0.0, [v, v]
            intervals = {c: self._interval(c, env, len(reads)) for c in reads}
            bounds = interval(expr, env, intervals)
        if bounds is None:
            return None, None
        # The released value is always inside its interval (post-processing may move it).
        lo, hi = min(bounds.lo, v), max(bounds.hi, v)
        if isinstance(expr, Col) and expr.name in self.measured:
            return self.calibration.half_width(expr.name), [lo, hi]
        return half_width(value, Interval(lo, hi)), [lo, hi]

    def _interval(self, column: str, env: Env, parts: int) -> Interval:
        value = env[column]
        assert isinstance(value, int | float)
        width = self._part_half_width(column, parts)
        lo, hi = value - width, value + width
        m = self.calibration.measurement(column)
        if m.lower >= 0:
            lo = max(lo, 0.0)
        if m.upper <= 0:
            hi = min(hi, 0.0)
        return Interval(float(lo), float(hi))
