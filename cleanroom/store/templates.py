"""Query templates: versions per name, and the legal state transitions.

``pending -> approved | rejected`` and ``approved -> revoked``; anything else is a ``Conflict``.
A pending version becomes approved once every approver it needs approved it, and rejected by any
approver's rejection (``store.approvals``).
Each transition is a conditional ``UPDATE ... WHERE status = <expected>``, so of two admins deciding
at once exactly one wins, on either dialect. Every version has its own id: approving, running and
revoking act on exactly one version; submitting a known name again creates version n+1, pending,
and leaves earlier versions as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cleanroom.errors import Conflict, NotFound
from cleanroom.store import rows
from cleanroom.store.approvals import (
    ApprovalsMixin,
    load_templates,
    read_template,
    retailer_only,
    template_record,
)
from cleanroom.store.audit import append_in_session
from cleanroom.store.db import (
    AuditArg,
    ensure_org,
    lock_name,
    new_id,
    require_collaboration,
)
from cleanroom.store.models import TemplateRow
from cleanroom.store.records import Template

# (from, to) pairs that are legal.
TRANSITIONS = {("pending", "approved"), ("pending", "rejected"), ("approved", "revoked")}


def _facts(row: TemplateRow) -> dict[str, Any]:
    return {"template_id": row.id, "name": row.name, "version": row.version}


class TemplatesMixin(ApprovalsMixin):
    def submit_template(
        self,
        collaboration_id: str,
        name: str,
        org: str,
        submitted_by: str,
        sql: str,
        parameters: Sequence[Mapping[str, Any]],
        purpose: str,
        *,
        bounds: Mapping[str, Any] | None = None,
        analysis: Mapping[str, Any] | None = None,
        pin: str = "",
        approvers: Sequence[Mapping[str, Any]] | None = None,
        audit: AuditArg = None,
    ) -> Template:
        """Store a new ``pending`` template; a name this org used before gets the next version.

        ``approvers`` (``store.approvals``) default to the collaboration's retailer alone.

        Versions are numbered per (collaboration, org, name): another org's template of the same
        name is not "taken" and its versions are not counted (they would reveal its activity).
        """
        now = self.now()
        with self._write() as session:
            collab = require_collaboration(session, collaboration_id)
            ensure_org(session, org, "advertiser", now)
            lock_name(session, "template", collaboration_id, org, name)
            last = session.scalar(
                select(func.max(TemplateRow.version)).where(
                    TemplateRow.collaboration_id == collaboration_id,
                    TemplateRow.org == org,
                    TemplateRow.name == name,
                )
            )
            row = TemplateRow(
                id=new_id("tpl"),
                collaboration_id=collaboration_id,
                name=name,
                version=(last or 0) + 1,
                org=org,
                submitted_by=submitted_by,
                sql=sql,
                parameters=[dict(p) for p in parameters],
                purpose=purpose,
                bounds=dict(bounds or {}),
                status="pending",
                pin=pin,
                analysis=dict(analysis or {}),
                reason=None,
                decided_by=None,
                decided_at=None,
                created_at=now,
                approvers=[dict(a) for a in approvers]
                if approvers
                else retailer_only(collab.retailer_org, (analysis or {}).get("datasets", [])),
            )
            session.add(row)
            session.flush()
            append_in_session(session, collaboration_id, audit, now, _facts(row))
            return rows.template(row)

    def revoke_template(
        self,
        template_id: str,
        decided_by: str,
        *,
        reason: str | None = None,
        audit: AuditArg = None,
    ) -> Template:
        """``approved -> revoked`` (the kill switch); ``Conflict`` from any other state."""
        return self._transition(template_id, "revoked", decided_by, reason, audit, {})

    def get_template(self, template_id: str, *, collaboration_id: str | None = None) -> Template:
        """One template version; ``NotFound`` if unknown or in another collaboration."""
        with self._read_rows() as conn:
            found = read_template(conn, template_id)
        if found is None or collaboration_id not in (None, found.collaboration_id):
            raise NotFound("template not found")
        return found

    def list_templates(self, collaboration_id: str) -> list[Template]:
        """Templates of the collaboration by name then version."""
        with self._read() as session:
            return load_templates(session, TemplateRow.collaboration_id == collaboration_id)

    def _transition(
        self,
        template_id: str,
        to: str,
        decided_by: str,
        reason: str | None,
        audit: AuditArg,
        extra: Mapping[str, Any],
    ) -> Template:
        sources = [a for a, b in TRANSITIONS if b == to]
        now = self.now()
        with self._write() as session:
            changed = session.execute(
                update(TemplateRow)
                .where(TemplateRow.id == template_id, TemplateRow.status.in_(sources))
                .values(status=to, decided_by=decided_by, decided_at=now, reason=reason, **extra)
                .execution_options(synchronize_session=False)
            )
            row = _fresh(session, template_id)
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(f"a {row.status} template cannot become {to}")
            append_in_session(session, row.collaboration_id, audit, now, _facts(row))
            return template_record(session, row)


def _fresh(session: Session, template_id: str) -> TemplateRow:
    row = session.scalars(
        select(TemplateRow)
        .where(TemplateRow.id == template_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFound("template not found")
    return row
