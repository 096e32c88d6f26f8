"""What the store hands out: frozen dataclass records, never ORM objects.

Every record has an explicit ``to_dict`` with JSON-friendly values (timestamps as ISO-8601
strings in UTC, binary ids never included). Records are snapshots: they do not follow the database.

>>> line = BudgetLine("col_1", "acme", 10.0, 1e-6, 2.5, 0.0)
>>> line.remaining_epsilon
7.5
>>> line.to_dict()["remaining"]
{'epsilon': 7.5, 'delta': 1e-06}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cleanroom.budget import fits, remaining

RUN_STATUSES = ("queued", "running", "succeeded", "failed")
TEMPLATE_STATUSES = ("pending", "approved", "rejected", "revoked")
ORG_KINDS = ("retailer", "advertiser")
MEMBER_ROLES = ("retailer", "partner")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Membership:
    collaboration_id: str
    org: str
    role: str  # role in the collaboration: "retailer" | "partner"
    joined_at: datetime | None = None  # None: a member since the collaboration was created
    ended_at: datetime | None = None  # set when a partner's membership ended
    ended_by: str | None = None

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "collaboration_id": self.collaboration_id,
            "org": self.org,
            "role": self.role,
            "joined_at": _iso(self.joined_at),
            "ended_at": _iso(self.ended_at),
        }


@dataclass(frozen=True)
class Collaboration:
    id: str
    name: str
    retailer_org: str
    policy: Mapping[str, Any]  # stored as given; validated upstream by CollaborationPolicy
    members: tuple[Membership, ...]
    created_at: datetime
    created_by: str
    starts_at: datetime | None = None  # runs are refused before (None: from creation)
    ends_at: datetime | None = None  # runs are refused from then on (None: open-ended)
    revision: int = 0  # counts changes of policy, dates and members

    @property
    def partner_orgs(self) -> tuple[str, ...]:
        """The current partners (a partner whose membership ended is not one)."""
        return tuple(m.org for m in self.members if m.role == "partner" and m.active)

    @property
    def former_partner_orgs(self) -> tuple[str, ...]:
        return tuple(m.org for m in self.members if m.role == "partner" and not m.active)

    def membership(self, org: str) -> Membership | None:
        return next((m for m in self.members if m.org == org), None)

    def member_role(self, org: str) -> str | None:
        """The org's role in this collaboration, or None when it is not a member.

        A partner whose membership ended is still a member here: it keeps read access to what
        it did; what it may no longer do is refused by ``services.lifecycle``."""
        found = self.membership(org)
        return None if found is None else found.role

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "retailer_org": self.retailer_org,
            "partner_orgs": list(self.partner_orgs),
            "former_partner_orgs": list(self.former_partner_orgs),
            "members": [
                {k: v for k, v in m.to_dict().items() if k != "collaboration_id"}
                for m in self.members
            ],
            "policy": dict(self.policy),
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "revision": self.revision,
            "created_at": _iso(self.created_at),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class DatasetVersion:
    dataset_id: str
    version: int  # 1..n
    path: str  # relative to the data directory; internal, so not in to_dict()
    row_count: int
    dropped_identifiers: int  # rows whose identifier was NULL/empty and so never joins
    size_bytes: int
    created_at: datetime
    expires_at: datetime | None
    purged_at: datetime | None
    # The most rows any one person has in this version, measured at ingestion; None when unknown
    # (registered before it was measured). A per-person row cap at or above it cannot bind.
    max_rows_per_person: int | None = None

    def to_dict(self, *, sizes: bool = False) -> dict[str, Any]:
        """The version; with ``sizes`` also its exact figures (row count, blank identifiers,
        bytes, the most rows one person has).

        The figures are exact facts about the people in the data: only the dataset's owner org
        sees them, so they are left out unless asked for (``services.datasets`` decides).
        """
        out: dict[str, Any] = {
            "dataset_id": self.dataset_id,
            "version": self.version,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "purged_at": _iso(self.purged_at),
        }
        if sizes:
            out.update(
                row_count=self.row_count,
                dropped_identifiers=self.dropped_identifiers,
                bytes=self.size_bytes,
                max_rows_per_person=self.max_rows_per_person,
            )
        return out


@dataclass(frozen=True)
class Dataset:
    id: str
    collaboration_id: str
    name: str
    owner_org: str
    kind: str  # "personal" | "reference"
    spec: Mapping[str, Any]  # the latest registered spec (DatasetSpec.to_dict())
    created_at: datetime
    current: DatasetVersion | None  # highest non-purged version; None when all are purged

    def to_dict(self, *, sizes: bool = False) -> dict[str, Any]:
        """The dataset; ``sizes`` as in :meth:`DatasetVersion.to_dict` (owner org only)."""
        current = None if self.current is None else self.current.to_dict(sizes=sizes)
        return {
            "id": self.id,
            "collaboration_id": self.collaboration_id,
            "name": self.name,
            "owner_org": self.owner_org,
            "kind": self.kind,
            "spec": dict(self.spec),
            "created_at": _iso(self.created_at),
            "current_version": current,
        }


@dataclass(frozen=True)
class TemplateApproval:
    """One approver of a template version and its decision (None: not decided yet).

    ``capacity`` is ``retailer`` (the retailer admin reviews the whole template) or ``data_owner``
    (an org whose personal datasets, ``datasets``, the template reads)."""

    org: str
    capacity: str  # "retailer" | "data_owner"
    datasets: tuple[str, ...]
    decision: str | None = None  # "approved" | "rejected" | None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "as": self.capacity,
            "datasets": list(self.datasets),
            "decision": self.decision,
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Template:
    id: str  # one id per (name, version): approving, running and revoking act on exactly it
    collaboration_id: str
    name: str
    version: int
    org: str
    submitted_by: str
    sql: str
    parameters: tuple[Mapping[str, Any], ...]  # ParamSpec.to_dict() each
    purpose: str
    bounds: Mapping[str, Any]  # header bounds
    status: str  # pending | approved | rejected | revoked
    pin: str  # normalized-AST hash; a run re-checks it
    analysis: Mapping[str, Any]
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    # Every approver the version needs, with its decision (the retailer first). Empty only for
    # records built by hand; the store always fills it.
    approvals: tuple[TemplateApproval, ...] = ()

    @property
    def awaiting_approval(self) -> tuple[str, ...]:
        """Orgs whose approval a pending version still needs."""
        if self.status != "pending":
            return ()
        return tuple(a.org for a in self.approvals if a.decision is None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "collaboration_id": self.collaboration_id,
            "name": self.name,
            "version": self.version,
            "org": self.org,
            "submitted_by": self.submitted_by,
            "sql": self.sql,
            "parameters": [dict(p) for p in self.parameters],
            "purpose": self.purpose,
            "bounds": dict(self.bounds),
            "status": self.status,
            "pin": self.pin,
            "analysis": dict(self.analysis),
            "reason": self.reason,
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
            "created_at": _iso(self.created_at),
            "approvals": [a.to_dict() for a in self.approvals],
            "awaiting_approval": list(self.awaiting_approval),
        }


@dataclass(frozen=True)
class Run:
    id: str
    collaboration_id: str
    template_id: str
    template_version: int
    org: str
    submitted_by: str
    parameters: Mapping[str, Any]
    epsilon: float
    delta: float
    status: str  # queued | running | succeeded | failed
    progress: float  # 0..1
    error_code: str | None
    error_message: str | None  # safe text only, never engine output
    idempotency_key: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    claimed_by: str | None
    heartbeat_at: datetime | None
    # The run request's per-output weights (how its loss is divided; not the guarantee).
    weights: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "collaboration_id": self.collaboration_id,
            "template_id": self.template_id,
            "template_version": self.template_version,
            "org": self.org,
            "submitted_by": self.submitted_by,
            "parameters": dict(self.parameters),
            "privacy_loss": {"epsilon": self.epsilon, "delta": self.delta},
            "status": self.status,
            "progress": self.progress,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }
        if self.error_code is not None:
            out["error"] = {"code": self.error_code, "message": self.error_message}
        if self.weights:
            out["weights"] = dict(self.weights)
        return out


@dataclass(frozen=True)
class RunCreation:
    """Result of creating a run: ``created`` is False when an idempotency key matched."""

    run: Run
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run.to_dict(), "created": self.created}


@dataclass(frozen=True)
class Report:
    run_id: str
    body: str  # the report JSON text exactly as stored (noise drawn once, never re-drawn)
    created_at: datetime

    def data(self) -> dict[str, Any]:
        """The parsed report body."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def to_dict(self) -> dict[str, Any]:
        return self.data()


