"""The facts of the machine and software a benchmark run was measured on."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import REPO, Size, Table

_PACKAGES = ("duckdb", "sqlglot", "opendp", "pyspark", "pyarrow", "sqlalchemy", "gunicorn")


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
        for line in text.splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _command(*argv: str) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except OSError:
        return "not found"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_table(size: Size, repeat: int, figures: list[str]) -> Table:
    rows: list[Sequence[str]] = [
        ["date (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")],
        ["git commit", _command("git", "-C", str(REPO), "rev-parse", "--short", "HEAD")],
        ["CPU", f"{_cpu_model()}, {os.cpu_count()} cores"],
        ["memory", _memory_gib()],
        ["OS", f"{platform.system()} {platform.release()}"],
        ["Python", platform.python_version()],
        *([p, _version(p)] for p in _PACKAGES),
        ["SQLite", sqlite3.sqlite_version],
        ["PostgreSQL", _command("psql", "--version")],
        ["Java (Spark)", _command("java", "-version")],
        ["load average (1, 5, 15 min) at the end", ", ".join(f"{x:.1f}" for x in os.getloadavg())],
        ["size, repetitions", f"{size.name}, {repeat}"],
        ["figures run", ", ".join(figures)],
    ]
    return Table("machine", ["fact", "value"], rows)
