"""``services.maintenance``: where a store's schema stands, and migrating it (what ``cleanroom
init-db``, ``serve`` and ``worker`` use), on a fresh SQLite database and PostgreSQL schema."""

from __future__ import annotations

from cleanroom.services.maintenance import migrate, schema_status


def test_a_fresh_store_is_behind_until_migrated_and_migrating_is_idempotent(
    database_url: str,
) -> None:
    fresh = schema_status(database_url)
    assert fresh.current == ()
    assert fresh.heads  # the newest migration(s) of this release
    assert not fresh.is_current
    migrate(database_url)
    migrated = schema_status(database_url)
    assert migrated.is_current
    assert migrated.current == migrated.heads == fresh.heads
    migrate(database_url)
    assert schema_status(database_url) == migrated
