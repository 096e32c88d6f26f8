"""Figure 3: end-to-end DP runs next to the exact, unbounded query on plain DuckDB.

DP (``run_dp``): through the services layer on SQLite, as the server does it: ``create_run``
(compile, cost, charge) then ``RunWorker.run_pending`` (compile again and check the pin, execute
on the sandboxed DuckDB engine, release with OpenDP, persist the report atomically). The engine
is created (and its sandbox self-test done) before the clock starts, as in a serving process.

Plain (``run_plain``): the template's own SQL with the same parameters bound as literals, on a
plain in-memory DuckDB connection with the same threads and memory limit, over the same stored
Parquet files, result fetched as Arrow. Each repetition of each side is a fresh process; the two
sides alternate (DP, plain, DP, plain, ...) so drift hits both alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Size,
    Table,
    fmt_mb,
    fmt_ms,
    fmt_rows,
    fmt_s,
    median,
    run_case,
    verdict,
)
from benchmarks.world import (
    ADVERTISER,
    RUN_LOSS,
    TEMPLATES,
    BenchWorld,
    bench_settings,
    build_world,
    template_path,
)

TARGET_RATIO = 1.5
TARGET_MEMORY_KIB = 4 * 1024 * 1024
STAGES = ("create", "compile", "engine", "release", "persist")


def _timed(stages: dict[str, float], stage: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            stages[stage] = stages.get(stage, 0.0) + time.perf_counter() - start

    return wrapper


def dp_case(args: dict[str, Any]) -> dict[str, Any]:
    """Child: one DP run end to end; total seconds and a per-stage breakdown."""
    import cleanroom.services.runs as runs
    from cleanroom.services.context import build_services
    from cleanroom.services.requests import RunRequest

    world = BenchWorld.load(Path(args["world"]))
    svc = build_services(bench_settings(world.data_dir))
    engine = svc.engine()  # created (self-test included) before the clock, as when serving
    stages: dict[str, float] = {}
    # Stage timers wrap the functions the run path calls; they add microseconds.
    for owner, attr, stage in (
        (runs, "release", "release"),
        (runs, "plan_run", "compile"),
        (engine, "execute", "engine"),
        (svc.store, "complete_run", "persist"),
    ):
        setattr(owner, attr, _timed(stages, stage, getattr(owner, attr)))
    body = {"template_id": world.templates[args["template"]], "privacy_loss": RUN_LOSS}
    start = time.perf_counter()
    run, _ = runs.create_run(svc, ADVERTISER, world.collaboration_id, RunRequest.from_json(body))
    created = time.perf_counter()
    stages["create"] = created - start
    stages["compile"] = 0.0  # create_run's own compile is part of "create"
    runs.RunWorker(svc, "bench").run_pending()
    seconds = time.perf_counter() - start
    status = svc.store.get_run(run.id).status
    svc.close()
    if status != "succeeded":
        raise RuntimeError(f"the benchmark run ended {status}")
    return {"seconds": seconds, "stages": stages}


def plain_case(args: dict[str, Any]) -> dict[str, Any]:
    """Child: the exact unbounded template SQL on plain DuckDB over the same files."""
    import duckdb

    from cleanroom.policy import bind_template_sql, parse_template_file

    world = BenchWorld.load(Path(args["world"]))
    settings = bench_settings(world.data_dir)
    source = parse_template_file(Path(args["path"]).read_text(encoding="utf-8"))
    sql = bind_template_sql(source)  # defaults bound as typed literals, nothing rewritten
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(settings.engine_threads)}")
    con.execute(f"SET memory_limit = '{settings.engine_memory_limit}'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = '{world.data_dir / 'tmp-plain'}'")
    for name, path in world.files.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    start = time.perf_counter()
    table = con.sql(sql).to_arrow_table()
    seconds = time.perf_counter() - start
    con.close()
    return {"seconds": seconds, "result_rows": table.num_rows if table is not None else 0}


def runs_figure(size: Size, repeat: int, scratch: Path) -> list[Table]:
    main = Table(
        "runs",
        [
            "template", "rows/party", "DP median s", "plain median s", "ratio (paired median)",
            "DP peak RSS MB", "plain peak RSS MB", "target ratio <= 1.5 at 1e7, < 4 GB",
        ],
    )  # fmt: skip
    stages = Table(
        "runs_stages",
        ["template", "rows/party", "create ms", *(f"{s} ms" for s in STAGES[1:]), "other ms"],
    )
    for rows in size.run_rows:
        world = build_world(scratch / f"world-{rows}", scratch / "uploads", rows)
        world_file = str(world.data_dir / "world.json")
        for template in TEMPLATES:
            args = {"world": world_file, "template": template, "path": str(template_path(template))}
            dp, plain = [], []
            for _ in range(repeat):  # interleaved: DP, plain, DP, plain, ...
                dp.append(run_case("run_dp", args))
                plain.append(run_case("run_plain", args))
            ratios = [d["seconds"] / p["seconds"] for d, p in zip(dp, plain, strict=True)]
            ratio = median(ratios)
            dp_mem = max(r["maxrss_kib"] for r in dp)
            ok = ratio <= TARGET_RATIO and dp_mem < TARGET_MEMORY_KIB
            main.rows.append(
                [
                    template,
                    fmt_rows(rows),
                    fmt_s(median([r["seconds"] for r in dp])),
                    fmt_s(median([r["seconds"] for r in plain])),
                    f"{ratio:.2f}",
                    fmt_mb(dp_mem),
                    fmt_mb(max(r["maxrss_kib"] for r in plain)),
                    verdict(ok) if rows >= 10_000_000 else f"({verdict(ok)})",
                ]
            )
            medians = {s: median([r["stages"].get(s, 0.0) for r in dp]) for s in STAGES}
            other = median([r["seconds"] for r in dp]) - sum(medians.values())
            stages.rows.append(
                [template, fmt_rows(rows), *(fmt_ms(medians[s]) for s in STAGES), fmt_ms(other)]
            )
    main.notes.append(
        f"{repeat} interleaved repetitions per row, each in a fresh process; the verdict in "
        "parentheses is for sizes below the 1e7 at which the target is set."
    )
    return [main, stages]
