"""Initial schema: organizations, collaborations, datasets, templates, runs, ledger, audit.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "collaborations",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("retailer_org", sa.String(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["retailer_org"],
            ["organizations.id"],
            name=op.f("fk_collaborations_retailer_org_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collaborations")),
    )
    op.create_table(
        "audit_events",
        sa.Column("collaboration_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("org", sa.String(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_audit_events_collaboration_id_collaborations"),
        ),
        sa.PrimaryKeyConstraint("collaboration_id", "seq", name=op.f("pk_audit_events")),
    )
    op.create_table(
        "audit_heads",
        sa.Column("collaboration_id", sa.String(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_audit_heads_collaboration_id_collaborations"),
        ),
        sa.PrimaryKeyConstraint("collaboration_id", name=op.f("pk_audit_heads")),
    )
    op.create_table(
        "budgets",
        sa.Column("collaboration_id", sa.String(), nullable=False),
        sa.Column("org", sa.String(), nullable=False),
        sa.Column("total_epsilon", sa.Double(), nullable=False),
        sa.Column("total_delta", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_budgets_collaboration_id_collaborations"),
        ),
        sa.ForeignKeyConstraint(
            ["org"], ["organizations.id"], name=op.f("fk_budgets_org_organizations")
        ),
        sa.PrimaryKeyConstraint("collaboration_id", "org", name=op.f("pk_budgets")),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("collaboration_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("owner_org", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_datasets_collaboration_id_collaborations"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_org"], ["organizations.id"], name=op.f("fk_datasets_owner_org_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("collaboration_id", "name", name="uq_datasets_name"),
    )
    op.create_table(
        "memberships",
        sa.Column("collaboration_id", sa.String(), nullable=False),
        sa.Column("org", sa.String(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_memberships_collaboration_id_collaborations"),
        ),
        sa.ForeignKeyConstraint(
            ["org"], ["organizations.id"], name=op.f("fk_memberships_org_organizations")
        ),
        sa.PrimaryKeyConstraint("collaboration_id", "org", name=op.f("pk_memberships")),
    )
    op.create_table(
        "suppressions",
        sa.Column("collaboration_id", sa.String(), nullable=False),
        sa.Column("pid", sa.LargeBinary(length=32), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_suppressions_collaboration_id_collaborations"),
        ),
        sa.PrimaryKeyConstraint("collaboration_id", "pid", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "templates",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("collaboration_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("org", sa.String(), nullable=False),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("bounds", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("pin", sa.String(), nullable=False),
        sa.Column("analysis", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_templates_collaboration_id_collaborations"),
        ),
        sa.ForeignKeyConstraint(
            ["org"], ["organizations.id"], name=op.f("fk_templates_org_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint("collaboration_id", "name", "version", name="uq_templates_version"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("dataset_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("dropped_identifiers", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_versions_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("dataset_id", "version", name=op.f("pk_dataset_versions")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("collaboration_id", sa.String(), nullable=False),
        sa.Column("template_id", sa.String(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("org", sa.String(), nullable=False),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("epsilon", sa.Double(), nullable=False),
        sa.Column("delta", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("error_code", sa.String(length=50), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaborations.id"],
            name=op.f("fk_runs_collaboration_id_collaborations"),
        ),
        sa.ForeignKeyConstraint(
            ["org"], ["organizations.id"], name=op.f("fk_runs_org_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"], ["templates.id"], name=op.f("fk_runs_template_id_templates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint(
            "collaboration_id", "org", "idempotency_key", name="uq_runs_idempotency"
        ),
    )
    op.create_index("ix_runs_collaboration", "runs", ["collaboration_id", "created_at"])
    op.create_index("ix_runs_status_created", "runs", ["status", "created_at"])
    op.create_table(
        "budget_charges",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("collaboration_id", sa.String(), nullable=False),
        sa.Column("org", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("epsilon", sa.Double(), nullable=False),
        sa.Column("delta", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id", "org"],
            ["budgets.collaboration_id", "budgets.org"],
            name=op.f("fk_budget_charges_collaboration_id_budgets"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_budget_charges_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_charges")),
    )
    op.create_index(
        "ix_budget_charges_line", "budget_charges", ["collaboration_id", "org", "created_at"]
    )
    op.create_table(
        "reports",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_reports_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_reports")),
    )


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_index("ix_budget_charges_line", table_name="budget_charges")
    op.drop_table("budget_charges")
    op.drop_index("ix_runs_status_created", table_name="runs")
    op.drop_index("ix_runs_collaboration", table_name="runs")
    op.drop_table("runs")
    op.drop_table("dataset_versions")
    op.drop_table("templates")
    op.drop_table("suppressions")
    op.drop_table("memberships")
    op.drop_table("datasets")
    op.drop_table("budgets")
    op.drop_table("audit_heads")
    op.drop_table("audit_events")
    op.drop_table("collaborations")
    op.drop_table("organizations")
