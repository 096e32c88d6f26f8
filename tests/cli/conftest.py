"""Fixtures for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_world import JWT_SECRET

from cleanroom.config import Settings


@pytest.fixture
def cli_settings(settings: Settings) -> Settings:
    return settings.replace(jwt_secret=JWT_SECRET)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    return folder
