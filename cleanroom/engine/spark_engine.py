"""The distributed engine: the same compiled templates on Apache Spark (PySpark 4).

One SparkSession per process, created lazily under a lock and reused; each run works in its own
``newSession()`` (shared SparkContext, separate temp views and SQL settings), so concurrent runs
never see each other's views. pyspark is imported only inside functions: it is an optional extra.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from cleanroom.config import Settings
from cleanroom.engine.base import (
    ProgressCallback,
    RunWatch,
    check_view_names,
    local_path_under,
    log,
    log_failure,
    suppression_table,
)
from cleanroom.engine.spark_guard import check_spark_select
from cleanroom.errors import ConfigError, ExecutionFailed
from cleanroom.names import PID, SUPPRESSION_VIEW

_session_lock = threading.Lock()
_session: Any = None
_ready = False

# Settings each run's session re-asserts: a run's session starts from the shared one.
RUN_SQL_CONF = {
    # Off: templates must be total (a run failing on one person's values would be a noiseless
    # released bit), and without ANSI mode overflow, division by zero and bad casts give NULL
    # instead of an error. The compiler marks the same operations TRY(...) for DuckDB.
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.runSQLOnFiles": "false",
}


def session_conf(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The SparkSession configuration for ``settings`` (``extra`` wins, e.g. driver memory)."""
    conf = {
        "spark.master": settings.spark_master,
        "spark.app.name": "cleanroom",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.executor.memory": settings.spark_executor_memory,
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.warehouse.dir": str(
            (Path(settings.data_dir) / "tmp" / "spark-warehouse").absolute()
        ),
        **RUN_SQL_CONF,
    }
    if settings.spark_master.startswith("local"):
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
    conf.update(extra or {})
    return conf


def get_session(settings: Settings, extra: Mapping[str, str] | None = None) -> Any:
    """The process's SparkSession, created on first use (the first caller's settings win)."""
    global _session
    with _session_lock:
        if _session is None:
            _session = _start_session(session_conf(settings, extra))
        return _session


def stop_session() -> None:
    """Stop the process's SparkSession (tests and process shutdown)."""
    global _session, _ready
    with _session_lock:
        if _session is not None:
            _session.stop()
            _session, _ready = None, False


def _start_session(conf: Mapping[str, str]) -> Any:
    with warnings.catch_warnings():
        # pyspark warns about pandas >= 3 once, at import; we never convert to pandas.
        warnings.simplefilter("ignore", FutureWarning)
        import pyspark.testing.utils  # noqa: F401  (the import that warns, done here once)
        from pyspark.logger import PySparkLogger
        from pyspark.sql import SparkSession

        builder = SparkSession.builder
        for key, value in conf.items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - JVM start fails in many ways; all are config
            log_failure("spark start", exc)
            raise ConfigError(
                "the Spark session could not start (check spark_master and Java); "
                "details are in the server log"
            ) from None
    # Spark logs failing queries with their full text, which can quote data values.
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True
    session.sparkContext.setLogLevel("FATAL")
    return session


