"""An end-to-end empirical epsilon audit: real compiler, real DuckDB engine, real release.

A :class:`Family` is a template plus a way to build its data as ``blocks`` identical, disjoint
copies of one small world (its own people, its own group key values). ``D`` is all the blocks;
``D'`` adds, in every block ``k``, one adversarial person ``a_k`` whose rows touch only block
``k``'s groups. :func:`audit` then

1. compiles the template once (``compile_template``, the policy compiler the service uses);
2. runs the rewritten SQL once on ``D``, once on ``D'`` and once on ``D + a_0`` with
   :class:`~cleanroom.engine.DuckDBEngine` over Parquet files (the engine and sandbox runs use);
3. checks the exact tables (no noise involved, so these checks are exact). Preconditions, which
   fail at once: the blocks of ``D`` are identical; the adversary moves each measurement by at
   least its full L1 sensitivity in every block (the neighbour is as extreme as the plan allows);
   all blocks change the same way; and ``D + a_0`` differs from ``D`` only in block 0, as ``D'``
   does there. The last one is what makes each block of ``D'`` a true neighbour: block ``k``'s
   exact values under ``D'`` are those under ``D + a_k``. Findings, reported with the statistics:
   a measurement of a group moving by more than the plan's per-group bound, or the adversary
   moving more than ``max_groups_per_user`` groups (the sensitivity the noise is calibrated to).
   The rewrite's per-person caps run once per table, so the audit is conditional on the exact
   tables a run would release from, which is what DP has to hold for;
4. draws ``release(plan, exact_table, loss)`` many times on the two fixed exact tables. Every
   group of a release gets independent noise and (without LIMIT) its output depends only on its
   own exact values, so each block of each release is one independent draw of "the output on
   ``D`` (or ``D + a_k``) restricted to block ``k``": ``releases x blocks`` draws per side;
5. per released measurement ``m``, the event ``S = {every group the adversary moved is released,
   and its noisy m lies at least lambda x (its exact change) beyond its exact value on D, in the
   direction of the change}``. lambda is chosen on the first releases (the calibration batch):
   the one whose calibration frequencies, scaled to the main batch, give the largest bound; the
   bound is computed on the other releases only. With one-sided Clopper-Pearson bounds,
   ``ln((lower P[S | D'] - delta) / (upper P[S | D] + slack))`` is a lower confidence bound on
   the epsilon spent on this neighbour pair and event; it must not exceed the claim:

   * public keys: ``m``'s own share (``loss_split.part``). ``S`` is inside the event ``A`` on
     ``m``'s noisy values alone, so ``P[S | D'] <= P[A | D'] <= e^eps P[A | D] + delta`` and
     ``P[A | D] <= P[S | D] + slack``, with ``slack`` the probability that a moved group's row is
     suppressed under ``D`` (:func:`_absent_probability`; 0 for the person count itself, whose
     thresholds are above the policy minimum);
   * partition selection: which rows appear is the threshold's doing, so the claim is the
     person count's (epsilon, delta) for the person count, plus ``m``'s share for the others;
6. with non-public keys, the adversary's own group (absent from ``D``) must appear with
   probability at most the selection's delta: ``P[S | D] = 0`` exactly, so any lower bound above
   delta would be an infinite empirical epsilon.

numpy only computes statistics here; every noise draw comes from OpenDP through
``cleanroom.dp.release``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cleanroom.config import Settings
from cleanroom.dp import PrivacyLoss, Release, preview, release
from cleanroom.engine import DuckDBEngine
from cleanroom.names import dataset_view
from cleanroom.plan import Col, CompiledQuery, Measurement, ReleasePlan
from cleanroom.policy import compile_template
from cleanroom.specs import CollaborationPolicy, DatasetSpec, ParamSpec
from tests.dp.binomial_bounds import clopper_pearson

ARROW_TYPES = {
    "dimension": pa.string(),
    "timestamp": pa.timestamp("us"),
    "metric": pa.int64(),
    "consent": pa.bool_(),
}
# Event thresholds tried on the calibration batch, as fractions of the exact change. For discrete
# Laplace noise the likelihood ratio of a box beyond x + lambda * change is already e^epsilon at
# lambda = 1; larger lambdas only make the event rarer, smaller ones trade ratio for frequency.
LAMBDAS = (0.25, 0.5, 0.75, 1.0)


def person(label: str) -> bytes:
    """A 32-byte person key, as ingestion stores it."""
    return hashlib.sha256(label.encode()).digest()


class Rows:
    """Rows of personal datasets: missing values are NULL, consent columns are true."""

    def __init__(self, specs: Mapping[str, DatasetSpec]) -> None:
        self.specs = specs
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self._defaults = {
            name: {c.name: True if c.role == "consent" else None for c in spec.stored_columns()}
            for name, spec in specs.items()
        }

    def add(self, dataset: str, pid: bytes, copies: int = 1, **values: Any) -> None:
        """``copies`` identical rows of ``pid`` in ``dataset``."""
        defaults = self._defaults[dataset]
        unknown = set(values) - set(defaults)
        if unknown:
            raise ValueError(f"{dataset} has no column(s) {sorted(unknown)}")
        row = (pid, *(values.get(c, d) for c, d in defaults.items()))
        self.rows.setdefault(dataset, []).extend([row] * copies)

    def tables(self, datasets: Sequence[str]) -> dict[str, pa.Table]:
        """Arrow tables as ingestion stores them (pid as fixed_size_binary(32))."""
        out = {}
        for dataset in datasets:
            columns = list(zip(*self.rows.get(dataset, []), strict=True))
            stored = self.specs[dataset].stored_columns()
            if not columns:
                columns = [()] * (1 + len(stored))
            arrays = {"pid": pa.array(columns[0], pa.binary(32))}
            for c, values in zip(stored, columns[1:], strict=True):
                arrays[c.name] = pa.array(values, ARROW_TYPES[c.role])
            out[dataset] = pa.table(arrays)
        return out


def write(tables: Mapping[str, pa.Table], directory: Path) -> dict[str, str]:
    """One Parquet file per dataset; engine view name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    views = {}
    for dataset, table in tables.items():
        path = directory / f"{dataset}.parquet"
        pq.write_table(table, path)
        views[dataset_view(dataset)] = str(path)
    return views


