"""Shared pieces: sizes, statistics, result tables and running one case in a subprocess.

Peak memory is measured per case: every measured case runs in a fresh ``python -m
benchmarks.case`` child that reports its own ``ru_maxrss`` (RUSAGE_SELF), so cases never
contaminate each other and the parent's own memory is never counted.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SECRET = "benchmark-secret-not-for-production"
JWT_SECRET = "benchmark-jwt-secret-not-for-production-0123456789"
SEED = 20250401


@dataclass(frozen=True)
class Size:
    """How big each figure runs; ``small`` is for the smoke test, ``large`` adds 1e7 rows."""

    name: str
    ingest_rows: tuple[int, ...]
    run_rows: tuple[int, ...]
    spark_rows: tuple[int, ...]  # empty: the Spark figure is skipped unless asked for
    repeat: int
    validate_iterations: int
    server_requests: int  # per endpoint
    server_clients: int
    server_time_cap: float  # seconds per endpoint
    ledger_processes: int
    ledger_threads: int
    ledger_admits: int  # charges the budget admits

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


SIZES: dict[str, Size] = {
    "small": Size("small", (10_000,), (10_000,), (), 2, 5, 200, 10, 20.0, 2, 2, 100),
    "default": Size(
        "default", (1_000_000,), (100_000, 1_000_000), (), 5, 60, 3000, 50, 60.0, 4, 8, 1000
    ),
    "large": Size(
        "large",
        (1_000_000, 10_000_000),
        (100_000, 1_000_000, 10_000_000),
        (1_000_000, 10_000_000),
        5,
        60,
        3000,
        50,
        60.0,
        4,
        8,
        1000,
    ),
}
SPARK_ONLY_ROWS = (1_000_000,)  # `--only spark` at the default size


@dataclass
class Table:
    """One markdown table, written between ``<!-- bench:{marker} -->`` comments."""

    marker: str
    headers: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [
            "| " + " | ".join(self.headers) + " |",
            "|" + "|".join("---" for _ in self.headers) + "|",
        ]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.rows]
        lines += [""] + [f"- {n}" for n in self.notes] if self.notes else []
        return "\n".join(lines)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100): an observed value, never interpolated."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def fmt_s(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds:.2f}"


def fmt_mb(kib: float) -> str:
    return "n/a" if math.isnan(kib) else f"{kib / 1024:.0f}"


def fmt_rows(n: int) -> str:
    exponent = int(math.log10(n)) if n > 0 else 0
    return f"1e{exponent}" if 10**exponent == n else f"{n:,}"


def fmt_rate(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


class CaseFailed(RuntimeError):
    """A benchmark child process failed (its stderr tail is in the message)."""


def run_case(name: str, args: Mapping[str, Any], timeout: float = 3600.0) -> dict[str, Any]:
    """Run ``benchmarks.case`` ``name`` in a fresh interpreter; its JSON result plus
    ``maxrss_kib`` (the child's peak resident set size)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.case", name, json.dumps(dict(args))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise CaseFailed(f"case {name} exited {proc.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
