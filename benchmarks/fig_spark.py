"""Figure 6 (issue 7): the attribution template on Spark ``local[2]`` next to DuckDB.

Both engines run the same compiled template (``last_touch_attribution``, default parameters,
demo policy) over the same stored Parquet files, through ``SparkEngine.execute`` and
``DuckDBEngine.execute`` with the default settings. One child process: the Spark session is
started once (reported separately: a worker process reuses it across runs), each engine is
warmed up with one untimed run, then the two alternate. Memory is not compared: Spark's work
happens in the JVM, outside the Python process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import Size, Table, fmt_rows, fmt_s, median, run_case
from benchmarks.world import BenchWorld, bench_settings, build_world

TEMPLATE = "last_touch_attribution"


def spark_case(args: dict[str, Any]) -> dict[str, Any]:
    """Child: session start, cold and warm runs of both engines, interleaved."""
    import logging

    from cleanroom.demo.specs import DEMO_POLICY, demo_dataset_specs
    from cleanroom.engine import DuckDBEngine, SparkEngine, suppression_table
    from cleanroom.policy import compile_template, parse_template_file
    from cleanroom.types import CollaborationPolicy, DatasetSpec, dataset_view

    logging.basicConfig(level=logging.WARNING)  # an engine failure is logged, not raised
    world = BenchWorld.load(Path(args["world"]))
    settings = bench_settings(world.data_dir, engine="spark")
    source = parse_template_file(Path(args["template_file"]).read_text(encoding="utf-8"))
    specs = {name: DatasetSpec.from_dict(s) for name, s in demo_dataset_specs().items()}
    compiled = compile_template(
        source.sql,
        source.parameters,
        {},
        source.purpose or "measurement",
        CollaborationPolicy.from_dict(DEMO_POLICY),
        specs,
        dict(source.bounds),
        line_offset=source.line_offset,
        consent=source.consent,
    )
    views = {dataset_view(name): path for name, path in world.files.items()}
    suppressed = suppression_table([])
    start = time.perf_counter()
    spark = SparkEngine(settings)
    spark.check_ready()
    session_s = time.perf_counter() - start
    duck = DuckDBEngine(settings)

    def timed(engine: Any, sql: str) -> float:
        begin = time.perf_counter()
        engine.execute(sql, views, suppressed)
        return time.perf_counter() - begin

    cold_spark = timed(spark, compiled.spark_sql)
    cold_duck = timed(duck, compiled.duckdb_sql)
    pairs = [
        (timed(spark, compiled.spark_sql), timed(duck, compiled.duckdb_sql))
        for _ in range(args["repeat"])
    ]
    spark.close()
    return {"session": session_s, "cold": [cold_spark, cold_duck], "pairs": pairs}


def spark_figure(size: Size, repeat: int, scratch: Path, rows: tuple[int, ...]) -> list[Table]:
    from benchmarks.common import REPO

    table = Table(
        "spark",
        [
            "rows/party", "Spark session start s", "Spark first run s", "Spark median s",
            "DuckDB median s", "Spark / DuckDB (paired median)",
        ],
    )  # fmt: skip
    for n in rows:
        world_dir = scratch / f"world-{n}"
        world = (
            BenchWorld.load(world_dir / "world.json")
            if (world_dir / "world.json").exists()
            else build_world(world_dir, scratch / "uploads", n)
        )
        result = run_case(
            "spark",
            {
                "world": str(world.data_dir / "world.json"),
                "template_file": str(REPO / "queries" / f"{TEMPLATE}.sql"),
                "repeat": repeat,
            },
        )
        pairs = result["pairs"]
        table.rows.append(
            [
                fmt_rows(n),
                fmt_s(result["session"]),
                fmt_s(result["cold"][0]),
                fmt_s(median([s for s, _ in pairs])),
                fmt_s(median([d for _, d in pairs])),
                f"{median([s / d for s, d in pairs]):.2f}",
            ]
        )
    table.notes.append(
        f"`{TEMPLATE}`, engine execution only (compiled SQL in, Arrow table out); "
        f"{repeat} interleaved warm repetitions after one untimed warm-up each."
    )
    return [table]
