"""Fixtures for the store tests: a migrated store on SQLite and PostgreSQL, a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cleanroom.events import AuditEvent
from cleanroom.store import Collaboration, Store, Template, open_store

POLICY = {"epsilon_budget": 10.0, "delta_budget": 1e-6, "purposes": ["measurement"]}


class FakeClock:
    """A clock that only moves when told to (no sleeping, no timed assertions)."""

    def __init__(self) -> None:
        self.at = datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


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
    )
    return store.approve_template(t.id, "alice", pin="pin-1")


def event(name: str, actor: str = "bob", org: str = "acme", **details: object) -> AuditEvent:
    return AuditEvent(name, actor, org, details)
