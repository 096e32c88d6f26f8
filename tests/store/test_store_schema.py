"""Migrations create the schema on both dialects; the ORM models match it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from cleanroom.store import Store, init_db, open_store
from cleanroom.store.models import Base

TABLES = {
    "organizations", "collaborations", "memberships", "datasets", "dataset_versions",
    "suppressions", "templates", "template_approvals", "runs", "reports", "budgets",
    "budget_charges", "audit_heads",
    "audit_events", "alembic_version",
}  # fmt: skip


def test_init_db_migrates_to_head_and_is_idempotent(database_url: str) -> None:
    fresh = open_store(database_url)
    try:
        assert not fresh.ping()  # no tables until migrated
        init_db(database_url)
        init_db(database_url)
        assert fresh.ping()
        assert set(inspect(fresh.engine).get_table_names()) == TABLES
    finally:
        fresh.close()


def test_models_match_the_migrated_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_sqlite_connections_use_wal_and_foreign_keys(store: Store) -> None:
    if store.dialect != "sqlite":
        return
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
