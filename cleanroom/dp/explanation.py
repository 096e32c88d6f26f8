"""How each released number was made, in words: the report's ``explanations`` member.

Built from the plan, the calibration and what post-processing did to the noisy values; it reads
no data and says nothing an exact value would reveal. In particular a row of a public key domain
is never said to have been zero-filled or not (that would tell whether the group had data): the
whole release says every declared value is shown, with or without data.

The shape stays small for a large report: one text per output column, one for the release, a
legend of cell-note codes, and a list of only the cells a note applies to (docs/specs.md, Report):

>>> note = CellNote(2, "sales", "clipped_to_zero", "sales")
>>> note.to_dict()
{'row': 2, 'column': 'sales', 'note': 'clipped_to_zero', 'measurement': 'sales'}
>>> expression_text(Op("round", (Op("/", (Col("sales"), Col("spend"))), Lit(2))))
'round(sales / spend, 2)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cleanroom.dp.postprocess import columns_of
from cleanroom.plan import Col, Lit, Measurement, Op, Output, PostExpr, ReleasePlan

if TYPE_CHECKING:  # the release calls in here; only its type is needed
    from cleanroom.dp.calibration import ReleaseCalibration

# Cell-note codes and what each means; a report's legend lists the codes its cells use.
NOTES: Mapping[str, str] = {
    "clipped_to_zero": (
        "the noise took this measurement past zero, to the side its per-person bounds rule out, "
        "so it was set to 0 (post-processing of the noisy value; it never weakens privacy)"
    ),
    "raised_to_person_count": (
        "this noisy row count came out below the noisy person count of its row; every person "
        "counted has at least one row, so it was raised to that count (post-processing)"
    ),
    "no_value": (
        "no value: the output's expression is undefined for this row's noisy values "
        "(for example a division by a noisy 0)"
    ),
    "no_interval": (
        "no finite interval: an input's interval reaches an undefined point "
        "(for example a denominator's 95% interval contains 0)"
    ),
}

# Where a measurement's per-person bounds come from. Only an '-- estimate' header's output's
# upper bound is estimated from the data (cleanroom.dp.estimated_bounds).
BOUND_SOURCES: Mapping[str, str] = {
    "structural": "by construction (a person is counted at most once per group)",
    "policy": "from the collaboration policy's max_count_per_user",
    "dataset": "from the metric bounds the dataset specs declare, carried through the template's "
    "expression",
    "template": "from the template's '-- bounds' header (within what the datasets and the policy "
    "allow)",
    "estimated": "estimated from the data at run time (the template's '-- estimate' header: "
    "OpenDP's private quantile over a public grid below the outer bound, on its own share of the "
    "run's epsilon; the report's estimated_bounds gives the estimate, grid, quantile, share and a "
    "noisy count of the contributions clamped); the interval covers the noise at this bound, not "
    "the bias of clamping the contributions above it",
}


@dataclass(frozen=True)
class CellNote:
    """Something specific that happened to one released cell (``row`` indexes ``rows``)."""

    row: int
    column: str
    note: str  # a key of NOTES
    measurement: str | None = None  # the noisy measurement it concerns, when one does

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row, "column": self.column, "note": self.note}
        if self.measurement is not None:
            out["measurement"] = self.measurement
        return out


@dataclass(frozen=True)
class Dropped:
    """How many rows each rule removed (counts of noisy rows only)."""

    below_minimum: int = 0
    by_having: int = 0
    by_limit: int = 0


def default_bound_sources(plan: ReleasePlan) -> dict[str, str]:
    """A measurement's bound source by its kind, before a template's ``-- bounds`` header."""
    kinds = {"person_count": "structural", "row_count": "policy", "sum": "dataset"}
    return {m.column: kinds.get(m.kind, "dataset") for m in plan.measurements}


def expression_text(expr: PostExpr) -> str:
    """A post-noise expression written out for a reader (SQL-like, fully parenthesized)."""
    if isinstance(expr, Col):
        return expr.name
    if isinstance(expr, Lit):
        return "NULL" if expr.value is None else repr(expr.value)
    op = expr.op.lower()
    args = [expression_text(a) for a in expr.args]
    if op == "neg":
        return f"-{_wrapped(expr.args[0], args[0])}"
    if len(args) == 2 and not op.isalpha():
        left, right = (_wrapped(a, t) for a, t in zip(expr.args, args, strict=True))
        return f"{left} {op} {right}"
    if op in ("and", "or") and len(args) == 2:
        return f"{args[0]} {op.upper()} {args[1]}"
    if op == "not":
        return f"NOT {args[0]}"
    return f"{op}({', '.join(args)})"


def _wrapped(expr: PostExpr, text: str) -> str:
    return f"({text})" if isinstance(expr, Op) and not expr.op.isalpha() else text


def explain(
    calibration: ReleaseCalibration,
    notes: Sequence[CellNote],
    dropped: Dropped,
    released_rows: int,
    bound_sources: Mapping[str, str] | None = None,
    derived_method: str = "",
    run_epsilon: float | None = None,
) -> dict[str, Any]:
    """The ``explanations`` member for a release of ``released_rows`` rows; shares of epsilon
    are of ``run_epsilon`` when given (a run that spent part of it on estimated bounds)."""
    plan = calibration.plan
    sources = {**default_bound_sources(plan), **(bound_sources or {})}
    text = _Texts(calibration, sources, derived_method, run_epsilon)
    used = sorted({n.note for n in notes})
    return {
        "release": text.release(dropped, released_rows),
        "measurements": {
            m.column: {"text": text.measurement(m), "bounds_source": sources[m.column]}
            for m in plan.measurements
        },
        "outputs": {o.name: text.output(o) for o in plan.outputs},
        "notes": {code: NOTES[code] for code in used},
        "cells": [n.to_dict() for n in notes],
    }


def _num(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


class _Texts:
    def __init__(
        self,
        calibration: ReleaseCalibration,
        sources: Mapping[str, str],
        derived_method: str,
        run_epsilon: float | None = None,
    ) -> None:
        self.c = calibration
        self.plan = calibration.plan
        self.sources = sources
        self.derived_method = derived_method
        self.measured = {m.column for m in self.plan.measurements}
        self.total_epsilon = calibration.split.total.epsilon if run_epsilon is None else run_epsilon

    def release(self, dropped: Dropped, released_rows: int) -> str:
        plan = self.plan
        sentences = []
        if not plan.group_keys:
            sentences.append("One row for all the data (no grouping).")
        elif plan.keys_are_public:
            keys = ", ".join(self._key_output_name(k.name) for k in plan.group_keys)
            sentences.append(
                f"The rows are the declared (public) values of {keys}: each is a row whether or "
                "not the data has it; one without data is zero-filled before noise, and which "
                "ones were is not said, since that would reveal the data."
            )
        else:
            t = self.c.threshold
            assert t is not None
            sentences.append(
                f"Which groups appear was chosen by partition selection: a group is shown only "
                f"when its noisy person count ({t.column}) passed a threshold of "
                f"{_num(t.threshold)} (OpenDP's Laplace threshold, scale {_num(t.scale)}, "
                f"epsilon {_num(t.epsilon)}, delta {t.delta:.3g}); every row shown passed it."
            )
        sentences.append(
            f"A row needs a noisy person count of at least {plan.min_users_per_row}: "
            f"{_rows(dropped.below_minimum)} withheld below that minimum."
        )
        if plan.having is not None:
            sentences.append(
                f"HAVING {expression_text(plan.having)} on the noisy values removed "
                f"{_rows(dropped.by_having, verb=False)}."
            )
        if plan.limit is not None:
            sentences.append(
                f"LIMIT {plan.limit} (after ORDER BY on noisy values) cut "
                f"{_rows(dropped.by_limit, verb=False)}."
            )
        if plan.added_person_count:
            sentences.append(
                f"The person count {plan.person_count} was measured only to select groups and "
                "apply the minimum; it is not an output."
            )
        sentences.append(f"{_rows(released_rows, verb=False).capitalize()} released.")
        return " ".join(sentences)

    def output(self, output: Output) -> dict[str, Any]:
        reads = sorted(columns_of(output.expr) & self.measured)
        if output.is_group_key:
            name = output.expr.name if isinstance(output.expr, Col) else output.name
            return {"kind": "group_key", "reads": [], "text": self._key(name)}
        if isinstance(output.expr, Col) and output.expr.name in self.measured:
            m = self.c.measurement(output.expr.name)
            text = self.measurement(m)
            return {"kind": "measurement", "reads": reads, "text": text}
        if not reads:
            text = (
                f"Computed as {expression_text(output.expr)} from values that carry no noise "
                "(group keys, literals): exact, with an interval of width 0."
            )
            return {"kind": "exact", "reads": [], "text": text}
        if len(reads) == 1:
            how = (
                "Its 95% interval is that measurement's 95% interval carried through the "
                "expression (one noisy input, so no Bonferroni widening)."
            )
        else:
            how = (
                f"Its 95% interval: {self.derived_method}; here k = {len(reads)}, so each input's "
                f"interval is at {1 - 0.05 / len(reads):.4g} confidence."
            )
        text = (
            f"Derived after noise as {expression_text(output.expr)} from the noisy "
            f"measurement{'s' if len(reads) > 1 else ''} {', '.join(reads)} (post-processing, no "
            f"further privacy loss). {how} How each input was measured: see its explanation "
            "under measurements."
        )
        return {"kind": "derived", "reads": reads, "text": text}

    def _key_output_name(self, key: str) -> str:
        """The output a group key is released as (the plan names keys internally)."""
        for o in self.plan.outputs:
            if o.is_group_key and o.expr == Col(key):
                return o.name
        return key

    def _key(self, name: str) -> str:
        key = next((k for k in self.plan.group_keys if k.name == name), None)
        if key is not None and key.public_domain is not None:
            return (
                f"Group key with a public domain of {len(key.public_domain)} declared value(s): "
                "shown as declared, not noised."
            )
        return (
            "Group key whose values come from the data: a value is shown only when its group "
            "passed partition selection; the value itself is not noised."
        )

    def measurement(self, m: Measurement) -> str:
        c = self.c
        part = c.split.part(m.column)
        lower, upper = _num(m.lower), _num(m.upper)
        groups = f"at most {m.max_groups} group{'s' if m.max_groups != 1 else ''}"
        source_key = self.sources.get(m.column, "")
        source = BOUND_SOURCES.get(source_key, "as declared")
        how = "" if source_key == "estimated" else "; declared, never estimated from the data"
        bounds = (
            f"Each person's contribution is clamped to [{lower}, {upper}] per group, in {groups}: "
            f"bounds {source}{how}."
        )
        share = self._share(part.epsilon)
        if c.threshold is not None and m.column == c.threshold.column:
            t = c.threshold
            noise = (
                f"A {m.kind.replace('_', ' ')} released through partition selection: OpenDP's "
                f"discrete Laplace threshold mechanism, scale {_num(t.scale)} (sensitivity "
                f"{_num(float(t.max_groups * t.bound))}), spending epsilon {_num(t.epsilon)}"
                f"{share} and delta {t.delta:.3g}; its noisy count is both the selection and the "
                "released value."
            )
        else:
            mech = next(x for x in c.mechanisms if x.column == m.column)
            if mech.rho > 0:
                pool = c.split.pool
                pooled = (
                    f", composed in zCDP with the run's other Gaussian ones (rho {mech.rho:.4g}"
                )
                pooled += f" of the pool's {pool.rho:.4g})" if pool is not None else ")"
                spend = f"an epsilon share of {_num(part.epsilon)}{share}{pooled}"
            else:
                spend = f"epsilon {_num(part.epsilon)}{share}"
            noise = (
                f"A {m.kind.replace('_', ' ')} with {mech.mechanism.replace('_', ' ')} noise of "
                f"scale {_num(mech.scale)} (sensitivity {_num(mech.sensitivity)}), spending "
                f"{spend}."
            )
        post = []
        if m.lower >= 0:
            post.append("a noisy value below 0 is set to 0")
        elif m.upper <= 0:
            post.append("a noisy value above 0 is set to 0")
        people = next(x for x in self.plan.measurements if x.column == self.plan.person_count)
        if m.kind == "row_count" and m.unconditional and people.unconditional and m.lower >= 0:
            post.append(f"a value below the row's noisy person count ({people.column}) is raised")
        after = f" Post-processing: {'; '.join(post)}." if post else ""
        width = c.half_width(m.column)
        accuracy = f" 95% interval: ±{_num(width)} around the noisy value"
        accuracy += ", cut at 0 on the side the bounds rule out." if post else "."
        return f"{noise} {bounds}{after}{accuracy}"

    def _share(self, epsilon: float) -> str:
        if self.total_epsilon <= 0 or not math.isfinite(self.total_epsilon):
            return ""
        return f" ({epsilon / self.total_epsilon:.0%} of the run's epsilon)"


def _rows(count: int, *, verb: bool = True) -> str:
    noun = "row" if count == 1 else "rows"
    if not verb:
        return f"{count} {noun}"
    return f"{count} {noun} {'was' if count == 1 else 'were'}"
