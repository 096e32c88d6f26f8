"""Public entry points: analyze (at submission) and compile (at run time) a template.

>>> from cleanroom.specs import CollaborationPolicy, DatasetSpec
>>> spec = DatasetSpec.from_dict({"name": "exposures", "kind": "personal",
...     "purposes": ["measurement"], "columns": {"email": {"role": "identifier"},
...     "campaign_id": {"role": "dimension"}}})
>>> a = analyze_template("SELECT campaign_id, COUNT(DISTINCT pid) AS reach FROM exposures "
...     "GROUP BY campaign_id", [], "measurement", CollaborationPolicy(), {"exposures": spec})
>>> a.outputs, a.datasets
(('campaign_id', 'reach'), ('exposures',))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cleanroom.plan import CompiledQuery
from cleanroom.policy.analysis import Analysis
from cleanroom.policy.params import PLACEHOLDER_VALUES
from cleanroom.policy.pipeline import ENGINES, Job, run
from cleanroom.policy.violations import ViolationCollector
from cleanroom.specs import CollaborationPolicy, DatasetSpec, ParamSpec

_NO_BOUNDS: Mapping[str, tuple[float, float]] = {}


def _job(
    sql: str,
    parameters: Sequence[ParamSpec],
    values: Mapping[str, Any],
    purpose: str,
    policy: CollaborationPolicy,
    datasets: Mapping[str, DatasetSpec],
    declared_bounds: Mapping[str, tuple[float, float]],
    line_offset: int,
    engines: Sequence[str],
    observed_max_rows: Mapping[str, int] | None = None,
    seed: int = 0,
    consent: str | None = None,
) -> Job:
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engine(s): {', '.join(unknown)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError("seed must be an integer in [0, 2**63)")
    if observed_max_rows is not None:
        for name, rows in observed_max_rows.items():
            if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
                raise ValueError(f"observed_max_rows['{name}'] must be a non-negative integer")
    return run(
        Job(
            sql=sql,
            parameters=tuple(parameters),
            values=values,
            purpose=purpose,
            policy=policy,
            datasets={k.lower(): v for k, v in datasets.items()},
            declared_bounds=declared_bounds,
            engines=tuple(engines),
            collector=ViolationCollector(sql, line_offset),
            observed_max_rows=observed_max_rows,
            seed=seed,
            consent=consent,
        )
    )


def compile_template(
    sql: str,
    parameters: Sequence[ParamSpec],
    values: Mapping[str, Any],
    purpose: str,
    policy: CollaborationPolicy,
    datasets: Mapping[str, DatasetSpec],
    declared_bounds: Mapping[str, tuple[float, float]] = _NO_BOUNDS,
    *,
    line_offset: int = 0,
    engines: Sequence[str] = ENGINES,
    observed_max_rows: Mapping[str, int] | None = None,
    seed: int = 0,
    consent: str | None = None,
) -> CompiledQuery:
    """Bind ``values``, check, rewrite and transpile; raise TemplateRejected with every violation.

    ``engines`` selects the SQL dialects produced; a construct an engine cannot run is rejected
    only when that engine is asked for (the other SQL field is then empty). Ask only for the
    engine that will execute: each dialect costs a generation (Spark's is the dearer).

    ``observed_max_rows`` maps a dataset name to the largest number of rows one person has in the
    dataset version the run will read (recorded at ingestion). A personal dataset whose observed
    maximum is at most its ``max_rows_per_user`` is read without the per-person row cap window
    (the cap cannot bind, so the result is identical); datasets missing from it keep the cap. It
    is a fact about the data, not the template: the pin does not depend on it.

    ``seed`` keys the hash that picks, per person, the rows a row cap keeps and the groups the
    group cap keeps. A run passes a fresh secret seed; the same seed gives the same SQL (the
    neighbour tests rely on that). The pin does not depend on it.

    ``consent`` (a template's ``-- consent: <dataset>`` header) makes it a consent analysis:
    that dataset is read without its consent filter for ``purpose`` and carries the column
    ``consented``, which may only be a group key of the release (docs/template-language.md).
    """
    job = _job(
        sql,
        parameters,
        values,
        purpose,
        policy,
        datasets,
        declared_bounds,
        line_offset,
        engines,
        observed_max_rows,
        seed,
        consent,
    )
    assert job.plan is not None
    assert job.release is not None
    assert job.checker is not None
    names = tuple(dict.fromkeys(spec.name for _, spec in job.checker.dataset_tables))
    bound = {p.name: values.get(p.name, p.default) for p in parameters}
    return CompiledQuery(
        duckdb_sql=job.sql_by_engine.get("duckdb", ""),
        spark_sql=job.sql_by_engine.get("spark", ""),
        plan=job.plan,
        datasets=names,
        parameters=bound,
        pin=job.pin,
        consent_key=job.release.consent_key,
    )


def analyze_template(
    sql: str,
    parameters: Sequence[ParamSpec],
    purpose: str,
    policy: CollaborationPolicy,
    datasets: Mapping[str, DatasetSpec],
    declared_bounds: Mapping[str, tuple[float, float]] = _NO_BOUNDS,
    *,
    line_offset: int = 0,
    consent: str | None = None,
) -> Analysis:
    """Validate a template at submission time (defaults or typed stand-ins for its parameters)."""
    values = {
        p.name: p.default if p.has_default else PLACEHOLDER_VALUES[p.type] for p in parameters
    }
    compiled = compile_template(
        sql,
        parameters,
        values,
        purpose,
        policy,
        datasets,
        declared_bounds,
        line_offset=line_offset,
        engines=("duckdb",),
        consent=consent,
    )
    plan = compiled.plan
    return Analysis(
        outputs=tuple(o.name for o in plan.outputs),
        group_keys=tuple(
            {
                "name": k.name,
                "public_domain": list(k.public_domain) if k.public_domain is not None else None,
            }
            for k in plan.group_keys
        ),
        aggregates=tuple(m.to_dict() for m in plan.measurements),
        datasets=compiled.datasets,
        pin=compiled.pin,
        purpose=purpose,
        plan=plan,
        consent=consent,
    )
