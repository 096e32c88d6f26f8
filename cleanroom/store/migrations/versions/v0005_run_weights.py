"""Run weights: the run request's per-output weights.

- ``runs.weights`` (JSON, NULL: the request gave none): how the run's loss is divided among its
  outputs, kept so that the worker divides it as the request (and its preview) did. Existing runs
  get NULL, which is what they used.

Downgrading drops the column; a queued run that had weights would then execute with the
template's weights, a different noise allocation (never a different guarantee or charge), so the
downgrade stops while any run not yet finished has weights.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_runs = sa.table(
    "runs",
    sa.column("id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("weights", sa.JSON(none_as_null=True)),
)


def upgrade() -> None:
    op.add_column("runs", sa.Column("weights", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    pending = (
        op.get_bind()
        .execute(
            sa.select(_runs.c.id)
            .where(_runs.c.status.in_(("queued", "running")), _runs.c.weights.is_not(None))
            .limit(1)
        )
        .first()
    )
    if pending is not None:
        raise RuntimeError(
            f"run {pending[0]} is not finished and has weights; let it finish or cancel it first"
        )
    op.drop_column("runs", "weights")
