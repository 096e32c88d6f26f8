"""ORM models (SQLAlchemy 2, typed). Private to the store: callers get ``records`` instead.

Tables are created only by the Alembic migrations under ``migrations/versions``; keep the two in
step (``tests/store`` checks that the migrated schema matches this metadata).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Unbounded text: ids, org names and actors come from tokens and requests, and a length limit
# would turn a long value into a database error instead of a clean refusal.
ID = String()
NAME = String()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects (SQLite has no time zones: store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; this is a bug")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Named constraints, so later (SQLite batch) migrations can address them.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        str: NAME,
    }


class OrganizationRow(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class CollaborationRow(Base):
    __tablename__ = "collaborations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str]
    retailer_org: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    policy: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str]
    # Runs are refused before ``starts_at`` and from ``ends_at`` on (None: no such limit).
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # Counts the changes (policy, dates, members): an amendment names the revision it was
    # decided on, so of two concurrent amendments the second is refused, not silently merged.
    revision: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class MembershipRow(Base):
    __tablename__ = "memberships"
    collaboration_id: Mapped[str] = mapped_column(ForeignKey("collaborations.id"), primary_key=True)
    org: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    joined_at: Mapped[datetime | None]  # None: a member since the collaboration was created
    ended_at: Mapped[datetime | None]  # a partner whose membership ended keeps read access
    ended_by: Mapped[str | None]


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("collaboration_id", "owner_org", "name", name="uq_datasets_org_name"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collaboration_id: Mapped[str] = mapped_column(ForeignKey("collaborations.id"))
    name: Mapped[str]
    owner_org: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(20))
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(BigInteger)
    dropped_identifiers: Mapped[int] = mapped_column(BigInteger)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    # Most rows any one person has in this version, measured at ingestion (None: not measured).
    max_rows_per_person: Mapped[int | None] = mapped_column(Integer)


class SuppressionRow(Base):
    __tablename__ = "suppressions"
    collaboration_id: Mapped[str] = mapped_column(ForeignKey("collaborations.id"), primary_key=True)
    pid: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    added_at: Mapped[datetime]


class TemplateRow(Base):
    __tablename__ = "templates"
    __table_args__ = (
        UniqueConstraint(
            "collaboration_id", "org", "name", "version", name="uq_templates_org_version"
        ),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collaboration_id: Mapped[str] = mapped_column(ForeignKey("collaborations.id"))
    name: Mapped[str]
    version: Mapped[int] = mapped_column(Integer)
    org: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    submitted_by: Mapped[str]
    sql: Mapped[str] = mapped_column(Text)
    parameters: Mapped[list[Any]] = mapped_column(JSON)
    purpose: Mapped[str]
    bounds: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    pin: Mapped[str]
    analysis: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None]
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Whose approval it needs, fixed at submission: ``[{"org", "as", "datasets"}]``, the retailer
    # first, then each owner org of a personal dataset it reads (``store.approvals``).
    approvers: Mapped[list[Any] | None] = mapped_column(JSON)


class TemplateApprovalRow(Base):
    """One approver's decision on one template version (``store.approvals``)."""

    __tablename__ = "template_approvals"
    template_id: Mapped[str] = mapped_column(ForeignKey("templates.id"), primary_key=True)
    org: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    capacity: Mapped[str] = mapped_column(String(20))  # "retailer" | "data_owner"
    decision: Mapped[str] = mapped_column(String(20))  # "approved" | "rejected"
    decided_by: Mapped[str]
    decided_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("collaboration_id", "org", "idempotency_key", name="uq_runs_idempotency"),
        Index("ix_runs_status_created", "status", "created_at"),
        Index("ix_runs_collaboration", "collaboration_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collaboration_id: Mapped[str] = mapped_column(ForeignKey("collaborations.id"))
    template_id: Mapped[str] = mapped_column(ForeignKey("templates.id"))
    template_version: Mapped[int] = mapped_column(Integer)
    org: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    submitted_by: Mapped[str]
    parameters: Mapped[dict[str, Any]]
    # The run request's per-output weights (noise allocation only); NULL: none given.
    weights: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    epsilon: Mapped[float] = mapped_column(Double)
    delta: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(20))
    progress: Mapped[float] = mapped_column(Double)
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None]
    heartbeat_at: Mapped[datetime | None]


class ReportRow(Base):
    __tablename__ = "reports"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class BudgetRow(Base):
    """Totals and running spend per (collaboration, org); also the row a charge locks.

    ``spent_*`` is the sum of the org's charges made at or after ``period_start`` (None: the
    budget never refreshes, so every charge counts); ``budget_charges`` stays the record.
    ``total_*`` is the line's total as of its last charge or change (informational: readers
    derive it from the current policy and the adjustment).
    """

    __tablename__ = "budgets"
    collaboration_id: Mapped[str] = mapped_column(ForeignKey("collaborations.id"), primary_key=True)
    org: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    total_epsilon: Mapped[float] = mapped_column(Double)
    total_delta: Mapped[float] = mapped_column(Double)
    created_at: Mapped[datetime]
    spent_epsilon: Mapped[float] = mapped_column(Double, server_default=text("0"))
    spent_delta: Mapped[float] = mapped_column(Double, server_default=text("0"))
    period_start: Mapped[datetime | None]
    # Added to the policy's budget for this org only (a raise, or a partner added with a budget
    # of its own): the line's total is ``max(0, policy budget + adjustment)``.
    epsilon_adjustment: Mapped[float] = mapped_column(Double, server_default=text("0"))
    delta_adjustment: Mapped[float] = mapped_column(Double, server_default=text("0"))


class BudgetChargeRow(Base):
    __tablename__ = "budget_charges"
    __table_args__ = (
        ForeignKeyConstraint(
            ["collaboration_id", "org"], ["budgets.collaboration_id", "budgets.org"]
        ),
        Index("ix_budget_charges_line", "collaboration_id", "org", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collaboration_id: Mapped[str] = mapped_column(ID)
    org: Mapped[str] = mapped_column(ID)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    epsilon: Mapped[float] = mapped_column(Double)
    delta: Mapped[float] = mapped_column(Double)
    created_at: Mapped[datetime]


class AuditHeadRow(Base):
    """The last link of a collaboration's chain; locked to serialize appends."""

    __tablename__ = "audit_heads"
    collaboration_id: Mapped[str] = mapped_column(ForeignKey("collaborations.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    collaboration_id: Mapped[str] = mapped_column(ForeignKey("collaborations.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str]
    org: Mapped[str]
    details: Mapped[str] = mapped_column(Text)  # canonical JSON text, exactly what was hashed
    created_at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Random hex of the record's details commitment (``store.audit``); NULL: written before 0003,
    # hashed with its actor and details in the clear.
    salt: Mapped[str | None] = mapped_column(String(32))
