"""Helpers shared by the store tests (a uniquely named module: ``conftest`` is ambiguous)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from cleanroom.events import AuditEvent
from cleanroom.store import Store
from cleanroom.store.chain import GENESIS_HASH, hashed_fields, record_hash
from cleanroom.store.models import AuditEventRow, AuditHeadRow

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


def rewrite_as_before_0003(
    store: Store, collaboration_id: str, up_to_seq: int | None = None
) -> None:
    """Turn the collaboration's audit records (those up to ``up_to_seq``, default all) into what
    versions before migration 0003 wrote: no salt, hashed over the clear actor and details. The
    chain is re-linked and the head updated, so it verifies as a real older log would."""
    with store._write() as session:
        rows = session.scalars(
            sa.select(AuditEventRow)
            .where(AuditEventRow.collaboration_id == collaboration_id)
            .order_by(AuditEventRow.seq)
        ).all()
        prev = GENESIS_HASH
        for row in rows:
            if up_to_seq is None or row.seq <= up_to_seq:
                row.salt = None
            fields = hashed_fields(
                row.seq, row.collaboration_id, row.name, row.actor, row.org,
                json.loads(row.details), row.created_at, row.salt,
            )  # fmt: skip
            row.prev_hash, row.hash = prev, record_hash(prev, fields)
            prev = row.hash
        head = session.get(AuditHeadRow, collaboration_id)
        if head is not None:
            head.last_hash = prev
