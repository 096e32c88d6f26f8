"""DuckDBEngine runs: results, types, timeout, cancellation, progress, engine choice."""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanroom.config import Settings
from cleanroom.engine import DuckDBEngine, Engine, SparkEngine, make_engine, suppression_table
from cleanroom.errors import ExecutionFailed, InternalError

HUGE = (
    "SELECT COUNT(*) AS n FROM range(1000000000000) a, range(1000000) b WHERE a.range % 7 = b.range"
)


def test_types_of_ingest_parquet(duck: DuckDBEngine, datasets: dict[str, str]) -> None:
    result = duck.execute("SELECT pid, ts, ts_utc FROM cr_ds_transactions LIMIT 1", datasets, [])
    assert result.schema.field("pid").type == pa.binary()
    assert result.schema.field("ts").type == pa.timestamp("us")
    assert result.schema.field("ts_utc").type == pa.timestamp("us", tz="UTC")


def test_suppressed_pids_are_excluded(
    duck: DuckDBEngine, datasets: dict[str, str], suppressed: list[bytes]
) -> None:
    sql = (
        "SELECT COUNT(DISTINCT pid) AS n FROM cr_ds_transactions t "
        "WHERE NOT EXISTS (SELECT 1 FROM cr_suppressed s WHERE s.pid = t.pid)"
    )
    everyone = duck.execute(sql, datasets, []).column("n")[0].as_py()
    as_table = pa.table({"pid": pa.array(suppressed, pa.binary(32))})
    fewer = duck.execute(sql, datasets, as_table).column("n")[0].as_py()
    present = duck.execute(
        "SELECT COUNT(DISTINCT t.pid) AS n FROM cr_ds_transactions t JOIN cr_suppressed s "
        "ON s.pid = t.pid",
        datasets,
        suppressed,
    )
    assert everyone - fewer == present.column("n")[0].as_py() > 0


def test_a_parquet_directory_is_a_dataset(duck: DuckDBEngine, settings: Settings) -> None:
    folder = settings.datasets_dir / "parts"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1, 2]}), folder / "part-0.parquet")
    pq.write_table(pa.table({"x": [3]}), folder / "part-1.parquet")
    result = duck.execute("SELECT SUM(x) AS s FROM cr_ds_parts", {"cr_ds_parts": str(folder)}, [])
    assert int(result.column("s")[0].as_py()) == 6


def test_timeout_interrupts_a_long_query(settings: Settings, datasets: dict[str, str]) -> None:
    engine = DuckDBEngine(settings.replace(engine_timeout_seconds=1))
    with pytest.raises(ExecutionFailed) as caught:
        engine.execute(HUGE, datasets, [])
    assert caught.value.code == "execution_failed"
    assert "timeout" in str(caught.value)


def test_cancellation_stops_a_running_query(duck: DuckDBEngine, datasets: dict[str, str]) -> None:
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    with pytest.raises(ExecutionFailed) as caught:
        duck.execute(HUGE, datasets, [], cancel=cancel)
    assert "cancelled" in str(caught.value)


def test_a_cancelled_run_does_not_start(duck: DuckDBEngine, datasets: dict[str, str]) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExecutionFailed, match="cancelled"):
        duck.execute("SELECT 1 AS one", datasets, [], cancel=cancel)


def test_progress_ends_at_one_and_never_goes_back(
    duck: DuckDBEngine, datasets: dict[str, str]
) -> None:
    seen: list[float] = []
    duck.execute("SELECT COUNT(*) AS n FROM range(50000000)", datasets, [], on_progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert all(0.0 <= f <= 1.0 for f in seen)


def test_the_run_leaves_no_temp_directory(duck: DuckDBEngine, settings: Settings) -> None:
    duck.execute("SELECT 1 AS one", {}, [])
    assert list((settings.data_dir / "tmp").iterdir()) == []


def test_bad_suppression_keys_are_a_bug() -> None:
    with pytest.raises(InternalError):
        suppression_table([b"short"])
    with pytest.raises(InternalError):
        suppression_table(pa.table({"other": [b"x" * 32]}))
    assert suppression_table([]).num_rows == 0


def test_generated_view_names_only(duck: DuckDBEngine, datasets: dict[str, str]) -> None:
    with pytest.raises(InternalError):
        duck.execute("SELECT 1 AS one", {'x" AS SELECT 1; --': datasets["cr_ds_stores"]}, [])
    with pytest.raises(InternalError):
        duck.execute("SELECT 1 AS one", {"cr_suppressed": datasets["cr_ds_stores"]}, [])


def test_make_engine_chooses_by_setting(settings: Settings) -> None:
    assert isinstance(make_engine(settings), DuckDBEngine)
    spark = make_engine(settings.replace(engine="spark"))
    assert isinstance(spark, SparkEngine)
    assert isinstance(spark, Engine)
    duck = make_engine(settings)
    duck.check_ready()
    duck.close()


def test_a_run_that_would_spill_past_the_limit_fails(
    settings: Settings, datasets: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # Without a cap DuckDB spills up to 90% of the free disk; this sort spills about 30 MB.
    sql = "SELECT range % 1000003 AS k, count(*) AS n FROM range(3000000) GROUP BY k ORDER BY k"
    tight = settings.replace(engine_memory_limit="30MB", engine_threads=1)
    assert DuckDBEngine(tight.replace(engine_spill_limit="1GB")).execute(sql, datasets, []).num_rows
    engine = DuckDBEngine(tight.replace(engine_spill_limit="1MB"))
    with pytest.raises(ExecutionFailed, match="spill more than engine_spill_limit") as caught:
        engine.execute(sql, datasets, [])
    assert caught.value.code == "execution_failed"
    assert list((settings.data_dir / "tmp").iterdir()) == []
