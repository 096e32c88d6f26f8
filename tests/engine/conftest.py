"""Fixtures of the engine tests: datasets in the data dir, a DuckDB engine, suppressed keys."""

from __future__ import annotations

import pytest

from cleanroom.config import Settings
from cleanroom.engine import DuckDBEngine
from tests.engine.engine_datasets import SUPPRESSED, write_datasets


@pytest.fixture
def datasets(settings: Settings) -> dict[str, str]:
    return write_datasets(settings.datasets_dir)


@pytest.fixture
def duck(settings: Settings) -> DuckDBEngine:
    return DuckDBEngine(settings)


@pytest.fixture
def suppressed() -> list[bytes]:
    return list(SUPPRESSED)
