"""The DuckDB sandbox: a fresh in-memory connection that can read the files it is given and
nothing else. The engine opens one per run (the run's dataset files), ingestion one per upload
(the uploaded file); both go through :func:`lock_down`, and :func:`check_ready` proves once per
process that this DuckDB build honours it.

The order DuckDB needs (settings are locked last, so nothing after can loosen them):

1. the caller creates its views (``read_parquet``/``read_csv`` of a checked, quoted path) and
   temporary tables while external access is still on;
2. :func:`lock_down` sets resource limits (threads, memory, a spill directory capped at ``spill``
   or none at all), UTC, the insertion-order mode, no Python replacement scans, no extension
   auto-install/auto-load, no remote file systems;
3. ``allowed_paths`` / ``allowed_directories``: exactly the caller's files and directories;
4. ``enable_external_access = false``, then ``lock_configuration = true``: no ``SET``, ``PRAGMA``
   or ``RESET`` works afterwards, so a connection that needs another setting is a new connection.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cleanroom.engine.base import log, log_failure
from cleanroom.errors import ConfigError

_self_test_lock = threading.Lock()
_self_test_passed = False


def sql_string(text: str) -> str:
    """``text`` as a DuckDB string literal (DDL takes no parameters).

    >>> sql_string("/data/o'brien.parquet")
    "'/data/o''brien.parquet'"
    """
    return "'" + text.replace("'", "''") + "'"


def connect() -> duckdb.DuckDBPyConnection:
    """A new in-memory connection, not yet locked: create views, then call :func:`lock_down`."""
    return duckdb.connect(":memory:")


def lock_down(
    conn: duckdb.DuckDBPyConnection,
    *,
    files: Sequence[Path] = (),
    directories: Sequence[Path] = (),
    memory: str,
    threads: int | None = None,
    temp_dir: Path | None = None,
    spill: str = "0B",
    preserve_insertion_order: bool = True,
) -> None:
    """Apply the sandbox to ``conn``: only ``files`` and the Parquet files under
    ``directories`` stay readable, and no setting can change afterwards. ``threads`` None keeps
    DuckDB's default (one per core); ``temp_dir`` None means the connection never spills."""
    statements = [
        *([f"SET threads = {int(threads)}"] if threads is not None else []),
        f"SET memory_limit = {sql_string(memory)}",
        "SET TimeZone = 'UTC'",
        f"SET preserve_insertion_order = {'true' if preserve_insertion_order else 'false'}",
        "SET python_enable_replacements = false",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET allow_community_extensions = false",
        "SET disabled_filesystems = 'HTTPFileSystem,S3FileSystem'",
        f"SET temp_directory = {sql_string(str(temp_dir) if temp_dir is not None else '')}",
        f"SET max_temp_directory_size = {sql_string(spill if temp_dir is not None else '0B')}",
        f"SET allowed_paths = {_sql_list([str(f) for f in files])}",
        f"SET allowed_directories = {_sql_list([str(d) + '/' for d in directories])}",
        "SET enable_external_access = false",
        "SET lock_configuration = true",
    ]
    for statement in statements:
        conn.execute(statement)


def check_ready() -> None:
    """Run :func:`self_test` once per process (ConfigError when the sandbox leaks)."""
    global _self_test_passed
    with _self_test_lock:
        if not _self_test_passed:
            self_test()
            _self_test_passed = True


def self_test() -> None:
    """Lock a connection over one scratch file and check that another file, written next to it
    but not given, cannot be read, copied to or attached, and that the settings cannot be
    changed back. Raises ConfigError when the sandbox leaks."""
    with tempfile.TemporaryDirectory(prefix="cleanroom-selftest-") as scratch:
        root = Path(scratch)
        (root / "inside").mkdir()
        (root / "outside").mkdir()
        inside, outside = root / "inside" / "d.parquet", root / "outside" / "o.parquet"
        pq.write_table(pa.table({"x": [1]}), inside)
        pq.write_table(pa.table({"x": [2]}), outside)
        (root / "outside" / "o.csv").write_text("x\n3\n", encoding="utf-8")
        escapes = (
            f"SELECT * FROM read_parquet({sql_string(str(outside))})",
            f"SELECT * FROM read_csv({sql_string(str(root / 'outside' / 'o.csv'))})",
            f"SELECT * FROM {sql_string(str(outside))}",
            f"COPY (SELECT 1) TO {sql_string(str(root / 'outside' / 'w.csv'))}",
            f"ATTACH {sql_string(str(root / 'outside' / 'a.duckdb'))} AS a",
            "SET enable_external_access = true",
        )
        conn = connect()
        try:
            try:
                source = sql_string(str(inside))
                conn.execute(f"CREATE VIEW v AS SELECT * FROM read_parquet({source})")
                lock_down(conn, files=[inside], threads=1, memory="256MB")
                readable = conn.sql("SELECT x FROM v").fetchall() == [(1,)]
            except duckdb.Error as exc:
                log_failure("duckdb self-test", exc)
                raise ConfigError(
                    "DuckDB sandbox self-test could not run; see the server log"
                ) from None
            if not readable:
                raise ConfigError("DuckDB sandbox self-test: a registered view is unreadable")
            for number, statement in enumerate(escapes, start=1):
                try:
                    conn.execute(statement)
                except duckdb.Error:
                    continue
                raise ConfigError(
                    f"DuckDB sandbox self-test failed: escape {number} of {len(escapes)} "
                    "was not refused; do not serve runs with this DuckDB build"
                )
        finally:
            conn.close()
    log.info("DuckDB sandbox self-test passed")


def _sql_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(sql_string(i) for i in items) + "]::VARCHAR[]"
