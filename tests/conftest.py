"""Fixtures shared by the whole suite.

``database_url`` runs a test on SQLite and on the PostgreSQL named by CLEANROOM_TEST_DATABASE_URL
(``make test`` points it at 127.0.0.1:5432). Each PostgreSQL test gets a schema of its own. When
CI=true an unreachable PostgreSQL is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanroom.config import Settings, load_settings

TEST_SECRET = "test-secret-key-not-for-production"
TEST_JWT_SECRET = "test-jwt-secret-not-for-production-0123456789"


def _postgres_admin_url() -> str | None:
    return os.environ.get("CLEANROOM_TEST_DATABASE_URL") or None


def _postgres_schema_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url = _postgres_admin_url()
    in_ci = os.environ.get("CI", "").lower() == "true"
    if url is None:
        if in_ci:
            pytest.fail("CI=true but CLEANROOM_TEST_DATABASE_URL is not set")
        pytest.skip("CLEANROOM_TEST_DATABASE_URL not set")
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        conn = psycopg.connect(plain, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if in_ci:
            pytest.fail(f"PostgreSQL at CLEANROOM_TEST_DATABASE_URL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    schema = "t_" + uuid.uuid4().hex[:16]
    with conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _postgres_schema_url(request)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data directory with fixed test secrets (SQLite store)."""
    data = tmp_path / "data"
    data.mkdir()
    return load_settings(
        env={},
        config_file=None,
        data_dir=data,
        secret_key=TEST_SECRET,
        jwt_secret=TEST_JWT_SECRET,
    )


@pytest.fixture
def pg_settings(settings: Settings, database_url: str) -> Settings:
    """``settings`` with the store on SQLite or PostgreSQL (parametrized)."""
    return settings.replace(database_url=database_url)