@dataclass(frozen=True)
class World:
    """What a family's data builders may read: the plan and its partition-selection threshold."""

    plan: ReleasePlan
    threshold: int | None


@dataclass(frozen=True)
class Family:
    """A template and its neighbouring datasets, built block by block."""

    name: str
    sql: str
    parameters: tuple[ParamSpec, ...]
    loss: PrivacyLoss
    slots: int  # groups per block
    key: Callable[[int, int], str]  # group key value of (block, slot)
    values: Callable[[int], dict[str, Any]]  # parameter values for that many blocks
    base: Callable[[Rows, int, World], None]  # block k's people in D
    adversary: Callable[[Rows, int, World], None]  # a_k, the person D' adds in block k
    new_slots: tuple[int, ...] = ()  # slots only the adversary has (absent from D)


@dataclass(frozen=True)
class EventResult:
    """One audited event: frequencies on D and D', the bound and the claim it must respect."""

    family: str
    event: str
    lam: float | None
    hits_before: int
    hits_after: int
    draws: int
    lower_after: float
    upper_before: float
    slack: float
    delta: float
    empirical_epsilon: float
    claimed_epsilon: float

    @property
    def bounds_epsilon(self) -> bool:
        """False for the own-group event, whose bound is on P[S | D'] against delta."""
        return self.lam is not None

    def line(self) -> str:
        counts = (
            f"{self.family}/{self.event}: {self.hits_before}/{self.draws} on D, "
            f"{self.hits_after}/{self.draws} on D'"
        )
        if not self.bounds_epsilon:
            return f"{counts}; lower P[S | D'] = {self.lower_after:.2e}, delta {self.delta:.2e}"
        return (
            f"{counts} (lambda {self.lam:g}); empirical epsilon >= "
            f"{self.empirical_epsilon:.3f}, claimed {self.claimed_epsilon:.3f}"
        )


