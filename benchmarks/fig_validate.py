"""Figure 2: validate+rewrite time per shipped template (``queries/*.sql``).

One iteration is what a run does before touching data: ``parse_template_file`` (header) and
``compile_template`` (bind, check, rewrite, transpile to DuckDB and Spark SQL) against the demo
collaboration's policy and dataset specs, with the template's default parameters. In-process,
after two warm-up iterations (imports and sqlglot's caches are a one-off per process).
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.common import REPO, Size, Table, fmt_ms, median, percentile, verdict
from cleanroom.demo.specs import DEMO_POLICY, demo_dataset_specs
from cleanroom.policy import compile_template, parse_template_file
from cleanroom.types import CollaborationPolicy, DatasetSpec

TARGET_SECONDS = 0.020
WARM_UP = 2


def _compile_once(text: str, policy: CollaborationPolicy, specs: dict[str, DatasetSpec]) -> None:
    source = parse_template_file(text)
    compile_template(
        source.sql,
        source.parameters,
        {},
        source.purpose or "measurement",
        policy,
        specs,
        dict(source.bounds),
        line_offset=source.line_offset,
        consent=source.consent,
    )


def validate_figure(size: Size, repeat: int, scratch: Path) -> list[Table]:
    del repeat, scratch  # iterations come from the size; nothing touches disk
    policy = CollaborationPolicy.from_dict(DEMO_POLICY)
    specs = {name: DatasetSpec.from_dict(s) for name, s in demo_dataset_specs().items()}
    table = Table(
        "validate",
        ["template", "median ms", "p95 ms", "max ms", "target median < 20 ms"],
    )
    for path in sorted((REPO / "queries").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        for _ in range(WARM_UP):
            _compile_once(text, policy, specs)
        times = []
        for _ in range(size.validate_iterations):
            start = time.perf_counter()
            _compile_once(text, policy, specs)
            times.append(time.perf_counter() - start)
        mid = median(times)
        table.rows.append(
            [
                path.stem,
                fmt_ms(mid),
                fmt_ms(percentile(times, 95)),
                fmt_ms(max(times)),
                verdict(mid < TARGET_SECONDS),
            ]
        )
    table.notes.append(
        f"{size.validate_iterations} iterations per template after {WARM_UP} warm-ups; "
        "parse + bind + check + rewrite + transpile to both dialects."
    )
    return [table]
