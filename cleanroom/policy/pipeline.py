"""The policy pipeline: an ordered tuple of small rules over one :class:`Job`.

Checking rules collect violations; the rewrite rules run only when there are none.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from cleanroom.errors import TemplateRejected
from cleanroom.names import CONSENTED
from cleanroom.plan import GroupKey, Measurement, ReleasePlan
from cleanroom.policy.bind import bind_parameters
from cleanroom.policy.parsed import parsed_template
from cleanroom.policy.pin import pin_of_normalized
from cleanroom.policy.queries import QueryChecker
from cleanroom.policy.release import ReleaseChecker, ReleaseSpec
from cleanroom.policy.rewrite_datasets import wrap_datasets
from cleanroom.policy.rewrite_release import split_release
from cleanroom.policy.spark_sql import spark_sql
from cleanroom.policy.verify import verify_compiled
from cleanroom.policy.violations import ViolationCollector
from cleanroom.ranges import MAX_ABS_BOUND
from cleanroom.specs import FAIRNESS_PURPOSE, CollaborationPolicy, DatasetSpec, ParamSpec

ENGINES = ("duckdb", "spark")


@dataclass
class Job:
    sql: str
    parameters: Sequence[ParamSpec]
    values: Mapping[str, Any]
    purpose: str
    policy: CollaborationPolicy
    datasets: Mapping[str, DatasetSpec]
    declared_bounds: Mapping[str, tuple[float, float]]
    engines: Sequence[str]
    collector: ViolationCollector
    observed_max_rows: Mapping[str, int] | None = None  # a runtime fact: never in the pin
    seed: int = 0  # the run's secret seed for the row and group caps: never in the pin
    consent: str | None = None  # a consent analysis's dataset (``-- consent:``): in the pin
    tree: exp.Select | None = None
    pin: str = ""
    in_domains: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    checker: QueryChecker | None = None
    release: ReleaseSpec | None = None
    plan: ReleasePlan | None = None
    sql_by_engine: dict[str, str] = field(default_factory=dict)


def parse(job: Job) -> None:
    parsed = parsed_template(job.sql, job.collector)
    if parsed is not None:
        job.tree, normalized = parsed
        job.pin = pin_of_normalized(normalized, job.parameters, job.consent)


def bind(job: Job) -> None:
    assert job.tree is not None
    job.in_domains = bind_parameters(job.tree, job.parameters, job.values, job.collector)


def _valid_bounds(pair: tuple[float, float]) -> bool:
    return (
        len(pair) == 2
        and all(
            isinstance(b, int | float)
            and not isinstance(b, bool)
            and math.isfinite(b)
            and abs(b) <= MAX_ABS_BOUND
            for b in pair
        )
        and pair[0] <= pair[1]
    )


def check(job: Job) -> None:
    assert job.tree is not None
    # Declared bounds are checked before anything uses them (a NaN must not reach arithmetic).
    declared: dict[str, tuple[float, float]] = {}
    for name, pair in job.declared_bounds.items():
        if _valid_bounds(tuple(pair)):  # type: ignore[arg-type]
            declared[name.lower()] = (float(pair[0]), float(pair[1]))
        else:
            job.collector.add_at(
                "invalid_bounds",
                f"declared bounds for '{name}' must be finite numbers lo <= hi within "
                f"±{MAX_ABS_BOUND:g}",
                0,
                0,
            )
    job.checker = QueryChecker(
        job.collector, job.datasets, declared, job.in_domains, consent=job.consent
    )
    fairness = job.purpose == FAIRNESS_PURPOSE
    job.release = ReleaseChecker(job.checker, job.policy, fairness=fairness).analyze(job.tree)
    for name in sorted(set(declared) - job.checker.used_bounds):  # valid but unused
        job.collector.add_at(
            "unknown_bounds_target", f"declared bounds for '{name}' match no column or output", 0, 0
        )


def check_bounds(job: Job) -> None:
    """Finite, moderate bounds, so every sensitivity and noise scale of the plan is finite:
    refused at submission, never discovered by a run after its budget was charged (declared
    bounds were checked by :func:`check`)."""
    if job.release is None:
        return
    for m in job.release.measurements:
        if not all(math.isfinite(b) and abs(b) <= MAX_ABS_BOUND for b in (m.lower, m.upper)):
            job.collector.add_at(
                "bounds_too_large",
                f"the per-person bounds of '{m.column}' exceed ±{MAX_ABS_BOUND:g}; declare "
                f"tighter ones ('-- bounds: {m.column} <lo> <hi>')",
                0,
                0,
            )


def check_purpose(job: Job) -> None:
    assert job.checker is not None
    if job.purpose not in job.policy.purposes:
        job.collector.add_at(
            "purpose_not_allowed",
            f"purpose '{job.purpose}' is not allowed by this collaboration "
            f"(allowed: {', '.join(job.policy.purposes)})",
            0,
            0,
        )
    for table, spec in job.checker.dataset_tables:
        if spec.is_personal and job.purpose not in spec.purposes:
            job.collector.add(
                "purpose_not_allowed",
                table,
                f"dataset '{spec.name}' does not serve purpose '{job.purpose}'",
            )


def check_consent(job: Job) -> None:
    """A consent analysis names a personal dataset the template reads that has a consent column
    for the template's purpose and no column of its own called ``consented``, and releases only
    person counts grouped by ``consented``."""
    assert job.checker is not None
    if job.consent is None:
        return
    spec = job.datasets.get(job.consent)
    read = any(s.name == job.consent for _, s in job.checker.dataset_tables)
    if spec is None or not spec.is_personal or not read:
        problem = f"the consent analysis's dataset '{job.consent}' is not a personal dataset read"
    elif spec.consent_column(job.purpose) is None:
        problem = f"dataset '{job.consent}' has no consent column for purpose '{job.purpose}'"
    elif any(c.name == CONSENTED for c in spec.columns):
        problem = f"dataset '{job.consent}' has its own column '{CONSENTED}'"
    else:
        _check_consent_release(job)
        return
    job.collector.add_at("consent_dataset", f"{problem} by this template", 0, 0)


def _check_consent_release(job: Job) -> None:
    """A consent analysis reads the rows of people without consent for its purpose, so all it may
    release is people counted by their consent: grouped by ``consented``, person counts only."""
    release = job.release
    if release is None:
        return
    if release.consent_key is None:
        problem = f"a consent analysis must group its release by {CONSENTED}"
    elif any(m.kind != "person_count" for m in release.measurements):
        problem = "a consent analysis may only count people (COUNT(DISTINCT pid))"
    else:
        return
    job.collector.add_at("consent_release", problem, 0, 0)


def check_engines(job: Job) -> None:
    assert job.checker is not None
    if job.checker.asof and "spark" in job.engines:
        job.collector.add_at(
            "unsupported_on_spark", "ASOF joins cannot run on the Spark engine", 0, 0
        )


def build_plan(job: Job) -> None:
    assert job.release is not None
    spec, policy = job.release, job.policy
    max_groups = policy.max_groups_per_user if spec.keys else 1
    if spec.keys and all(k.domain is not None for k in spec.keys):
        # Only groups inside the public domains are released (``dp.candidates``), so a person
        # touches at most as many released groups as there are key combinations: a smaller
        # sensitivity, hence less noise, for the same guarantee. len() over-counts repeated
        # values, never under-counts.
        max_groups = min(max_groups, math.prod(len(k.domain or ()) for k in spec.keys))
    job.plan = ReleasePlan(
        group_keys=tuple(
            GroupKey(k.name, tuple(k.domain) if k.domain is not None else None)  # type: ignore[arg-type]
            for k in spec.keys
        ),
        measurements=tuple(
            Measurement(m.column, m.kind, m.lower, m.upper, m.integer, max_groups, m.unconditional)  # type: ignore[arg-type]
            for m in spec.measurements
        ),
        person_count=spec.person_count,
        outputs=tuple(spec.outputs),
        having=spec.having,
        order_by=tuple(spec.order_by),
        limit=spec.limit,
        max_groups_per_user=max_groups,
        min_users_per_row=policy.min_users_per_row,
        added_person_count=spec.added_person_count,
    )


def make_total(job: Job) -> None:
    assert job.checker is not None
    job.checker.totality.apply()


def rewrite(job: Job) -> None:
    assert job.tree is not None
    assert job.checker is not None
    assert job.release is not None
    assert job.plan is not None
    wrap_datasets(
        job.checker.dataset_tables, job.purpose, job.observed_max_rows, job.seed, job.consent
    )
    final = split_release(job.tree, job.release, job.plan.max_groups_per_user, job.seed)
    verify_compiled(final)
    # ``final`` is this job's private tree and is not used afterwards, so the last generation
    # may consume it (copy=False); Spark's goes first, on a copy only when DuckDB's follows.
    if "spark" in job.engines:
        job.sql_by_engine["spark"] = spark_sql(final, copy="duckdb" in job.engines)
    if "duckdb" in job.engines:
        job.sql_by_engine["duckdb"] = final.sql(dialect="duckdb", comments=False, copy=False)


Rule = Callable[[Job], None]
CHECKS: tuple[Rule, ...] = (
    parse,
    bind,
    check,
    check_bounds,
    check_purpose,
    check_consent,
    check_engines,
)
REWRITES: tuple[Rule, ...] = (make_total, build_plan, rewrite)


def run(job: Job) -> Job:
    """Run every rule; raise TemplateRejected with all violations found before rewriting."""
    try:
        for rule in CHECKS:
            rule(job)
            if job.tree is None:
                break
        job.collector.raise_if_any()
        for rule in REWRITES:
            rule(job)
    except RecursionError:
        job.collector.add_at("nesting_too_deep", "the template nests too deeply to analyze", 0, 0)
    job.collector.raise_if_any()
    if job.tree is None:
        raise TemplateRejected([])
    return job
