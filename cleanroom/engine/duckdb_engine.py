"""The embedded engine: each run gets its own sandboxed in-memory DuckDB connection.

The run's dataset files become views (``read_parquet`` of a checked, quoted path) and the
suppression keys a temporary table; then :func:`cleanroom.engine.sandbox.lock_down` leaves exactly
this run's dataset files readable (not the whole data directory, which holds other
collaborations' data), with the run's resource limits and a per-run spill directory capped at
``engine_spill_limit``, and locks the configuration.

Before the SQL reaches DuckDB it must be a single ``SELECT`` that calls none of the functions that
read files, settings or other SQL (:data:`DENIED_FUNCTIONS`); policy already rejects all of these,
the engine refuses them again in case a rewrite bug lets one through.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from cleanroom.config import Settings
from cleanroom.engine import sandbox
from cleanroom.engine.base import (
    ProgressCallback,
    RunWatch,
    check_view_names,
    local_path_under,
    log_failure,
    suppression_table,
)
from cleanroom.engine.sandbox import sql_string
from cleanroom.errors import ExecutionFailed
from cleanroom.names import PID, SUPPRESSION_VIEW
from cleanroom.scratch import held

DENIED_FUNCTIONS = frozenset(
    {
        "query", "query_table", "current_setting", "getenv", "getvariable", "glob",
        "sniff_csv", "which_secret", "from_csv_auto", "from_parquet", "checkpoint",
        "force_checkpoint", "json_execute_serialized_sql", "enable_profiling",
    }
)  # fmt: skip
DENIED_PREFIXES = (
    "read_", "parquet_", "duckdb_", "pragma_", "iceberg_", "delta_", "sqlite_", "postgres_",
    "mysql_", "json_execute", "load_", "install_",
)  # fmt: skip
_NAME_TOKENS = (duckdb.token_type.identifier, duckdb.token_type.keyword)
_SPILL_SETTING = "max_temp_directory_size"  # named in DuckDB's error when the spill cap is hit


def checked_select(sql: str) -> str:
    """``sql`` when it is one ``SELECT`` calling no denied function, else ExecutionFailed.

    >>> checked_select("SELECT COUNT(*) FROM cr_ds_t")
    'SELECT COUNT(*) FROM cr_ds_t'
    >>> checked_select("SELECT * FROM read_csv('/etc/passwd')")
    Traceback (most recent call last):
    ...
    cleanroom.errors.ExecutionFailed: the query calls a function the engine does not allow
    """
    try:
        with duckdb.connect(":memory:") as parser:
            statements = parser.extract_statements(sql)
        tokens = duckdb.tokenize(sql)
    except duckdb.Error as exc:
        log_failure("duckdb", exc)
        raise ExecutionFailed("the query could not be parsed by the engine") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise ExecutionFailed("the engine runs exactly one SELECT statement per run")
    for i, (start, kind) in enumerate(tokens):
        if kind not in _NAME_TOKENS or i + 1 >= len(tokens):
            continue
        end, next_kind = tokens[i + 1]
        if next_kind != duckdb.token_type.operator or not sql[end:].lstrip().startswith("("):
            continue
        name = sql[start:end].strip().strip('"').replace('""', '"').lower()
        if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
            raise ExecutionFailed("the query calls a function the engine does not allow")
    return sql


def sandboxed_connection(
    locations: Mapping[str, Path],
    suppressed: pa.Table,
    *,
    temp_dir: Path | None,
    threads: int,
    memory: str,
    spill: str = "0B",
    progress: bool = False,
) -> duckdb.DuckDBPyConnection:
    """A locked in-memory connection with ``locations`` (view -> checked Parquet file or
    directory) as views and ``suppressed`` as the suppression table; nothing else is readable."""
    conn = sandbox.connect()
    try:
        files, directories = [], []
        for view, path in locations.items():
            if path.is_dir():
                directories.append(path)
                source = sql_string(str(path / "**" / "*.parquet"))
            else:
                files.append(path)
                source = sql_string(str(path))
            conn.execute(f'CREATE VIEW "{view}" AS SELECT * FROM read_parquet({source})')
        conn.execute(f'CREATE TEMP TABLE "{SUPPRESSION_VIEW}" ("{PID}" BLOB)')
        source_name = f"cr_src_{uuid.uuid4().hex}"
        conn.register(source_name, suppressed)
        try:
            conn.execute(f'INSERT INTO "{SUPPRESSION_VIEW}" SELECT "{PID}" FROM "{source_name}"')
        finally:
            conn.unregister(source_name)
        if progress:
            conn.execute("SET enable_progress_bar = true")
            conn.execute("SET enable_progress_bar_print = false")
            conn.execute("SET progress_bar_time = 0")
        sandbox.lock_down(
            conn,
            files=files,
            directories=directories,
            temp_dir=temp_dir,
            threads=threads,
            memory=memory,
            spill=spill,
        )
    except BaseException:
        conn.close()
        raise
    return conn


class DuckDBEngine:
    """Runs each query on a fresh, locked-down in-memory DuckDB connection."""

    name = "duckdb"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)

    def check_ready(self) -> None:
        """Prove once per process that the sandbox refuses files outside a run's datasets."""
        sandbox.check_ready()

    def close(self) -> None:
        """Nothing to release: connections live only as long as a run."""

    @staticmethod
    def self_test() -> None:
        """The sandbox's self-test (:func:`cleanroom.engine.sandbox.self_test`)."""
        sandbox.self_test()

    def execute(
        self,
        sql: str,
        datasets: Mapping[str, str],
        suppressed_pids: Sequence[bytes] | pa.Table,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> pa.Table:
        """Run ``sql`` over ``datasets`` (view -> Parquet file or directory under the data dir)."""
        self.check_ready()
        check_view_names(datasets)
        checked_select(sql)
        if cancel is not None and cancel.is_set():
            raise ExecutionFailed("the run was cancelled")
        locations = {view: local_path_under(path, self.data_dir) for view, path in datasets.items()}
        suppressed = suppression_table(suppressed_pids)
        with self._run_dir() as temp_dir:
            try:
                conn = sandboxed_connection(
                    locations,
                    suppressed,
                    temp_dir=temp_dir,
                    threads=self.settings.engine_threads,
                    memory=self.settings.engine_memory_limit,
                    spill=self.settings.engine_spill_limit,
                    progress=on_progress is not None,
                )
            except duckdb.Error as exc:
                log_failure("duckdb", exc)
                raise ExecutionFailed(
                    "the engine could not open the run's datasets; details are in the server log"
                ) from None
            watch = RunWatch(
                timeout_seconds=self.settings.engine_timeout_seconds,
                interrupt=conn.interrupt,
                cancel=cancel,
                progress=lambda: _progress(conn),
                on_progress=on_progress,
            )
            try:
                with watch:
                    relation = conn.sql(sql)
                    if relation is None:  # pragma: no cover - checked_select admits SELECT only
                        raise ExecutionFailed("the query returned no result")
                    result: pa.Table = relation.to_arrow_table()
            except duckdb.Error as exc:
                watch.check()
                log_failure("duckdb", exc)
                raise ExecutionFailed(_failure(exc, self.settings)) from None
            finally:
                conn.close()
        watch.check()
        watch.report(1.0)
        return result

    @contextmanager
    def _run_dir(self) -> Iterator[Path]:
        """A spill directory of this run only (DuckDB allows reading its temp directory)."""
        path = self.data_dir / "tmp" / f"duckdb-{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        try:
            with held(path):  # a crash leaves it unheld: the next sweep removes it
                yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def _failure(exc: duckdb.Error, settings: Settings) -> str:
    """What stopped a run, for the server log (a run's API error is the same whatever it was)."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        if _SPILL_SETTING in str(exc):
            return (
                f"the run would spill more than engine_spill_limit "
                f"({settings.engine_spill_limit}) to disk"
            )
        return f"the run needed more than engine_memory_limit ({settings.engine_memory_limit})"
    return "the engine could not run the query; details are in the server log"


def _progress(conn: duckdb.DuckDBPyConnection) -> float | None:
    percent = conn.query_progress()
    return percent / 100.0 if percent >= 0 else None
