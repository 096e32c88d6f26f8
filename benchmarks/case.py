"""Child-process entry: ``python -m benchmarks.case NAME JSON_ARGS`` prints one JSON line.

The result always carries ``maxrss_kib``: this process's peak resident set size, read from
``VmHWM`` in ``/proc/self/status``. Not ``ru_maxrss``: Linux carries the parent's high-water mark
across ``fork`` + ``exec`` into RUSAGE_SELF, so a child of a large harness would report the
harness's memory; ``VmHWM`` belongs to the new address space only.
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


def _status_kib(field: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def current_rss_kib() -> int:
    """Resident set size right now (from /proc; 0 where unavailable)."""
    return _status_kib("VmRSS")


def peak_rss_kib() -> int:
    """Peak resident set size of this process since its exec (``ru_maxrss`` off Linux)."""
    return _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> int:
    name, raw = argv[0], argv[1]
    module_name, func_name = CASES[name].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    result: dict[str, Any] = func(json.loads(raw))
    result["maxrss_kib"] = peak_rss_kib()
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