@dataclass(frozen=True)
class Audit:
    events: tuple[EventResult, ...]
    findings: tuple[str, ...]  # exact changes beyond the plan's sensitivity (should be none)

    def failures(self) -> list[str]:
        """Everything that breaks the claim: findings, and events whose bound exceeds it."""
        over = [e.line() for e in self.events if e.empirical_epsilon > e.claimed_epsilon]
        return [*self.findings, *over]


def _exact(
    table: pa.Table,
    plan: ReleasePlan,
    locate: Mapping[str, tuple[int, int]],
    shape: tuple[int, int],
) -> np.ndarray:
    """Exact values by (block, slot, measurement); NaN where a non-public group is absent."""
    (key,) = plan.group_keys
    fill = 0.0 if plan.keys_are_public else math.nan  # candidates: the domain, or what is present
    values = np.full((*shape, len(plan.measurements)), fill)
    keys = [str(v) for v in table.column(key.name).to_pylist()]
    unknown = [k for k in keys if k not in locate]
    assert not unknown, f"the engine returned groups no block has: {unknown[:5]}"
    assert len(set(keys)) == len(keys), "the engine returned a group twice"
    for j, m in enumerate(plan.measurements):
        for k, v in zip(keys, table.column(m.column).to_pylist(), strict=True):
            values[(*locate[k], j)] = 0.0 if v is None else float(v)
    return values