@dataclass(frozen=True)
class BudgetLine:
    """One partner org's budget in one collaboration (in the current refresh period)."""

    collaboration_id: str
    org: str
    total_epsilon: float
    total_delta: float
    spent_epsilon: float
    spent_delta: float

    @property
    def remaining_epsilon(self) -> float:
        return remaining(self.spent_epsilon, self.total_epsilon)

    @property
    def remaining_delta(self) -> float:
        return remaining(self.spent_delta, self.total_delta)

    def can_afford(self, epsilon: float, delta: float) -> bool:
        """Would a charge of (epsilon, delta) fit now (cleanroom.budget.fits, both coordinates)?"""
        return fits(epsilon, spent=self.spent_epsilon, total=self.total_epsilon) and fits(
            delta, spent=self.spent_delta, total=self.total_delta
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "total": {"epsilon": self.total_epsilon, "delta": self.total_delta},
            "spent": {"epsilon": self.spent_epsilon, "delta": self.spent_delta},
            "remaining": {"epsilon": self.remaining_epsilon, "delta": self.remaining_delta},
        }


@dataclass(frozen=True)
class AuditRecord:
    collaboration_id: str
    seq: int  # 1..n per collaboration, no gaps
    name: str
    actor: str
    org: str
    details: Mapping[str, Any]
    created_at: datetime
    prev_hash: str
    hash: str
    # The commitment to actor and details (``store.audit``); both None for records written
    # before migration 0003, whose hash covers the clear actor and details.
    salt: str | None = None
    digest: str | None = None
    # Set per reader by ``services.audit``, never stored or hashed. ``withheld``: the actor,
    # details and salt are not for this reader (``cleanroom.visibility``); the record keeps its
    # position, hashes, digest, name, org and time. ``redacted``: detail keys held back from this
    # reader (only events written before those keys were kept out of the log), so the record's
    # own hash cannot be recomputed from what the reader sees. ``restricted``: facts about the
    # event that only some members may see, read from the records they describe.
    withheld: bool = False
    redacted: tuple[str, ...] = ()
    restricted: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "collaboration_id": self.collaboration_id,
            "seq": self.seq,
            "name": self.name,
            "org": self.org,
            "created_at": _iso(self.created_at),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "digest": self.digest,
        }
        if self.withheld:
            out["withheld"] = True
            return out
        out["actor"] = self.actor
        out["details"] = dict(self.details)
        out["salt"] = self.salt
        if self.redacted:
            out["redacted"] = list(self.redacted)
        if self.restricted is not None:
            out["restricted"] = dict(self.restricted)
        return out


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    events: int
    first_broken_seq: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "first_broken_seq": self.first_broken_seq}
