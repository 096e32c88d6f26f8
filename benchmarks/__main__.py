"""``python -m benchmarks [--size small|default|large] [--only NAME ...] [--repeat N] [--out F]``.

Generates seeded data into a scratch directory (deleted afterwards), runs the selected figures
and rewrites their tables in the output markdown file. ``spark`` runs with ``--size large`` or
when named in ``--only`` (at the default size it runs at 1e6 rows per party).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import REPO, SIZES, SPARK_ONLY_ROWS, CaseFailed, Size, Table
from benchmarks.doc import write_tables
from benchmarks.machine import machine_table

FIGURES = ("ingest", "validate", "runs", "server", "ledger", "console", "utility", "spark")


def _figure(name: str, size: Size, only: bool) -> Callable[[Size, int, Path], list[Table]]:
    if name == "ingest":
        from benchmarks.fig_ingest import ingest_figure

        return ingest_figure
    if name == "validate":
        from benchmarks.fig_validate import validate_figure

        return validate_figure
    if name == "runs":
        from benchmarks.fig_runs import runs_figure

        return runs_figure
    if name == "server":
        from benchmarks.fig_server import server_figure

        return server_figure
    if name == "ledger":
        from benchmarks.fig_ledger import ledger_figure

        return ledger_figure
    if name == "console":
        from benchmarks.fig_console import console_figure

        return console_figure
    if name == "utility":
        from benchmarks.fig_utility import utility_figure

        return utility_figure
    from benchmarks.fig_spark import spark_figure

    rows = size.spark_rows or (SPARK_ONLY_ROWS if only else ())
    return lambda s, r, d: spark_figure(s, r, d, rows)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--only", nargs="+", choices=FIGURES, metavar="NAME")
    parser.add_argument("--repeat", type=int, help="repetitions per case (default: per size)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--scratch", type=Path, help="parent of the scratch directory")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    size = SIZES[args.size]
    repeat = args.repeat or size.repeat
    if repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    names = list(args.only or FIGURES)
    if not args.only and not size.spark_rows:
        names.remove("spark")  # too slow for the default budget; see docs/benchmarks.md
    scratch = Path(tempfile.mkdtemp(prefix="cleanroom-bench-", dir=args.scratch))
    tables: list[Table] = []
    failed = 0
    try:
        for name in names:
            began = time.monotonic()
            print(f"[bench] {name} ({size.name}, {repeat} repetitions)...", file=sys.stderr)
            try:
                produced = _figure(name, size, bool(args.only))(size, repeat, scratch)
            except (CaseFailed, RuntimeError, OSError) as exc:
                failed += 1
                print(f"[bench] {name} failed: {exc}", file=sys.stderr)
                continue
            tables += produced
            write_tables(args.out, produced)  # a later failure keeps what was measured
            print(f"[bench] {name} done in {time.monotonic() - began:.0f} s", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_tables(args.out, [machine_table(size, repeat, [t.marker for t in tables])])
    for table in tables:
        print(f"\n{table.marker}\n{table.markdown()}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
