"""Figure 1: ingestion throughput and peak memory (CSV and Parquet uploads, re-keying included).

Each repetition ingests the ``transactions`` upload (identifier, timestamp, dimensions, metrics,
a consent flag and a blocked column) with ``cleanroom.ingest.ingest_dataset`` in a fresh child
process: validation, minimization, HMAC re-keying and the atomic Parquet write. The clock runs
around that call only (not the interpreter start); memory is the child's peak RSS.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    SECRET,
    SEED,
    Size,
    Table,
    fmt_mb,
    fmt_rate,
    fmt_rows,
    fmt_s,
    median,
    run_case,
    verdict,
)
from benchmarks.datagen import write_dataset

TARGET_ROWS_PER_S = 1_000_000


def ingest_case(args: dict[str, Any]) -> dict[str, Any]:
    """Child: ingest one upload; seconds, rows stored and the stored file's size."""
    from benchmarks.case import current_rss_kib
    from cleanroom.demo.specs import demo_dataset_specs
    from cleanroom.ingest import ingest_dataset
    from cleanroom.types import DatasetSpec

    spec = DatasetSpec.from_dict(demo_dataset_specs()["transactions"])
    idle = current_rss_kib()
    start = time.perf_counter()
    result = ingest_dataset(
        Path(args["source"]),
        spec,
        secret_key=SECRET,
        collaboration_id="bench",
        dest_dir=Path(args["dest"]),
    )
    seconds = time.perf_counter() - start
    result.path.unlink()
    return {"seconds": seconds, "rows": result.rows, "bytes": result.bytes, "idle_kib": idle}


def ingest_figure(size: Size, repeat: int, scratch: Path) -> list[Table]:
    table = Table(
        "ingest",
        [
            "format", "rows", "source MB", "median s", "rows/s (median)", "min..max rows/s",
            "peak RSS MB", "RSS after imports MB", "target >= 1e6 rows/s",
        ],
    )  # fmt: skip
    for rows in size.ingest_rows:
        for fmt in ("csv", "parquet"):
            source = write_dataset("transactions", rows, fmt, scratch / "uploads", SEED)
            results = [
                run_case("ingest", {"source": str(source), "dest": str(scratch / "ingested")})
                for _ in range(repeat)
            ]
            rates = [r["rows"] / r["seconds"] for r in results]
            seconds = median([r["seconds"] for r in results])
            rate = rows / seconds
            table.rows.append(
                [
                    fmt,
                    fmt_rows(rows),
                    f"{source.stat().st_size / 1e6:.0f}",
                    fmt_s(seconds),
                    fmt_rate(rate),
                    f"{fmt_rate(min(rates))}..{fmt_rate(max(rates))}",
                    fmt_mb(max(r["maxrss_kib"] for r in results)),
                    fmt_mb(median([r["idle_kib"] for r in results])),
                    verdict(rate >= TARGET_ROWS_PER_S),
                ]
            )
    table.notes.append(
        f"{repeat} repetitions per row, each in a fresh process; rows/s is rows / median seconds."
    )
    return [table]
