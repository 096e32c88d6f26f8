"""Child-process entry: ``python -m benchmarks.case NAME JSON_ARGS`` prints one JSON line.

The result always carries ``maxrss_kib``: this process's peak resident set size (Linux reports
``ru_maxrss`` in KiB), i.e. the peak memory of exactly one case.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
from typing import Any

CASES = {
    "ingest": "benchmarks.fig_ingest:ingest_case",
    "run_dp": "benchmarks.fig_runs:dp_case",
    "run_plain": "benchmarks.fig_runs:plain_case",
    "spark": "benchmarks.fig_spark:spark_case",
    "ledger_worker": "benchmarks.fig_ledger:worker_case",
    "loadgen": "benchmarks.fig_server:loadgen_case",
}


def current_rss_kib() -> int:
    """Resident set size right now (from /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv: list[str]) -> int:
    name, raw = argv[0], argv[1]
    module_name, func_name = CASES[name].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    result: dict[str, Any] = func(json.loads(raw))
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
