"""Running budget totals on ``budgets``; ``max_rows_per_person`` on ``dataset_versions``.

``budgets`` gains ``spent_epsilon``, ``spent_delta`` (the sum of the org's charges made at or
after ``period_start``) and ``period_start`` (start of the refresh period those sums cover; NULL
when the budget never refreshes). Existing lines are backfilled from ``budget_charges`` for the
period current at migration time; the store re-derives a line from the charges whenever its stored
period is not the current one, so the backfill's clock never matters for correctness.

``dataset_versions.max_rows_per_person``: the most rows one person has in the version, measured at
ingestion (NULL for versions registered before, i.e. unknown).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the tables as this migration knows them (never the live ORM models).
_collaborations = sa.table(
    "collaborations",
    sa.column("id", sa.String()),
    sa.column("policy", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_budgets = sa.table(
    "budgets",
    sa.column("collaboration_id", sa.String()),
    sa.column("org", sa.String()),
    sa.column("spent_epsilon", sa.Double()),
    sa.column("spent_delta", sa.Double()),
    sa.column("period_start", sa.DateTime(timezone=True)),
)
_charges = sa.table(
    "budget_charges",
    sa.column("collaboration_id", sa.String()),
    sa.column("org", sa.String()),
    sa.column("epsilon", sa.Double()),
    sa.column("delta", sa.Double()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.add_column(
        "budgets",
        sa.Column("spent_epsilon", sa.Double(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "budgets",
        sa.Column("spent_delta", sa.Double(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("budgets", sa.Column("period_start", sa.DateTime(timezone=True), nullable=True))
    op.add_column("dataset_versions", sa.Column("max_rows_per_person", sa.Integer(), nullable=True))
    _backfill(op.get_bind(), datetime.now(UTC))


def downgrade() -> None:
    op.drop_column("dataset_versions", "max_rows_per_person")
    op.drop_column("budgets", "period_start")
    op.drop_column("budgets", "spent_delta")
    op.drop_column("budgets", "spent_epsilon")


def _backfill(bind: sa.Connection, now: datetime) -> None:
    sqlite = bind.dialect.name == "sqlite"

    def stored(value: datetime | None) -> datetime | None:
        # SQLite keeps naive UTC (the store's convention); PostgreSQL timestamptz.
        if value is None or not sqlite:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    collabs = {
        cid: (_utc(created), _refresh_days(policy))
        for cid, policy, created in bind.execute(sa.select(_collaborations))
    }
    lines = bind.execute(sa.select(_budgets.c.collaboration_id, _budgets.c.org)).all()
    for cid, org in lines:
        created, refresh = collabs[cid]
        since = _period_start(created, refresh, now)
        query = sa.select(
            sa.func.coalesce(sa.func.sum(_charges.c.epsilon), 0.0),
            sa.func.coalesce(sa.func.sum(_charges.c.delta), 0.0),
        ).where(_charges.c.collaboration_id == cid, _charges.c.org == org)
        if since is not None:
            query = query.where(_charges.c.created_at >= stored(since))
        spent_e, spent_d = bind.execute(query).one()
        bind.execute(
            sa.update(_budgets)
            .where(_budgets.c.collaboration_id == cid, _budgets.c.org == org)
            .values(
                spent_epsilon=float(spent_e),
                spent_delta=float(spent_d),
                period_start=stored(since),
            )
        )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _refresh_days(policy: Any) -> int | None:
    refresh = policy.get("budget_refresh") if isinstance(policy, dict) else None
    match = re.fullmatch(r"P(\d+)D", refresh) if isinstance(refresh, str) else None
    if match is None:
        return None
    return int(match[1]) or None  # "P0D" never refreshes, as in the store


def _period_start(anchor: datetime, days: int | None, now: datetime) -> datetime | None:
    if not days:
        return None
    length = timedelta(days=days)
    return anchor + max(0, (now - anchor) // length) * length
