"""Reading and verifying a collaboration's hash-chained audit log (every member may)."""

from __future__ import annotations

from cleanroom.services.access import authorize
from cleanroom.services.context import Services
from cleanroom.store import AuditRecord, AuditVerification
from cleanroom.types import Principal


def list_audit(
    svc: Services, who: Principal, collaboration_id: str, after_seq: int = 0, limit: int = 100
) -> list[AuditRecord]:
    collab = authorize(svc, who, collaboration_id, "audit.read")
    return svc.store.list_audit(collab.id, after_seq=after_seq, limit=limit)


def verify_audit(svc: Services, who: Principal, collaboration_id: str) -> AuditVerification:
    collab = authorize(svc, who, collaboration_id, "audit.verify")
    return svc.store.verify_audit(collab.id)
