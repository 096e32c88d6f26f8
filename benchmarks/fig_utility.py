"""Figure: utility of every output of every shipped template, before and after the zCDP release.

On a seeded demo world (hashed and ingested as the server stores it) each shipped template is
compiled with the demo policy and executed **once** on DuckDB: that gives the exact, bounded
per-group table the noise is added to. The noise is then drawn ``DRAWS`` times over that one
table with :func:`cleanroom.dp.release` at epsilon 1 per run (delta 1e-6 where it is spent):

* **before**: the earlier release, Laplace only, epsilon split equally among measurements;
* **after**: ``noise="auto"`` (discrete Laplace or zCDP-composed discrete Gaussian per measurement)
  with the default weights (sums 3, counts 1).

Per output: the median over released cells and draws of the relative 95% half-width (half-width /
the exact **unclamped** value, from the template's plain SQL), and the coverage of the released
interval against that unclamped truth (share of cells and draws whose interval contains it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, SEED, Size, Table, median
from benchmarks.world import bench_settings
from cleanroom.demo.exact import exact_tables, exact_views
from cleanroom.demo.specs import DEMO_POLICY, demo_dataset_specs
from cleanroom.demo.uploads import hash_world
from cleanroom.demo.world import generate_world
from cleanroom.dp import PrivacyLoss, release
from cleanroom.dp.candidates import candidates
from cleanroom.engine import DuckDBEngine
from cleanroom.ingest.dataset import ingest_dataset
from cleanroom.policy import compile_template, parse_template_file
from cleanroom.services.exact import exact_answer
from cleanroom.types import Col, CollaborationPolicy, DatasetSpec, ReleasePlan, dataset_view

DRAWS = 50
SHOPPERS = {"small": 20_000, "default": 100_000, "large": 1_000_000}
LOSS = PrivacyLoss(1.0, 1e-6)
CONFIGS: Mapping[str, dict[str, Any]] = {
    "before": {"noise": "laplace", "equal": True},
    "after": {"noise": "auto", "equal": False},
}
SECRET = "bench-utility-secret-not-for-production"


def utility_figure(size: Size, repeat: int, scratch: Path) -> list[Table]:
    shoppers = SHOPPERS.get(size.name, 100_000)
    work = scratch / "utility"
    world = generate_world(work / "world", seed=SEED % 1000, shoppers=shoppers)
    specs = {n: DatasetSpec.from_dict(s) for n, s in demo_dataset_specs().items()}
    uploads = hash_world(world, work / "hashed")
    settings = bench_settings(work / "data")  # the engine reads files under its data directory
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stored = {
        name: ingest_dataset(
            uploads[name],
            specs[name],
            secret_key=SECRET,
            collaboration_id="bench",
            dest_dir=settings.data_dir / "stored",
        )
        for name in specs
    }
    policy = CollaborationPolicy.from_dict(DEMO_POLICY)
    views = exact_views(set(DEMO_POLICY["purposes"]))
    truth_tables = exact_tables(world, uploads, settings.data_dir / "truth", views)
    rows: list[list[str]] = []
    misses: list[str] = []
    engine = DuckDBEngine(settings)
    try:
        for path in sorted((REPO / "queries").glob("*.sql")):
            text = path.read_text(encoding="utf-8")
            source = parse_template_file(text)
            purpose = source.purpose or "measurement"
            compiled = compile_template(
                source.sql, source.parameters, {}, purpose, policy, specs, source.bounds,
                line_offset=source.line_offset, engines=("duckdb",), consent=source.consent,
            )  # fmt: skip
            views = {dataset_view(n): str(stored[n].path) for n in compiled.datasets}
            table = engine.execute(compiled.duckdb_sql, views, [])
            truth = exact_answer(settings, text, truth_tables[purpose, source.consent])
            stats = {
                label: _draws(compiled.plan, table, truth.rows, dict(source.weights), **config)
                for label, config in CONFIGS.items()
            }
            for output in stats["after"]:
                before, after = stats["before"][output], stats["after"][output]
                rows.append(
                    [
                        source.name or path.stem,
                        output,
                        _pct(before[0]),
                        _pct(after[0]),
                        _pct(before[1]),
                        _pct(after[1]),
                        _pct(after[3]),
                        after[2],
                    ]
                )
                if after[1] < 0.93:
                    misses.append(f"{source.name}.{output}")
    finally:
        engine.close()
    notes = [
        f"{shoppers:,} shoppers (demo world, seed {SEED % 1000}), demo policy; epsilon 1 per run, "
        f"delta 1e-6 where spent; {DRAWS} noise draws over one exact aggregate per template.",
        "median relative half-width: 95% half-width / |exact unclamped value|, over released "
        "cells and draws (cells whose exact value is 0 are left out).",
        "coverage: share of released cells and draws whose 95% interval contains the exact "
        "unclamped value (the intervals cover noise; clamping bias can lower this); 'vs "
        "clamped': against the exact value after the per-person bounds, which is what the "
        "intervals claim to cover.",
    ]
    if misses:
        notes.append("coverage below 93%: " + ", ".join(misses))
    header = [
        "template",
        "output",
        "rel. half-width before",
        "after",
        "coverage before",
        "after",
        "after, vs clamped",
        "cells",
    ]
    return [Table("utility", header, rows, notes)]


def _draws(
    plan: ReleasePlan,
    table: Any,
    truth_rows: tuple[dict[str, Any], ...],
    template_weights: dict[str, float],
    *,
    noise: str,
    equal: bool,
) -> dict[str, tuple[float, float, int, float]]:
    """Output -> (median relative half-width, coverage, cells compared, coverage of the exact
    clamped value, for outputs that are a measurement as is)."""
    # Group keys by their output names (the plan's own key names are internal, e.g. cr_key0).
    named = {
        o.expr.name: o.name for o in plan.outputs if o.is_group_key and isinstance(o.expr, Col)
    }
    keys = [named.get(k.name, k.name) for k in plan.group_keys]
    truth = {tuple(r.get(k) for k in keys): r for r in truth_rows}
    found = candidates(plan, table)
    clamped = {g: {c: v[i] for c, v in found.exact.items()} for i, g in enumerate(found.groups)}
    measured = {o.name: o.expr.name for o in plan.outputs if isinstance(o.expr, Col)}
    weights = {m.column: 1.0 for m in plan.measurements} if equal else template_weights
    outputs = [o.name for o in plan.outputs if not o.is_group_key]
    widths: dict[str, list[float]] = {o: [] for o in outputs}
    covered: dict[str, list[bool]] = {o: [] for o in outputs}
    covered_clamped: dict[str, list[bool]] = {o: [] for o in outputs}
    for _ in range(DRAWS):
        result = release(plan, table, LOSS, noise=noise, weights=weights)
        for row, hw, cells in zip(
            result.rows, result.row_half_widths, result.row_intervals, strict=True
        ):
            group = tuple(row.get(k) for k in keys)
            exact = truth.get(group)
            if exact is None:
                continue
            for output in outputs:
                value = exact.get(output)
                width, pair = hw.get(output), cells.get(output)
                if not isinstance(value, int | float) or width is None or pair is None:
                    continue
                covered[output].append(pair[0] <= float(value) <= pair[1])
                if output in measured and group in clamped:
                    bounded = float(clamped[group][measured[output]])
                    covered_clamped[output].append(pair[0] <= bounded <= pair[1])
                if value != 0:
                    widths[output].append(width / abs(float(value)))
    return {
        o: (
            median(widths[o]),
            _share(covered[o]),
            len(covered[o]) // DRAWS,
            _share(covered_clamped[o]),
        )
        for o in outputs
    }


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else math.nan


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f}%"
