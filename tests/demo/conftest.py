"""Fixtures for the demo world and the shipped templates (helpers: ``demo_exact``)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from cleanroom.demo.specs import demo_dataset_specs
from cleanroom.demo.uploads import hash_world
from cleanroom.demo.world import World, generate_world
from cleanroom.ingest.dataset import ingest_dataset
from cleanroom.types import SUPPRESSION_VIEW, DatasetSpec, dataset_view
from tests.demo.demo_exact import exact_connections_for

TEST_SECRET = "demo-test-secret-not-for-production"


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return generate_world(tmp_path_factory.mktemp("world"), seed=11, shoppers=3000)


@pytest.fixture(scope="session")
def exact_connections(small_world: World) -> Iterator[dict[str, duckdb.DuckDBPyConnection]]:
    """purpose -> DuckDB connection holding the demo datasets as that purpose sees them (and
    ``measurement/consent:customers``: as the consent analysis opt_in_rate sees them)."""
    out = exact_connections_for(small_world)
    yield out
    for con in out.values():
        con.close()


@pytest.fixture(scope="session")
def engine_views(
    small_world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The demo datasets as the server stores them, under the engine's view names: each CSV
    hashed as a partner would, then ingested (re-keyed, minimized Parquet); no suppressions."""
    work = tmp_path_factory.mktemp("ingested")
    con = duckdb.connect()
    uploads = hash_world(small_world, work / "hashed")
    for name, spec in demo_dataset_specs().items():
        stored = ingest_dataset(
            uploads[name], DatasetSpec.from_dict(spec), secret_key=TEST_SECRET,
            collaboration_id="demo", dest_dir=work / "stored",
        )  # fmt: skip
        con.execute(
            f"CREATE TABLE {dataset_view(name)} AS SELECT * FROM read_parquet(?)",
            [str(stored.path)],
        )
    con.execute(f"CREATE TABLE {SUPPRESSION_VIEW} (pid BLOB)")
    yield con
    con.close()
