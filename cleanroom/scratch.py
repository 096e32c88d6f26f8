"""Scratch entries a crash can leave behind, and sweeping them away.

A server writes three kinds of scratch: uploads being received (``<data_dir>/tmp/upload-*``), a
run's spill directory (``<data_dir>/tmp/duckdb-*``) and a Parquet file being written
(``.tmp-*`` beside its final name). The process using one holds an exclusive ``flock`` on it
(:func:`held`); the kernel drops that lock when the process dies, however it dies (SIGKILL too).
:func:`sweep` removes the entries nobody holds, once they are older than a short grace period
(the instant between creating an entry and locking it), so live work of other processes sharing
the data directory is never touched. A fourth kind, files staged by the console while a person
confirms their spec (``<data_dir>/tmp/staged-*``), is kept between requests and swept only after
:data:`STAGED_TTL_SECONDS`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

SCRATCH_PREFIXES = ("upload-", "duckdb-", ".tmp-")
GRACE_SECONDS = 60.0
# A file uploaded through the console, kept while its owner confirms the drafted spec
# (cleanroom.web.console.staging): unheld between requests, so it is swept only once it is old.
STAGED_PREFIX = "staged-"
STAGED_TTL_SECONDS = 3600.0


@contextmanager
def held(path: Path) -> Iterator[Path]:
    """Hold ``path`` (a file or directory just created by the caller) until the block ends."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield path
    finally:
        os.close(fd)


def sweep(
    directory: Path,
    prefixes: Sequence[str] = SCRATCH_PREFIXES,
    grace_seconds: float = GRACE_SECONDS,
) -> int:
    """Remove the unheld scratch entries of ``directory`` older than ``grace_seconds``; returns
    how many were removed. A missing directory has none."""
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return 0
    removed = 0
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(tuple(prefixes)):
            continue
        try:
            if entry.is_symlink() or now - entry.stat().st_mtime < grace_seconds:
                continue
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone meanwhile, or not ours to open
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live process holds it
        try:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        finally:
            os.close(fd)
    return removed


def sweep_data_dir(data_dir: Path, grace_seconds: float = GRACE_SECONDS) -> int:
    """Sweep ``<data_dir>/tmp`` and every collaboration's dataset directory."""
    removed = sweep(data_dir / "tmp", grace_seconds=grace_seconds)
    removed += sweep(data_dir / "tmp", (STAGED_PREFIX,), max(grace_seconds, STAGED_TTL_SECONDS))
    datasets = data_dir / "datasets"
    if datasets.is_dir():
        for folder in datasets.iterdir():
            if folder.is_dir() and not folder.is_symlink():
                removed += sweep(folder, (".tmp-",), grace_seconds)
    return removed
