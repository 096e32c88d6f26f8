"""SparkEngine on local[2]: the same results as DuckDB over the same Parquet files, the same
types for ingest's Parquet, and Spark's own escapes refused. One session for the module (the JVM
takes seconds to start)."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cleanroom.config import Settings, load_settings
from cleanroom.engine import DuckDBEngine, SparkEngine
from cleanroom.engine.spark_engine import get_session, stop_session
from cleanroom.errors import ExecutionFailed
from tests.engine.engine_datasets import SUPPRESSED, write_datasets

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("spark-data")
    return load_settings(
        env={}, config_file=None, data_dir=data, secret_key="k", jwt_secret="j",
        spark_master="local[2]", spark_shuffle_partitions=4, engine_timeout_seconds=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def spark(spark_settings: Settings) -> Iterator[SparkEngine]:
    engine = SparkEngine(spark_settings, extra_conf={"spark.driver.memory": "1g"})
    engine.check_ready()
    yield engine
    engine.close()
    stop_session()


@pytest.fixture(scope="module")
def files(spark_settings: Settings) -> dict[str, str]:
    return write_datasets(spark_settings.datasets_dir)


PARITY_QUERIES = {
    "join_on_pid_by_day": """
        SELECT e.campaign, DATE_TRUNC('DAY', t.ts) AS day,
               COUNT(DISTINCT t.pid) AS people, SUM(t.amount_cents) AS sales
        FROM cr_ds_exposures e JOIN cr_ds_transactions t ON e.pid = t.pid AND t.ts >= e.ts
        GROUP BY e.campaign, DATE_TRUNC('DAY', t.ts)""",
    "first_exposure_window": """
        WITH ranked AS (
          SELECT pid, campaign,
                 ROW_NUMBER() OVER (PARTITION BY pid ORDER BY ts, campaign) AS rn
          FROM cr_ds_exposures)
        SELECT campaign, COUNT(DISTINCT pid) AS people FROM ranked WHERE rn = 1
        GROUP BY campaign""",
    "anti_join_suppressed": """
        SELECT t.channel, COUNT(DISTINCT t.pid) AS people, COUNT(*) AS n,
               SUM(t.amount_cents) AS sales
        FROM cr_ds_transactions t
        WHERE NOT EXISTS (SELECT 1 FROM cr_suppressed s WHERE s.pid = t.pid)
        GROUP BY t.channel""",
    "reference_join_utc_hours": """
        SELECT s.region, DATE_TRUNC('HOUR', t.ts_utc) AS hour, COUNT(DISTINCT t.pid) AS people
        FROM cr_ds_transactions t JOIN cr_ds_stores s ON t.store_id = s.store_id
        GROUP BY s.region, DATE_TRUNC('HOUR', t.ts_utc)""",
    "per_person_rollup_buckets": """
        WITH per_person AS (
          SELECT pid, SUM(amount_cents) AS spend, COUNT(*) AS visits
          FROM cr_ds_transactions GROUP BY pid)
        SELECT CASE WHEN spend >= 20000 THEN 'high' ELSE 'low' END AS tier,
               COUNT(DISTINCT pid) AS people, SUM(LEAST(visits, 3)) AS capped_visits
        FROM per_person GROUP BY CASE WHEN spend >= 20000 THEN 'high' ELSE 'low' END""",
}


def normalized(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows with engine-specific representations unified (DuckDB sums are decimals, Spark
    truncates naive timestamps to zoned ones)."""

    def value(v: Any) -> Any:
        if isinstance(v, decimal.Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, dt.datetime) and v.tzinfo is not None:
            return v.astimezone(dt.UTC).replace(tzinfo=None)
        return v

    rows = [tuple(value(v) for v in row.values()) for row in table.to_pylist()]
    return sorted(rows, key=repr)


@pytest.mark.parametrize("name", sorted(PARITY_QUERIES))
def test_duckdb_and_spark_agree(
    name: str, spark: SparkEngine, spark_settings: Settings, files: dict[str, str]
) -> None:
    sql = PARITY_QUERIES[name]
    expected = DuckDBEngine(spark_settings).execute(sql, files, SUPPRESSED)
    got = spark.execute(sql, files, SUPPRESSED)
    assert got.column_names == expected.column_names
    assert expected.num_rows > 0
    assert normalized(got) == normalized(expected)


