"""Audit events: small records with stable dotted names.

Every state change and every data access becomes one event in the collaboration's hash-chained
audit log (``store``). ``details`` holds only metadata (ids, names, versions, counts, privacy
loss), never data values or identifiers.

>>> e = AuditEvent("template.approved", "alice", "retailer", {"template_id": "t1"})
>>> e.to_dict()["name"]
'template.approved'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

EVENT_NAMES = frozenset(
    {
        "collaboration.created",
        "collaboration.updated",
        "partner.added",
        "partner.removed",
        "dataset.registered",
        "dataset.deleted",
        "dataset.expired",
        "suppression.added",
        "suppression.removed",
        "template.submitted",
        "template.approved",
        "template.rejected",
        "template.revoked",
        "run.previewed",
        "run.created",
        "run.started",
        "run.succeeded",
        "run.failed",
        "run.cancelled",
        "run.flagged_for_review",
        "report.downloaded",
        "budget.charged",
        "budget.raised",
        "budget.set",
        "request.refused",
    }
)


@dataclass(frozen=True)
class AuditEvent:
    name: str
    actor: str
    org: str
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.name not in EVENT_NAMES:
            raise ValueError(f"unknown audit event name {self.name!r}; this is a bug")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "actor": self.actor,
            "org": self.org,
            "details": dict(self.details),
        }
