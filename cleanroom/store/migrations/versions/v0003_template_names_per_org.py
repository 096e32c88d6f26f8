"""Names per org, and audit records that commit to their actor and details.

Partners of one collaboration are often competitors; a name they could not use because another
partner already did would tell them what that partner does. So:

- ``templates``: ``uq_templates_version`` on ``(collaboration_id, name, version)`` becomes
  ``uq_templates_org_version`` on ``(collaboration_id, org, name, version)``, and the store numbers
  versions per (collaboration, org, name). Existing version numbers are kept (runs and audit events
  refer to them); only templates submitted from now on are numbered per org.
- ``datasets``: ``uq_datasets_name`` on ``(collaboration_id, name)`` becomes
  ``uq_datasets_org_name`` on ``(collaboration_id, owner_org, name)``: two partners may each have a
  ``crm``. (The store still refuses a name shared between the retailer and a partner: a partner's
  templates read the retailer's datasets and its own by name, and the retailer sees every name.)
- ``audit_events.salt``: records written from now on are hashed over a salted digest of their actor
  and details instead of the clear values (``store.audit``), so a member from whom an event's
  details are withheld still recomputes its hash. NULL for records written before (hashed as
  before).

Existing rows satisfy the new constraints (they satisfied the narrower ones). Downgrading restores
the collaboration-wide constraints, which is only possible while no two orgs share a template
(name, version) or a dataset name in one collaboration, and while no audit record was written in
the new format (earlier versions could not verify it); otherwise the downgrade stops with a
message naming the obstacle.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the tables as this migration knows them (never the live ORM models).
_templates = sa.table(
    "templates",
    sa.column("collaboration_id", sa.String()),
    sa.column("org", sa.String()),
    sa.column("name", sa.String()),
    sa.column("version", sa.Integer()),
)
_datasets = sa.table(
    "datasets",
    sa.column("collaboration_id", sa.String()),
    sa.column("name", sa.String()),
)
_audit_events = sa.table(
    "audit_events",
    sa.column("collaboration_id", sa.String()),
    sa.column("seq", sa.Integer()),
    sa.column("salt", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.drop_constraint("uq_templates_version", type_="unique")
        batch.create_unique_constraint(
            "uq_templates_org_version", ["collaboration_id", "org", "name", "version"]
        )
    with op.batch_alter_table("datasets") as batch:
        batch.drop_constraint("uq_datasets_name", type_="unique")
        batch.create_unique_constraint(
            "uq_datasets_org_name", ["collaboration_id", "owner_org", "name"]
        )
    op.add_column("audit_events", sa.Column("salt", sa.String(length=32), nullable=True))


def downgrade() -> None:
    _refuse_lossy_downgrade(op.get_bind())
    op.drop_column("audit_events", "salt")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_constraint("uq_datasets_org_name", type_="unique")
        batch.create_unique_constraint("uq_datasets_name", ["collaboration_id", "name"])
    with op.batch_alter_table("templates") as batch:
        batch.drop_constraint("uq_templates_org_version", type_="unique")
        batch.create_unique_constraint(
            "uq_templates_version", ["collaboration_id", "name", "version"]
        )


def _refuse_lossy_downgrade(bind: sa.Connection) -> None:
    t, d, a = _templates, _datasets, _audit_events
    template = bind.execute(
        sa.select(t.c.collaboration_id, t.c.name, t.c.version)
        .group_by(t.c.collaboration_id, t.c.name, t.c.version)
        .having(sa.func.count() > 1)
        .limit(1)
    ).first()
    if template is not None:
        raise RuntimeError(
            "cannot downgrade below 0003: two orgs hold template "
            f"{template.name!r} version {template.version} in collaboration "
            f"{template.collaboration_id}"
        )
    dataset = bind.execute(
        sa.select(d.c.collaboration_id, d.c.name)
        .group_by(d.c.collaboration_id, d.c.name)
        .having(sa.func.count() > 1)
        .limit(1)
    ).first()
    if dataset is not None:
        raise RuntimeError(
            "cannot downgrade below 0003: two orgs hold a dataset named "
            f"{dataset.name!r} in collaboration {dataset.collaboration_id}"
        )
    sealed = bind.execute(
        sa.select(a.c.collaboration_id, a.c.seq).where(a.c.salt.is_not(None)).limit(1)
    ).first()
    if sealed is not None:
        raise RuntimeError(
            "cannot downgrade below 0003: audit records were written in the 0003 format "
            f"(first: collaboration {sealed.collaboration_id}, seq {sealed.seq}), which earlier "
            "versions cannot verify"
        )