def _check_exact(
    family: Family, plan: ReleasePlan, x: np.ndarray, after: np.ndarray, one: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """The exact-table checks of step 3 (module docstring): the change D -> D', and the ways it
    breaks the sensitivity the noise is calibrated to (findings, reported with the statistics).
    The other checks are preconditions of the audit and fail at once."""
    same = np.array_equal(x, np.broadcast_to(x[:1], x.shape), equal_nan=True)
    assert same, f"{family.name}: the blocks of D are not identical"
    for s in family.new_slots:
        assert np.isnan(x[:, s]).all(), f"{family.name}: slot {s} must not exist in D"
        assert not np.isnan(after[:, s]).any(), f"{family.name}: a_k has no group {s}"
    change = np.nan_to_num(after) - np.nan_to_num(x)
    findings = []
    moved = int(np.max(np.sum(np.any(change != 0, axis=2), axis=1)))
    if moved > plan.max_groups_per_user:
        findings.append(
            f"{family.name}: one person changed {moved} groups of a block, more than "
            f"max_groups_per_user={plan.max_groups_per_user}"
        )
    for j, m in enumerate(plan.measurements):
        worst = float(np.max(np.abs(change[:, :, j])))
        if worst > m.bound:
            findings.append(
                f"{family.name}: one person changed {m.column} of a group by {worst:g}, more "
                f"than its per-group bound {m.bound:g}"
            )
        total = float(np.min(np.sum(np.abs(change[:, :, j]), axis=1)))
        assert total >= m.l1_sensitivity, (
            f"{family.name}: the adversary moves {m.column} by {total:g} in a block, less than "
            f"its L1 sensitivity {m.l1_sensitivity:g}: the neighbour is not extreme"
        )
    pattern = np.sort(change, axis=1)
    assert np.array_equal(pattern, np.broadcast_to(pattern[:1], pattern.shape)), (
        f"{family.name}: the blocks of D' do not all change the same way"
    )
    single = np.nan_to_num(one) - np.nan_to_num(x)
    assert not single[1:].any(), f"{family.name}: adding a_0 changed another block"
    assert np.array_equal(np.sort(single[0], axis=0), pattern[0]), (
        f"{family.name}: D + a_0 does not change block 0 as D' does"
    )
    return change, findings


def _draws(
    plan: ReleasePlan,
    table: pa.Table,
    loss: PrivacyLoss,
    releases: int,
    locate: Mapping[str, tuple[int, int]],
    shape: tuple[int, int],
) -> tuple[np.ndarray, Release]:
    """Noisy released values by (release, block, slot, measurement); NaN where not released."""
    key = next(o.name for o in plan.outputs if o.is_group_key)
    shown = _released_measurements(plan)
    out = np.full((releases, *shape, len(plan.measurements)), math.nan)
    last: Release | None = None
    for r in range(releases):
        last = release(plan, table, loss)
        for row in last.rows:
            block, slot = locate[str(row[key])]
            for j, name in shown.items():
                out[r, block, slot, j] = row[name]  # type: ignore[assignment]
    assert last is not None
    return out, last


def _released_measurements(plan: ReleasePlan) -> dict[int, str]:
    """Measurement index -> the output that releases it as is."""
    shown = {}
    for j, m in enumerate(plan.measurements):
        for o in plan.outputs:
            if not o.is_group_key and isinstance(o.expr, Col) and o.expr.name == m.column:
                shown[j] = o.name
    return shown


def _box_hits(
    draws: np.ndarray, x: np.ndarray, change: np.ndarray, lam: float, moved: np.ndarray
) -> int:
    """Draws (release x block) in which every moved group is released beyond its threshold."""
    threshold = x + lam * change  # (block, slot)
    with np.errstate(invalid="ignore"):
        up = draws >= threshold
        down = draws <= threshold
    beyond = np.where(change > 0, up, down) & ~np.isnan(draws)
    ok = np.where(moved, beyond, True)
    return int(np.all(ok, axis=2).sum())


def _epsilon_bound(
    hits_before: int, hits_after: int, n: int, alpha: float, delta: float, slack: float
) -> tuple[float, float, float]:
    _, upper = clopper_pearson(hits_before, n, alpha)
    lower, _ = clopper_pearson(hits_after, n, alpha)
    if lower - delta <= 0:
        return -math.inf, lower, upper
    return math.log((lower - delta) / (upper + slack)), lower, upper


def _absent_probability(plan: ReleasePlan, rel: Release, person_count: float) -> float:
    """P[a group with this exact person count is suppressed] under public keys: its noisy person
    count, exact + discrete Laplace noise Z, is below ``min_users_per_row``. For an integer
    ``t >= 0``, ``P[Z >= t] = q^t / (1 + q)`` with ``q = exp(-1 / scale)``."""
    mech = next(m for m in rel.mechanisms if m["column"] == plan.person_count)
    assert mech["mechanism"] == "discrete_laplace", mech
    t = person_count - plan.min_users_per_row + 1
    if t < 0:
        return 1.0
    q = math.exp(-1.0 / mech["scale"])
    return float(q**t / (1 + q))


def audit(
    family: Family,
    settings: Settings,
    policy: CollaborationPolicy,
    datasets: Mapping[str, DatasetSpec],
    *,
    blocks: int,
    calibration_releases: int,
    releases: int,
    alpha: float,
) -> Audit:
    """Steps 1-6 of the module docstring for ``family``; each event's bound fails to hold with
    probability at most ``alpha`` when the mechanism keeps its claim."""
    compiled: CompiledQuery = compile_template(
        family.sql,
        family.parameters,
        family.values(blocks),
        "measurement",
        policy,
        datasets,
        engines=("duckdb",),
    )
    plan = compiled.plan
    assert len(plan.group_keys) == 1, "the harness handles one group key"
    assert plan.limit is None, "LIMIT makes groups' outputs depend on each other"
    threshold = None
    if not plan.keys_are_public:
        threshold = int(preview(plan, family.loss).partition_selection["threshold"])
    world = World(plan, threshold)

    base, everyone, first = Rows(datasets), Rows(datasets), Rows(datasets)
    for k in range(blocks):
        family.base(base, k, world)
        family.adversary(everyone, k, world)
    family.adversary(first, 0, world)

    engine = DuckDBEngine(settings)
    root = settings.data_dir / "audit" / family.name
    shape = (blocks, family.slots)
    locate = {family.key(k, s): (k, s) for k in range(blocks) for s in range(family.slots)}

    def exact(rows: Sequence[Rows], name: str) -> tuple[pa.Table, np.ndarray]:
        parts = [r.tables(compiled.datasets) for r in rows]
        tables = {d: pa.concat_tables([p[d] for p in parts]) for d in compiled.datasets}
        table = engine.execute(compiled.duckdb_sql, write(tables, root / name), [])
        return table, _exact(table, plan, locate, shape)

    table_before, before = exact([base], "d")
    table_after, after = exact([base, everyone], "d_prime")
    _, one = exact([base, first], "d_plus_a0")
    change, findings = _check_exact(family, plan, before, after, one)

    total = calibration_releases + releases
    draws_before, rel = _draws(plan, table_before, family.loss, total, locate, shape)
    draws_after, _ = _draws(plan, table_after, family.loss, total, locate, shape)
    n = releases * blocks
    split = rel.loss_split
    person_count = next(j for j, m in enumerate(plan.measurements) if m.column == plan.person_count)
    existing = np.array([s not in family.new_slots for s in range(family.slots)])
    x = np.nan_to_num(before)

    results = []
    for j, name in _released_measurements(plan).items():
        m: Measurement = plan.measurements[j]
        moved = (change[:, :, j] != 0) & existing
        part = split.part(m.column)
        epsilon, delta, slack = part.epsilon, part.delta, 0.0
        if not plan.keys_are_public:
            if j != person_count:  # the row is there only if the threshold let it through
                selection = split.part(plan.person_count)
                epsilon, delta = epsilon + selection.epsilon, delta + selection.delta
        elif j != person_count or float(np.min(x[moved][:, j])) < plan.min_users_per_row:
            # S asks for the row; under D its absence has probability at most this
            slack = max(
                sum(_absent_probability(plan, rel, c) for c in x[k, moved[k], person_count])
                for k in range(blocks)
            )

        def hits(draws: np.ndarray, lam: float, j: int = j, moved: np.ndarray = moved) -> int:
            return _box_hits(draws[..., j], x[:, :, j], change[:, :, j], lam, moved)

        cal = slice(0, calibration_releases)
        main = slice(calibration_releases, total)
        scores = []
        for lam in LAMBDAS:  # the bound the main batch would give at the calibration frequencies
            scale = releases / calibration_releases
            bound, _, _ = _epsilon_bound(
                round(hits(draws_before[cal], lam) * scale),
                round(hits(draws_after[cal], lam) * scale),
                n,
                alpha,
                delta,
                slack,
            )
            scores.append(bound)
        lam = LAMBDAS[int(np.argmax(scores))]
        h0, h1 = hits(draws_before[main], lam), hits(draws_after[main], lam)
        empirical, lower, upper = _epsilon_bound(h0, h1, n, alpha, delta, slack)
        results.append(
            EventResult(
                family.name, name, lam, h0, h1, n, lower, upper, slack, delta, empirical, epsilon
            )
        )

    if family.new_slots:
        selection = split.part(plan.person_count)
        new = list(family.new_slots)
        h0 = int((~np.isnan(draws_before[:, :, new, person_count])).any(axis=2).sum())
        h1 = int((~np.isnan(draws_after[:, :, new, person_count])).any(axis=2).sum())
        assert h0 == 0, "a group absent from D was released from D's exact table"
        lower, upper = clopper_pearson(h1, total * blocks, alpha)
        # P[S | D] = 0, so DP allows P[S | D'] <= delta: report the bound as infinite or not
        empirical = math.inf if lower > selection.delta else -math.inf
        results.append(
            EventResult(
                family.name,
                "own group released",
                None,
                h0,
                h1,
                total * blocks,
                lower,
                upper,
                0.0,
                selection.delta,
                empirical,
                selection.epsilon,
            )
        )
    return Audit(tuple(results), tuple(findings))
