"""Collaborations that evolve: dates, ended memberships, budget adjustments, owner approvals.

- ``collaborations``: ``starts_at`` and ``ends_at`` (NULL: no limit; runs are refused outside
  them) and ``revision`` (counts changes; an amendment names the revision it was decided on).
- ``memberships``: ``joined_at`` (NULL: since the collaboration was created), ``ended_at`` and
  ``ended_by`` (a partner whose membership ended keeps read access; its runs are refused).
- ``budgets``: ``epsilon_adjustment`` and ``delta_adjustment``, added to the policy's budget for
  that org only (a raise, or a partner added with a budget of its own). Existing lines get 0.
- ``templates.approvers``: whose approval a version needs, ``[{"org", "as", "datasets"}]``.
  Pending versions are backfilled by the rule from now on: the retailer, plus each other org that
  owns a personal dataset the version reads (from its stored analysis). Versions already decided
  were decided under the former rule, the retailer's approval alone: they get the retailer as
  their only approver, covering every dataset they read.
- ``template_approvals``: one row per approver's decision. Approved versions get the retailer's
  approval from their ``decided_by`` / ``decided_at`` / ``reason``. (A revoked version's approver
  was overwritten by the revocation, so it gets none.)

Downgrading drops all of this, which would silently widen access: an ended membership would be
active again, an ended collaboration open, a lowered budget back to the policy's, a version
awaiting an owner's approval approvable by the retailer alone. So the downgrade stops with a message
naming the first such row while any exists (end dates and adjustments must be undone first).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the tables as this migration knows them (never the live ORM models).
_collaborations = sa.table(
    "collaborations",
    sa.column("id", sa.String()),
    sa.column("retailer_org", sa.String()),
    sa.column("starts_at", sa.DateTime(timezone=True)),
    sa.column("ends_at", sa.DateTime(timezone=True)),
)
_memberships = sa.table(
    "memberships",
    sa.column("collaboration_id", sa.String()),
    sa.column("org", sa.String()),
    sa.column("ended_at", sa.DateTime(timezone=True)),
)
_budgets = sa.table(
    "budgets",
    sa.column("collaboration_id", sa.String()),
    sa.column("org", sa.String()),
    sa.column("epsilon_adjustment", sa.Double()),
    sa.column("delta_adjustment", sa.Double()),
)
_datasets = sa.table(
    "datasets",
    sa.column("collaboration_id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("owner_org", sa.String()),
    sa.column("kind", sa.String()),
)
_templates = sa.table(
    "templates",
    sa.column("id", sa.String()),
    sa.column("collaboration_id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("analysis", sa.JSON()),
    sa.column("reason", sa.Text()),
    sa.column("decided_by", sa.String()),
    sa.column("decided_at", sa.DateTime(timezone=True)),
    sa.column("approvers", sa.JSON()),
)
_approvals = sa.table(
    "template_approvals",
    sa.column("template_id", sa.String()),
    sa.column("org", sa.String()),
    sa.column("capacity", sa.String()),
    sa.column("decision", sa.String()),
    sa.column("decided_by", sa.String()),
    sa.column("decided_at", sa.DateTime(timezone=True)),
    sa.column("reason", sa.Text()),
)


def upgrade() -> None:
    op.add_column("collaborations", sa.Column("starts_at", sa.DateTime(timezone=True)))
    op.add_column("collaborations", sa.Column("ends_at", sa.DateTime(timezone=True)))
    op.add_column(
        "collaborations",
        sa.Column("revision", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("memberships", sa.Column("joined_at", sa.DateTime(timezone=True)))
    op.add_column("memberships", sa.Column("ended_at", sa.DateTime(timezone=True)))
    op.add_column("memberships", sa.Column("ended_by", sa.String()))
    for column in ("epsilon_adjustment", "delta_adjustment"):
        op.add_column(
            "budgets",
            sa.Column(column, sa.Double(), server_default=sa.text("0"), nullable=False),
        )
    op.add_column("templates", sa.Column("approvers", sa.JSON()))
    op.create_table(
        "template_approvals",
        sa.Column("template_id", sa.String(), nullable=False),
        sa.Column("org", sa.String(), nullable=False),
        sa.Column("capacity", sa.String(length=20), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org"], ["organizations.id"], name=op.f("fk_template_approvals_org_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name=op.f("fk_template_approvals_template_id_templates"),
        ),
        sa.PrimaryKeyConstraint("template_id", "org", name=op.f("pk_template_approvals")),
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    _refuse_lossy_downgrade(op.get_bind())
    op.drop_table("template_approvals")
    # Plain DROP COLUMN (SQLite >= 3.35 has it): a batch copy of a referenced table would trip
    # SQLite's foreign keys when the old table is dropped.
    drops = {
        "templates": ("approvers",),
        "budgets": ("delta_adjustment", "epsilon_adjustment"),
        "memberships": ("ended_by", "ended_at", "joined_at"),
        "collaborations": ("revision", "ends_at", "starts_at"),
    }
    for table, columns in drops.items():
        for column in columns:
            op.drop_column(table, column)


def approvers_for(
    retailer: str, read: Sequence[str], owners: dict[str, tuple[str, str]], *, decided: bool
) -> list[dict[str, Any]]:
    """The approvers of a version reading ``read`` (dataset names; ``owners``: name -> (owner
    org, kind)): the retailer for all of it, then each other org owning a personal dataset it
    reads, for those. A version ``decided`` under the former rule has the retailer only.

    >>> owners = {"tx": ("shopco", "personal"), "crm": ("acme", "personal"),
    ...           "spend": ("acme", "reference")}
    >>> [(a["org"], a["datasets"]) for a in approvers_for("shopco", ["tx", "crm", "spend"],
    ...                                                    owners, decided=False)]
    [('shopco', ['crm', 'spend', 'tx']), ('acme', ['crm'])]
    """
    out = [{"org": retailer, "as": "retailer", "datasets": sorted(read)}]
    if decided:
        return out
    by_owner: dict[str, list[str]] = {}
    for name in sorted(read):
        owner, kind = owners.get(name, (retailer, "reference"))
        if kind == "personal" and owner != retailer:
            by_owner.setdefault(owner, []).append(name)
    out += [{"org": org, "as": "data_owner", "datasets": names} for org, names in by_owner.items()]
    return out


def _backfill(bind: sa.Connection) -> None:
    c = _collaborations.c
    retailers = {cid: org for cid, org in bind.execute(sa.select(c.id, c.retailer_org))}
    owners: dict[str, dict[str, tuple[str, str]]] = {}
    d = _datasets.c
    for cid, name, owner, kind in bind.execute(
        sa.select(d.collaboration_id, d.name, d.owner_org, d.kind)
    ):
        owners.setdefault(cid, {})[name] = (owner, kind)
    t = _templates.c
    found = bind.execute(
        sa.select(t.id, t.collaboration_id, t.status, t.analysis, t.reason, t.decided_by,
                  t.decided_at)
    ).all()  # fmt: skip
    for tid, cid, status, analysis, reason, decided_by, decided_at in found:
        read = analysis.get("datasets", []) if isinstance(analysis, dict) else []
        approvers = approvers_for(
            retailers[cid], [str(n) for n in read], owners.get(cid, {}), decided=status != "pending"
        )
        bind.execute(sa.update(_templates).where(t.id == tid).values(approvers=approvers))
        if status == "approved" and decided_by is not None and decided_at is not None:
            bind.execute(
                sa.insert(_approvals).values(
                    template_id=tid,
                    org=retailers[cid],
                    capacity="retailer",
                    decision="approved",
                    decided_by=decided_by,
                    decided_at=decided_at,
                    reason=reason,
                )
            )


def _refuse_lossy_downgrade(bind: sa.Connection) -> None:
    c, m, b = _collaborations.c, _memberships.c, _budgets.c
    checks = [
        (
            sa.select(c.id).where(sa.or_(c.starts_at.is_not(None), c.ends_at.is_not(None))),
            "collaboration {} has a start or end date (clear both first)",
        ),
        (
            sa.select(m.collaboration_id, m.org).where(m.ended_at.is_not(None)),
            "the membership of {1} in collaboration {0} has ended",
        ),
        (
            sa.select(b.collaboration_id, b.org).where(
                sa.or_(b.epsilon_adjustment != 0, b.delta_adjustment != 0)
            ),
            "the budget of {1} in collaboration {0} differs from the policy's",
        ),
    ]
    for query, message in checks:
        row = bind.execute(query.limit(1)).first()
        if row is not None:
            raise RuntimeError(f"cannot downgrade below 0004: {message.format(*row)}")
    t = _templates.c
    for tid, approvers in bind.execute(sa.select(t.id, t.approvers).where(t.status == "pending")):
        if any(a.get("as") == "data_owner" for a in approvers or []):
            raise RuntimeError(
                f"cannot downgrade below 0004: pending template {tid} awaits a data owner's "
                "approval (approve or reject it first)"
            )