class SparkEngine:
    """Runs each query in a fresh Spark session view namespace over Parquet read by URI."""

    name = "spark"

    def __init__(self, settings: Settings, extra_conf: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.extra_conf = dict(extra_conf or {})
        self.data_dir = Path(settings.data_dir)

    def check_ready(self) -> None:
        """Start the session if needed and prove, once, that path tables are refused."""
        global _ready
        session = get_session(self.settings, self.extra_conf)
        with _session_lock:
            if _ready:
                return
            run = session.newSession()
            for key, value in RUN_SQL_CONF.items():
                run.conf.set(key, value)
            try:
                if run.sql("SELECT 1 AS one").collect()[0][0] != 1:
                    raise ConfigError("the Spark session answers SELECT 1 wrongly")
            except ConfigError:
                raise
            except spark_errors() as exc:
                log_failure("spark readiness", exc)
                raise ConfigError(
                    "the Spark session cannot run queries; see the server log"
                ) from None
            try:
                run.sql(f"SELECT * FROM parquet.`{self.data_dir.absolute()}`").collect()
            except spark_errors():
                _ready = True
                return
            raise ConfigError("Spark reads files named in SQL (spark.sql.runSQLOnFiles); refusing")

    def close(self) -> None:
        """The session is shared by the process; ``stop_session()`` ends it at shutdown."""

    def data_uri(self, location: str) -> str:
        """Where Spark reads ``location``: a URI under ``spark_data_uri`` (or the data dir).

        A local path under the data dir maps to the same relative path under ``spark_data_uri``;
        a URI must already lie under it. Anything else is refused.
        """
        root = self.settings.spark_data_uri.rstrip("/")
        parts = urlsplit(location)
        if parts.scheme and parts.scheme != "file" and len(parts.scheme) > 1:
            segments = parts.path.split("/")
            if not root or not location.startswith(root + "/") or ".." in segments:
                raise ExecutionFailed("a dataset location lies outside the Spark data root")
            return location
        local = parts.path if parts.scheme == "file" else location
        path = local_path_under(local, self.data_dir, must_exist=not root)
        if not root:
            return path.as_uri()
        relative = path.relative_to(self.data_dir.resolve()).as_posix()
        return f"{root}/{relative}"

    def execute(
        self,
        sql: str,
        datasets: Mapping[str, str],
        suppressed_pids: Sequence[bytes] | pa.Table,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> pa.Table:
        """Run ``sql`` (Spark dialect) over ``datasets`` (view -> path or URI)."""
        check_view_names(datasets)
        check_spark_select(sql)
        if cancel is not None and cancel.is_set():
            raise ExecutionFailed("the run was cancelled")
        uris = {view: self.data_uri(location) for view, location in datasets.items()}
        suppressed = suppression_table(suppressed_pids)
        self.check_ready()
        base = get_session(self.settings, self.extra_conf)
        context = base.sparkContext
        group = f"cleanroom-{uuid.uuid4().hex}"
        watch = RunWatch(
            timeout_seconds=self.settings.engine_timeout_seconds,
            interrupt=lambda: context.cancelJobGroup(group),
            cancel=cancel,
            progress=lambda: _group_progress(context, group),
            on_progress=on_progress,
        )
        session = base.newSession()
        views: list[str] = []
        try:
            for key, value in RUN_SQL_CONF.items():
                session.conf.set(key, value)
            context.setJobGroup(group, "cleanroom run", interruptOnCancel=True)
            with watch:
                for view, uri in uris.items():
                    session.read.parquet(uri).createOrReplaceTempView(view)
                    views.append(view)
                _suppression_frame(session, suppressed).createOrReplaceTempView(SUPPRESSION_VIEW)
                views.append(SUPPRESSION_VIEW)
                result: pa.Table = session.sql(sql).toArrow()
        except spark_errors() as exc:
            watch.check()
            log_failure("spark", exc)
            raise ExecutionFailed(
                "the engine could not run the query; details are in the server log"
            ) from None
        finally:
            context.setLocalProperty("spark.jobGroup.id", None)
            for view in views:
                try:
                    session.catalog.dropTempView(view)
                except Exception:  # noqa: BLE001 - the run's session is discarded anyway
                    log.debug("dropping a temp view failed", exc_info=True)
        watch.check()
        watch.report(1.0)
        return result


def spark_errors() -> tuple[type[BaseException], ...]:
    """What a failing Spark query raises: PySpark's errors, py4j's, and Arrow conversion errors."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError, pa.ArrowException)


def _suppression_frame(session: Any, suppressed: pa.Table) -> Any:
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField(PID, T.BinaryType(), nullable=False)])
    rows = [(key,) for key in suppressed.column(PID).to_pylist()]
    return session.createDataFrame(rows, schema=schema)


def _group_progress(context: Any, group: str) -> float | None:
    """Completed over known tasks of the run's jobs (grows as stages appear)."""
    tracker = context.statusTracker()
    done = total = 0
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        for stage_id in job.stageIds if job is not None else ():
            stage = tracker.getStageInfo(stage_id)
            if stage is not None:
                done += stage.numCompletedTasks
                total += stage.numTasks
    return done / total if total else None
