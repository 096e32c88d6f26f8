"""Raw SQL escapes sent straight to the DuckDB engine (as if policy had let them through) fail
with execution_failed, never echo engine text or data, while the registered views stay readable.

Two layers are tested: the whole engine (statement/function guard + locked connection), and the
locked connection alone (``sandboxed_connection``), which must hold even without the guard."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanroom.config import Settings
from cleanroom.engine import DuckDBEngine, suppression_table
from cleanroom.engine.base import local_path_under
from cleanroom.engine.duckdb_engine import sandboxed_connection
from cleanroom.errors import ExecutionFailed


def outside_files(tmp_path: Path) -> Path:
    """Files in another directory than the data dir: a Parquet, a CSV and a JSON file."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    pq.write_table(pa.table({"secret": ["outside-parquet-value"]}), folder / "o.parquet")
    (folder / "o.csv").write_text("secret\noutside-csv-value\n", encoding="utf-8")
    (folder / "o.json").write_text('{"secret": "outside-json-value"}\n', encoding="utf-8")
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return outside_files(tmp_path)


def file_escapes(outside: Path, datasets_dir: Path) -> list[str]:
    """Escapes that the locked connection itself refuses."""
    o = str(outside)
    return [
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_csv('{o}/o.csv')",
        f"SELECT * FROM read_csv_auto('{o}/o.csv')",
        f"SELECT * FROM read_parquet('{o}/o.parquet')",
        f"SELECT * FROM read_json('{o}/o.json')",
        f"SELECT * FROM read_text('{o}/o.csv')",
        f"SELECT * FROM read_blob('{o}/o.csv')",
        f"SELECT * FROM glob('{o}/*')",
        f"SELECT * FROM glob('{datasets_dir}/*')",
        "SELECT * FROM '/etc/hosts'",
        f"SELECT * FROM '{o}/o.parquet'",
        f"SELECT * FROM parquet_metadata('{o}/o.parquet')",
        f"SELECT * FROM sniff_csv('{o}/o.csv')",
        f"COPY (SELECT * FROM cr_ds_transactions) TO '{o}/stolen.csv'",
        f"COPY (SELECT 1) TO '{datasets_dir}/transactions.parquet'",
        f"ATTACH '{o}/x.duckdb' AS x",
        f"EXPORT DATABASE '{o}/export'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET allowed_paths",
        "PRAGMA threads = 8",
        "SET memory_limit = '100GB'",
        "SELECT getenv('HOME')",
        f"SELECT * FROM query('SELECT * FROM read_csv(''{o}/o.csv'')')",
        "SELECT * FROM 'https://example.com/data.csv'",
    ]


# Statements the locked connection would run (they only read the run's own connection); the
# engine's statement and function guard refuses them.
GUARD_ONLY = [
    "SELECT * FROM query('SELECT 42')",
    "SELECT * FROM query_table('cr_ds_transactions')",
    "SELECT current_setting('allowed_paths')",
    "SELECT \"current_setting\" ('temp_directory')",
    "SELECT 'temp_directory'.current_setting()",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM pragma_table_info('cr_ds_transactions')",
    "SELECT 1; SELECT * FROM read_csv('/etc/passwd')",
    "CREATE TABLE t AS SELECT 1",
    "EXPLAIN SELECT 1",
]


def escapes(outside: Path, datasets_dir: Path) -> list[str]:
    return file_escapes(outside, datasets_dir) + GUARD_ONLY


def test_every_escape_fails_without_engine_text(
    duck: DuckDBEngine,
    datasets: dict[str, str],
    outside: Path,
    settings: Settings,
    suppressed: list[bytes],
) -> None:
    for sql in escapes(outside, settings.datasets_dir):
        with pytest.raises(ExecutionFailed) as caught:
            duck.execute(sql, datasets, suppressed)
        message = str(caught.value)
        assert caught.value.code == "execution_failed"
        for leak in ("outside-", "/etc", str(outside), "Error", "duckdb", "Permission"):
            assert leak not in message, (sql, message)
    assert not (outside / "stolen.csv").exists()


def run_raw(conn: duckdb.DuckDBPyConnection, sql: str) -> None:
    relation = conn.sql(sql)
    if relation is not None:
        relation.fetchall()


def test_locked_connection_alone_refuses_file_escapes(
    datasets: dict[str, str], outside: Path, settings: Settings, suppressed: list[bytes]
) -> None:
    """Without the engine's statement guard, the configuration lock alone still holds."""
    locations = {v: local_path_under(p, settings.data_dir) for v, p in datasets.items()}
    conn = sandboxed_connection(
        locations, suppression_table(suppressed), temp_dir=None, threads=1, memory="256MB"
    )
    try:
        for sql in file_escapes(outside, settings.datasets_dir):
            with pytest.raises(duckdb.Error):
                run_raw(conn, sql)
        assert conn.sql("SELECT COUNT(*) FROM cr_ds_transactions").fetchall()[0][0] > 0
    finally:
        conn.close()
    assert not (outside / "stolen.csv").exists()
    assert not (outside / "export").exists()


def test_registered_views_still_work(
    duck: DuckDBEngine, datasets: dict[str, str], suppressed: list[bytes]
) -> None:
    result = duck.execute(
        "SELECT COUNT(*) AS n FROM cr_ds_transactions t JOIN cr_ds_stores s USING (store_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM cr_suppressed x WHERE x.pid = t.pid)",
        datasets,
        suppressed,
    )
    assert result.column("n").to_pylist()[0] > 0


def test_data_values_in_engine_errors_do_not_leak(
    duck: DuckDBEngine, datasets: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="cleanroom.engine")
    with pytest.raises(ExecutionFailed) as caught:
        duck.execute("SELECT CAST(channel AS INTEGER) AS c FROM cr_ds_transactions", datasets, [])
    assert "secret-value" not in str(caught.value)
    assert "channel" not in str(caught.value)
    assert "secret-value" not in caplog.text
    assert "ConversionException" in caplog.text  # operators still learn what kind of failure


def test_dataset_outside_the_data_dir_is_refused(
    duck: DuckDBEngine, datasets: dict[str, str], outside: Path
) -> None:
    for location in (str(outside / "o.parquet"), "/etc/passwd", f"{datasets['cr_ds_stores']}*"):
        with pytest.raises(ExecutionFailed) as caught:
            duck.execute("SELECT 1 AS one", {"cr_ds_x": location}, [])
        assert str(outside) not in str(caught.value)


def test_only_the_runs_own_files_are_readable(duck: DuckDBEngine, datasets: dict[str, str]) -> None:
    """Other datasets in the same data dir (other collaborations) are outside the sandbox."""
    only_stores = {"cr_ds_stores": datasets["cr_ds_stores"]}
    other = datasets["cr_ds_transactions"]
    assert duck.execute("SELECT COUNT(*) AS n FROM cr_ds_stores", only_stores, []).num_rows == 1
    with pytest.raises(ExecutionFailed):
        duck.execute(f"SELECT * FROM '{other}'", only_stores, [])


def test_self_test_passes_and_proves_outside_reads_fail() -> None:
    DuckDBEngine.self_test()  # raises ConfigError when any escape in it succeeds
