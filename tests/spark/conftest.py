"""One Spark session (local[2], 1 GB driver) for every Spark test of the run, and the demo world
ingested once: the JVM takes seconds to start, so tests share it and stay few."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from cleanroom.config import Settings, load_settings
from cleanroom.demo.specs import demo_dataset_specs
from cleanroom.demo.uploads import hash_world
from cleanroom.demo.world import World, generate_world
from cleanroom.engine import DuckDBEngine, SparkEngine
from cleanroom.engine.spark_engine import stop_session
from cleanroom.ingest.dataset import ingest_dataset
from cleanroom.types import DatasetSpec, dataset_view
from tests.demo.demo_exact import exact_connections_for

SPARK_CONF = {"spark.driver.memory": "1g"}
INGEST_SECRET = "spark-parity-secret-not-for-production"
# 1,500 shoppers (seed 11): on this world no cap of the rewrite binds for any shipped template
# (rows per person, COUNT(*) and SUM clamps, groups per person), so the random row/group choice
# of ROW_NUMBER() OVER (... ORDER BY random()) picks everything and both engines must agree
# exactly. test_template_parity checks that precondition against the plain-SQL exact answer.
SHOPPERS = 1500


@pytest.fixture(scope="session")
def spark_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("spark-data")
    return load_settings(
        env={}, config_file=None, data_dir=data, secret_key="k", jwt_secret="j" * 40,
        spark_master="local[2]", spark_shuffle_partitions=2, engine_timeout_seconds=300,
    )  # fmt: skip


@pytest.fixture(scope="session")
def spark_engine(spark_settings: Settings) -> Iterator[SparkEngine]:
    """The test session's only SparkSession (stopped when the session ends)."""
    engine = SparkEngine(spark_settings, extra_conf=SPARK_CONF)
    engine.check_ready()
    yield engine
    engine.close()
    stop_session()


@pytest.fixture(scope="session")
def duck_engine(spark_settings: Settings) -> DuckDBEngine:
    return DuckDBEngine(spark_settings)


@pytest.fixture(scope="session")
def parity_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return generate_world(tmp_path_factory.mktemp("spark-world"), seed=11, shoppers=SHOPPERS)


@pytest.fixture(scope="session")
def ingested(
    parity_world: World, spark_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Engine view name -> Parquet path: each CSV hashed as a partner would, then ingested with
    the real ``ingest_dataset`` into the data dir both engines read."""
    uploads = hash_world(parity_world, tmp_path_factory.mktemp("spark-hashed"))
    files = {}
    for name, spec in demo_dataset_specs().items():
        stored = ingest_dataset(
            uploads[name], DatasetSpec.from_dict(spec), secret_key=INGEST_SECRET,
            collaboration_id="spark", dest_dir=spark_settings.datasets_dir,
        )  # fmt: skip
        files[dataset_view(name)] = str(stored.path)
    return files


@pytest.fixture(scope="session")
def exact_connections(parity_world: World) -> Iterator[dict[str, duckdb.DuckDBPyConnection]]:
    """purpose -> DuckDB holding the world's datasets as that purpose sees them (plain SQL); and
    ``measurement/consent:customers``, as the consent analysis opt_in_rate sees them."""
    out = exact_connections_for(parity_world)
    yield out
    for con in out.values():
        con.close()
