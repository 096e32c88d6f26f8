"""Fixtures for the store tests: a migrated store on SQLite and PostgreSQL, a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cleanroom.events import AuditEvent
from cleanroom.store import Collaboration, Store, Template, open_store
from tests.store.store_fixtures import POLICY, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    s = open_store(database_url, clock=clock)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def collab(store: Store) -> Collaboration:
    return store.create_collaboration(
        "q3 measurement",
        "shopco",
        ["acme", "beta"],
        POLICY,
        "alice",
        audit=AuditEvent("collaboration.created", "alice", "shopco"),
    )


@pytest.fixture
def template(store: Store, collab: Collaboration) -> Template:
    t = store.submit_template(
        collab.id,
        "conv",
        "acme",
        "bob",
        "SELECT 1",
        [{"name": "days", "type": "int"}],
        "measurement",
        pin="pin-1",
    )
    return store.decide_as_approver(t.id, "alice", "approved")
