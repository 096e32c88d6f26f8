"""Helpers shared by the store tests (a uniquely named module: ``conftest`` is ambiguous)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cleanroom.events import AuditEvent
from cleanroom.store import AuditArg, BudgetLine, RunCreation, Store, Template
from cleanroom.store.chain import GENESIS_HASH, hashed_fields, record_hash
from cleanroom.store.models import AuditEventRow, AuditHeadRow, BudgetChargeRow

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


def probe_template(store: Store, collaboration_id: str, org: str = "acme") -> Template:
    """A template of ``org`` in the collaboration for runs to name (submitted on first use)."""
    for found in store.list_templates(collaboration_id):
        if found.org == org:
            return found
    return store.submit_template(
        collaboration_id, f"probe-{org}", org, "bob", "SELECT 1", [], "measurement"
    )


def run_with_charge(
    store: Store,
    collaboration_id: str,
    org: str,
    epsilon: float,
    delta: float,
    *,
    key: str | None = None,
    audit: AuditArg = None,
) -> RunCreation:
    """Spend budget the one way production does: a run created with its charge."""
    template = probe_template(store, collaboration_id, org)
    return store.create_run_with_charge(
        collaboration_id, template.id, template.version, org, "bob", {}, epsilon, delta,
        idempotency_key=key, audit=audit,
    )  # fmt: skip


def spend(
    store: Store,
    collaboration_id: str,
    org: str,
    epsilon: float,
    delta: float,
    *,
    audit: AuditArg = None,
) -> BudgetLine:
    """``run_with_charge``, then the org's line as the production read returns it."""
    run_with_charge(store, collaboration_id, org, epsilon, delta, audit=audit)
    return store.get_budget_line(collaboration_id, org)


def recorded_charges(
    store: Store, collaboration_id: str, org: str | None = None
) -> list[BudgetChargeRow]:
    """The append-only ``budget_charges`` rows (every period), oldest first: what the ledger
    stored, read with a plain query (no production read lists charges)."""
    query = sa.select(BudgetChargeRow).where(BudgetChargeRow.collaboration_id == collaboration_id)
    if org is not None:
        query = query.where(BudgetChargeRow.org == org)
    with Session(store.engine) as session:
        return list(session.scalars(query.order_by(BudgetChargeRow.created_at, BudgetChargeRow.id)))


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
