"""Helpers shared by the store tests (a uniquely named module: ``conftest`` is ambiguous)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cleanroom.events import AuditEvent

POLICY = {"epsilon_budget": 10.0, "delta_budget": 1e-6, "purposes": ["measurement"]}


class FakeClock:
    """A clock that only moves when told to (no sleeping, no timed assertions)."""

    def __init__(self) -> None:
        self.at = datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


def event(name: str, actor: str = "bob", org: str = "acme", **details: object) -> AuditEvent:
    return AuditEvent(name, actor, org, details)