def test_ingest_parquet_reads_with_the_same_types(
    spark: SparkEngine, spark_settings: Settings, files: dict[str, str]
) -> None:
    sql = "SELECT pid, ts, ts_utc, store_id, amount_cents, channel FROM cr_ds_transactions"
    duck = DuckDBEngine(spark_settings).execute(sql, files, [])
    got = spark.execute(sql, files, [])
    assert got.schema.field("pid").type == duck.schema.field("pid").type == pa.binary()
    assert got.schema.field("ts").type == duck.schema.field("ts").type == pa.timestamp("us")
    utc = pa.timestamp("us", tz="UTC")
    assert got.schema.field("ts_utc").type == duck.schema.field("ts_utc").type == utc
    assert got.schema.field("amount_cents").type == pa.int64()
    assert normalized(got) == normalized(duck)


def test_path_tables_and_other_escapes_fail_without_text(
    spark: SparkEngine, files: dict[str, str], tmp_path: Path
) -> None:
    stores = files["cr_ds_stores"]
    for sql in (
        f"SELECT * FROM parquet.`{stores}`",
        "SELECT * FROM csv.`/etc/passwd`",
        "SELECT reflect('java.lang.System', 'getenv', 'HOME') AS h",
        "SELECT java_method('java.lang.System', 'getProperty', 'user.home') AS h",
        "SET spark.sql.runSQLOnFiles=true",
        f"CREATE TABLE t USING parquet LOCATION '{tmp_path}'",
        "SELECT input_file_name() AS f FROM cr_ds_stores",
        "SELECT * FROM IDENTIFIER('cr_ds_stores')",
        "SELECT 1 AS one; SELECT * FROM cr_ds_stores",
        f"INSERT OVERWRITE DIRECTORY '{tmp_path}/out' SELECT * FROM cr_ds_stores",
    ):
        with pytest.raises(ExecutionFailed) as caught:
            spark.execute(sql, files, [])
        assert "/etc" not in str(caught.value)
        assert "Exception" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_spark_refuses_path_tables_even_without_the_guard(
    spark: SparkEngine, files: dict[str, str]
) -> None:
    """The session setting alone (spark.sql.runSQLOnFiles=false) refuses parquet.`path`."""
    session = get_session(spark.settings)
    with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
        session.sql(f"SELECT * FROM parquet.`{files['cr_ds_stores']}`").collect()


def test_spark_errors_do_not_leak_data_values(spark: SparkEngine, files: dict[str, str]) -> None:
    # ANSI mode is off (bad casts are NULL), so the failure is one that quotes the value itself.
    with pytest.raises(ExecutionFailed) as caught:
        spark.execute("SELECT raise_error(channel) AS c FROM cr_ds_transactions", files, [])
    assert "secret-value" not in str(caught.value)
    assert "channel" not in str(caught.value)


def test_spark_timeout_cancels_the_job_group(
    spark_settings: Settings, files: dict[str, str]
) -> None:
    engine = SparkEngine(spark_settings.replace(engine_timeout_seconds=2))
    with pytest.raises(ExecutionFailed, match="timeout"):
        engine.execute(
            "SELECT COUNT(*) AS n FROM range(2000000) a CROSS JOIN range(2000000) b "
            "WHERE (a.id * b.id) % 7 = 3",
            files,
            [],
        )


def test_views_of_a_run_do_not_outlive_it(spark: SparkEngine, files: dict[str, str]) -> None:
    spark.execute("SELECT COUNT(*) AS n FROM cr_ds_stores", files, [])
    session = get_session(spark.settings)
    assert [t.name for t in session.catalog.listTables()] == []


def test_dataset_uri_mapping(spark_settings: Settings, files: dict[str, str]) -> None:
    local = SparkEngine(spark_settings)
    assert local.data_uri(files["cr_ds_stores"]).startswith("file:///")
    remote = SparkEngine(spark_settings.replace(spark_data_uri="s3a://bucket/cr"))
    assert remote.data_uri(files["cr_ds_stores"]) == "s3a://bucket/cr/datasets/stores.parquet"
    assert remote.data_uri("s3a://bucket/cr/datasets/x.parquet").endswith("x.parquet")
    for bad in ("s3a://other/x.parquet", "s3a://bucket/cr/../secret", "/etc/passwd"):
        with pytest.raises(ExecutionFailed):
            remote.data_uri(bad)
