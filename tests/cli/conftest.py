"""Fixtures for the CLI tests. ``tests/cli`` is a package (so this conftest's module name does
not clash with other folders' ``conftest``); its helper module ``cli_world`` is imported as a
plain module from this folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom.config import Settings
from tests.cli.cli_world import JWT_SECRET


@pytest.fixture
def cli_settings(settings: Settings) -> Settings:
    return settings.replace(jwt_secret=JWT_SECRET)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    return folder
