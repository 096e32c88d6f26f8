"""Approval of a template version by every org whose data it reads.

A version's ``approvers`` are fixed when it is submitted (``services.templates`` works them out):
the retailer, which reviews the whole template, then each other org owning a personal dataset
the template reads, for those datasets. Each approver decides once (``template_approvals``). The
version becomes ``approved`` when the last approver approves, in the same transaction; one
approver's rejection rejects it. The template row is locked first (``SELECT ... FOR UPDATE``;
SQLite's write lock), so of two approvers deciding at once the second sees the first's decision
and exactly one of them completes the approval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Table, bindparam, select, update
from sqlalchemy.orm import Session

from cleanroom.errors import Conflict, NotFound
from cleanroom.store import rows
from cleanroom.store.audit import append_in_session
from cleanroom.store.db import AuditArg, StoreBase
from cleanroom.store.models import CollaborationRow, TemplateApprovalRow, TemplateRow
from cleanroom.store.records import Template

RETAILER, DATA_OWNER = "retailer", "data_owner"
APPROVER_CAPACITIES = (RETAILER, DATA_OWNER)


def retailer_only(retailer_org: str, datasets: Sequence[str]) -> list[dict[str, Any]]:
    """The approvers of a version that reads no other org's personal data."""
    return [{"org": retailer_org, "as": RETAILER, "datasets": sorted(datasets)}]


def decisions_of(session: Session, template_ids: Sequence[str]) -> dict[str, list[Any]]:
    """Template id -> its approvers' decisions (rows), for the given ids."""
    found: dict[str, list[Any]] = {tid: [] for tid in template_ids}
    if template_ids:
        query = select(TemplateApprovalRow).where(
            TemplateApprovalRow.template_id.in_(list(template_ids))
        )
        for decision in session.scalars(query):
            found[decision.template_id].append(decision)
    return found


def load_templates(session: Session, *where: ColumnElement[bool]) -> list[Template]:
    """Templates matching ``where`` with their decisions, by name then version, in ONE query
    (an outer join: a version's decisions come on its rows)."""
    found = session.execute(
        select(TemplateRow, TemplateApprovalRow)
        .outerjoin(TemplateApprovalRow, TemplateApprovalRow.template_id == TemplateRow.id)
        .where(*where)
        .order_by(TemplateRow.name, TemplateRow.version, TemplateRow.id)
    ).all()
    grouped: dict[str, tuple[TemplateRow, list[TemplateApprovalRow]]] = {}
    for row, decision in found:
        entry = grouped.setdefault(row.id, (row, []))
        if decision is not None:
            entry[1].append(decision)
    return [rows.template(row, decisions) for row, decisions in grouped.values()]


_TEMPLATES = cast(Table, TemplateRow.__table__)
_DECISIONS = cast(Table, TemplateApprovalRow.__table__)
# One version with its decisions (outer join), as Core rows; the decision columns are prefixed
# since both tables have decided_by, decided_at and reason. Built once, bound by name.
_ONE_TEMPLATE = (
    select(_TEMPLATES, *(c.label(f"decision_{c.name}") for c in _DECISIONS.c))
    .select_from(_TEMPLATES.outerjoin(_DECISIONS, _DECISIONS.c.template_id == _TEMPLATES.c.id))
    .where(_TEMPLATES.c.id == bindparam("t_id"))
)
_DECISION_FIELDS = tuple(c.name for c in _DECISIONS.c)


def read_template(conn: Connection, template_id: str) -> Template | None:
    """One version with its decisions (what :func:`load_templates` gives), on a Core
    connection: the per-request read of ``GET .../templates/<id>``."""
    found = conn.execute(_ONE_TEMPLATE, {"t_id": template_id}).all()
    if not found:
        return None
    decisions = [
        SimpleNamespace(**{name: getattr(row, f"decision_{name}") for name in _DECISION_FIELDS})
        for row in found
        if row.decision_template_id is not None
    ]
    return rows.template(found[0], decisions)


def template_record(session: Session, row: TemplateRow) -> Template:
    """The template with its approvals, read in the caller's transaction."""
    return rows.template(row, decisions_of(session, [row.id])[row.id])


def _locked(session: Session, template_id: str) -> TemplateRow:
    row = session.scalars(
        select(TemplateRow)
        .where(TemplateRow.id == template_id)
        .with_for_update(key_share=True)  # NO KEY UPDATE: inserts referencing it go on
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFound("template not found")
    return row


def _facts(row: TemplateRow, org: str, capacity: str) -> dict[str, Any]:
    return {
        "template_id": row.id,
        "name": row.name,
        "version": row.version,
        "approver_org": org,
        "approved_as": capacity,
    }


class ApprovalsMixin(StoreBase):
    def decide_as_approver(
        self,
        template_id: str,
        decided_by: str,
        decision: str,
        *,
        org: str | None = None,
        reason: str | None = None,
        audit: AuditArg = None,
    ) -> Template:
        """Record ``org``'s ``approved`` / ``rejected`` decision on a pending version (``org``
        None: the collaboration's retailer). The last approval makes the version ``approved``;
        a rejection makes it ``rejected``. ``Conflict`` when the
        version is not pending, ``org`` is not one of its approvers or already decided.

        The audit facts name the approver and, after the decision, the version's ``status`` and
        the orgs it is still ``awaiting``."""
        if decision not in ("approved", "rejected"):
            raise ValueError(f"unknown decision {decision!r}; this is a bug")
        now = self.now()
        with self._write() as session:
            row = _locked(session, template_id)
            if org is None:
                collab = session.get(CollaborationRow, row.collaboration_id)
                assert collab is not None  # a foreign key
                org = collab.retailer_org
            verb = "approved" if decision == "approved" else "rejected"
            if row.status != "pending":
                raise Conflict(f"a {row.status} template cannot be {verb}")
            approvers: list[Mapping[str, Any]] = list(row.approvers or [])
            entry = next((a for a in approvers if a["org"] == org), None)
            if entry is None:
                raise Conflict(f"{org} is not an approver of this template version")
            decided = {d.org: d for d in decisions_of(session, [row.id])[row.id]}
            if org in decided:
                raise Conflict(f"{org} already {decided[org].decision} this template version")
            session.add(
                TemplateApprovalRow(
                    template_id=row.id,
                    org=org,
                    capacity=entry["as"],
                    decision=decision,
                    decided_by=decided_by,
                    decided_at=now,
                    reason=reason,
                )
            )
            session.flush()
            awaiting = [a["org"] for a in approvers if a["org"] not in decided and a["org"] != org]
            status = (
                "rejected" if decision == "rejected" else ("pending" if awaiting else "approved")
            )
            if status != "pending":
                session.execute(
                    update(TemplateRow)
                    .where(TemplateRow.id == row.id, TemplateRow.status == "pending")
                    .values(
                        status=status,
                        decided_by=decided_by,
                        decided_at=now,
                        reason=reason,
                    )
                    .execution_options(synchronize_session=False)
                )
                row = _locked(session, template_id)
            facts = {
                **_facts(row, org, entry["as"]),
                "status": status,
                "awaiting": [] if status == "rejected" else awaiting,
            }
            append_in_session(session, row.collaboration_id, audit, now, facts)
            return template_record(session, row)
