"""ORM rows to frozen records (the only place that knows both shapes)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from cleanroom.store.chain import details_digest
from cleanroom.store.models import (
    AuditEventRow,
    BudgetChargeRow,
    CollaborationRow,
    DatasetRow,
    DatasetVersionRow,
    MembershipRow,
    OrganizationRow,
    ReportRow,
    RunRow,
    TemplateApprovalRow,
    TemplateRow,
)
from cleanroom.store.records import (
    AuditRecord,
    BudgetCharge,
    Collaboration,
    Dataset,
    DatasetVersion,
    Membership,
    Organization,
    Report,
    Run,
    Template,
    TemplateApproval,
)


def organization(row: OrganizationRow) -> Organization:
    return Organization(id=row.id, kind=row.kind, created_at=row.created_at)


def collaboration(row: CollaborationRow, members: list[MembershipRow]) -> Collaboration:
    # Retailer first, then partners in a stable order.
    ordered = sorted(members, key=lambda m: (m.role != "retailer", m.org))
    return Collaboration(
        id=row.id,
        name=row.name,
        retailer_org=row.retailer_org,
        policy=dict(row.policy),
        members=tuple(
            Membership(m.collaboration_id, m.org, m.role, m.joined_at, m.ended_at, m.ended_by)
            for m in ordered
        ),
        created_at=row.created_at,
        created_by=row.created_by,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        revision=row.revision,
    )


def dataset_version(row: DatasetVersionRow) -> DatasetVersion:
    return DatasetVersion(
        dataset_id=row.dataset_id,
        version=row.version,
        path=row.path,
        row_count=row.row_count,
        dropped_identifiers=row.dropped_identifiers,
        size_bytes=row.size_bytes,
        created_at=row.created_at,
        expires_at=row.expires_at,
        purged_at=row.purged_at,
        max_rows_per_person=row.max_rows_per_person,
    )


def dataset(row: DatasetRow, current: DatasetVersionRow | None) -> Dataset:
    return Dataset(
        id=row.id,
        collaboration_id=row.collaboration_id,
        name=row.name,
        owner_org=row.owner_org,
        kind=row.kind,
        spec=dict(row.spec),
        created_at=row.created_at,
        current=None if current is None else dataset_version(current),
    )


def template(row: TemplateRow, decisions: Sequence[TemplateApprovalRow] = ()) -> Template:
    """The template with each approver it needs and that approver's decision, if any."""
    by_org = {d.org: d for d in decisions}
    approvals = []
    for entry in row.approvers or []:
        decided = by_org.get(entry["org"])
        approvals.append(
            TemplateApproval(
                org=entry["org"],
                capacity=entry["as"],
                datasets=tuple(entry.get("datasets", ())),
                decision=None if decided is None else decided.decision,
                decided_by=None if decided is None else decided.decided_by,
                decided_at=None if decided is None else decided.decided_at,
                reason=None if decided is None else decided.reason,
            )
        )
    return Template(
        id=row.id,
        collaboration_id=row.collaboration_id,
        name=row.name,
        version=row.version,
        org=row.org,
        submitted_by=row.submitted_by,
        sql=row.sql,
        parameters=tuple(dict(p) for p in row.parameters),
        purpose=row.purpose,
        bounds=dict(row.bounds),
        status=row.status,
        pin=row.pin,
        analysis=dict(row.analysis),
        reason=row.reason,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        created_at=row.created_at,
        approvals=tuple(approvals),
    )


def run(row: RunRow) -> Run:
    return Run(
        id=row.id,
        collaboration_id=row.collaboration_id,
        template_id=row.template_id,
        template_version=row.template_version,
        org=row.org,
        submitted_by=row.submitted_by,
        parameters=dict(row.parameters),
        weights=dict(row.weights or {}),
        epsilon=row.epsilon,
        delta=row.delta,
        status=row.status,
        progress=row.progress,
        error_code=row.error_code,
        error_message=row.error_message,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        claimed_by=row.claimed_by,
        heartbeat_at=row.heartbeat_at,
    )


def report(row: ReportRow) -> Report:
    return Report(run_id=row.run_id, body=row.body, created_at=row.created_at)


def budget_charge(row: BudgetChargeRow) -> BudgetCharge:
    return BudgetCharge(
        id=row.id,
        collaboration_id=row.collaboration_id,
        org=row.org,
        run_id=row.run_id,
        epsilon=row.epsilon,
        delta=row.delta,
        created_at=row.created_at,
    )


def audit_record(row: AuditEventRow) -> AuditRecord:
    details = json.loads(row.details)
    return AuditRecord(
        collaboration_id=row.collaboration_id,
        seq=row.seq,
        name=row.name,
        actor=row.actor,
        org=row.org,
        details=details,
        created_at=row.created_at,
        prev_hash=row.prev_hash,
        hash=row.hash,
        salt=row.salt,
        digest=None if row.salt is None else details_digest(row.actor, details, row.salt),
    )
