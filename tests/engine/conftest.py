"""Fixtures of the engine tests: datasets in the data dir, a DuckDB engine, suppressed keys."""

from __future__ import annotations

import pytest
from engine_datasets import SUPPRESSED, write_datasets

from cleanroom.config import Settings
from cleanroom.engine import DuckDBEngine


@pytest.fixture
def datasets(settings: Settings) -> dict[str, str]:
    return write_datasets(settings.datasets_dir)


@pytest.fixture
def duck(settings: Settings) -> DuckDBEngine:
    return DuckDBEngine(settings)


@pytest.fixture
def suppressed() -> list[bytes]:
    return list(SUPPRESSED)
