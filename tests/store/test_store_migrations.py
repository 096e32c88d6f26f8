"""Migration 0002: running budget totals backfilled from the charges; down and up again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from cleanroom.store import Store, open_store
from cleanroom.store.db import MIGRATIONS_DIR
from tests.store.store_fixtures import FakeClock, spend


def _migrate(store: Store, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


@pytest.fixture
def old_store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    """A store migrated only to 0001 (before running totals)."""
    s = open_store(database_url, clock=clock)
    _migrate(s, "0001")
    try:
        yield s
    finally:
        s.close()


def _stored(store: Store, at: datetime) -> datetime:
    return at.replace(tzinfo=None) if store.dialect == "sqlite" else at


def _seed_0001(store: Store, created: datetime, policies: dict[str, dict[str, object]]) -> None:
    """Collaborations with budget lines and charges, written with 0001's columns only."""
    meta = sa.MetaData()
    meta.reflect(store.engine)
    t = meta.tables
    at = _stored(store, created)
    with store.engine.begin() as conn:
        conn.execute(t["organizations"].insert(), [
            {"id": "shopco", "kind": "retailer", "created_at": at},
            {"id": "acme", "kind": "advertiser", "created_at": at},
        ])  # fmt: skip
        for cid, policy in policies.items():
            conn.execute(t["collaborations"].insert(), {
                "id": cid, "name": cid, "retailer_org": "shopco", "policy": policy,
                "created_at": at, "created_by": "alice",
            })  # fmt: skip
            conn.execute(t["budgets"].insert(), {
                "collaboration_id": cid, "org": "acme", "total_epsilon": 10.0,
                "total_delta": 1e-6, "created_at": at,
            })  # fmt: skip
            # One charge long ago (day 1) and two recent ones (now - 1 day).
            for i, (days, eps) in enumerate(((1, 4.0), (-1, 1.5), (-1, 0.5))):
                when = (
                    created + timedelta(days=days)
                    if days > 0
                    else datetime.now(UTC) - timedelta(days=1)
                )
                conn.execute(t["budget_charges"].insert(), {
                    "id": f"{cid}-chg{i}", "collaboration_id": cid, "org": "acme",
                    "run_id": None, "epsilon": eps, "delta": 1e-8,
                    "created_at": _stored(store, when),
                })  # fmt: skip


def test_upgrade_backfills_running_totals(old_store: Store, clock: FakeClock) -> None:
    created = datetime.now(UTC) - timedelta(days=100)
    _seed_0001(old_store, created, {"never": {"epsilon_budget": 10.0}, "weekly": {
        "epsilon_budget": 10.0, "budget_refresh": "P7D"}})  # fmt: skip
    old_store.migrate()
    with old_store.engine.connect() as conn:
        rows: dict[str, float] = dict(
            conn.execute(
                sa.text("SELECT collaboration_id, spent_epsilon FROM budgets WHERE org = 'acme'")
            ).all()
        )
    assert rows == {"never": 6.0, "weekly": 2.0}  # a weekly line keeps this week's charges only
    clock.at = datetime.now(UTC)
    assert old_store.get_budget_line("never", "acme").spent_epsilon == 6.0
    assert old_store.get_budget_line("weekly", "acme").spent_epsilon == 2.0
    assert spend(old_store, "never", "acme", 4.0, 0.0).spent_epsilon == 10.0
    assert spend(old_store, "weekly", "acme", 8.0, 0.0).spent_epsilon == 10.0


def test_a_version_registered_before_0002_has_no_measured_maximum(store: Store) -> None:
    _migrate(store, "0001", down=True)
    _migrate(store, "head")  # down and up again on either dialect
    collab = store.create_collaboration("c", "shopco", ["acme"], {}, "alice")
    _, version = store.register_dataset_version(
        collab.id, "tx", "shopco", "personal", {}, path="x.parquet", row_count=1,
        dropped_identifiers=0, size_bytes=1,
    )  # fmt: skip
    assert version.max_rows_per_person is None
