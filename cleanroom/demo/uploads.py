"""The demo world's files as each partner uploads them: raw emails hashed with the code behind
``cleanroom hash`` (normalized, SHA-256 hex), reference tables as they are.

Hashing is pure Python, row by row; the default world's millions of rows would keep one core busy
for half a minute, so each file is hashed by its own Python process, as many at once as there are
cores (the largest first).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from cleanroom.client.hashing import HashStats
from cleanroom.demo.specs import demo_dataset_specs
from cleanroom.demo.world import World

# One file: in path, out path, column; prints the HashStats as JSON.
_HASH_ONE = (
    "import json, sys\n"
    "from cleanroom.client.hashing import hash_identifier_file\n"
    "stats = hash_identifier_file(sys.argv[1], sys.argv[2], 'email', sys.argv[3])\n"
    "print(json.dumps(stats.to_dict()))\n"
)


def hash_world(
    world: World, out: Path, echo: Callable[[str], None] | None = None
) -> dict[str, Path]:
    """Dataset name -> the file to upload; personal datasets hashed into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    uploads: dict[str, Path] = {}
    todo: list[tuple[str, list[str]]] = []
    for name, spec in demo_dataset_specs().items():
        columns = [c for c, col in spec["columns"].items() if col["role"] == "identifier"]
        if not columns:
            uploads[name] = world.files[name]  # a reference table has no identifier
            continue
        uploads[name] = out / f"{name}.csv"
        argv = [sys.executable, "-c", _HASH_ONE, str(world.files[name]), str(uploads[name])]
        todo.append((name, [*argv, columns[0]]))
    todo.sort(key=lambda job: -world.files[job[0]].stat().st_size)
    stats = _run_all(todo, max(1, os.cpu_count() or 1))
    for name in demo_dataset_specs():
        if name in stats and echo is not None:
            found = stats[name]
            echo(f"  hashed {name}: {found.rows:,} rows, {found.hashed:,} hashed, "
                 f"{found.invalid:,} invalid")  # fmt: skip
    return uploads


def _run_all(jobs: list[tuple[str, list[str]]], at_once: int) -> dict[str, HashStats]:
    """Run the hashing processes, at most ``at_once`` at a time; name -> what each hashed."""
    waiting = list(jobs)
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    done: dict[str, HashStats] = {}
    while waiting or running:
        while waiting and len(running) < at_once:
            name, argv = waiting.pop(0)
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            running.append((name, process))
        name, process = running.pop(0)
        output, errors = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"hashing {name} failed: {errors.decode(errors='replace')[-500:]}")
        found = json.loads(output)
        done[name] = HashStats(found["rows"], found["hashed"], found["invalid"])
    return done
