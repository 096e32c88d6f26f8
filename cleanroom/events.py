"""Audit events: one dataclass per event name, with typed payload fields and a docstring.

Every state change and every data access becomes one event in the collaboration's hash-chained
audit log (``store``). A payload class names its event (``NAME``); its fields are the details the
caller knows, ``by(actor, org)`` makes the :class:`AuditEvent` the store appends, and the store
merges the facts it decided itself (new ids, versions, counts, privacy loss), listed per event in
``STORE_FACTS``. Details hold only metadata, never data values or identifiers.

A class also says who may read its events: ``ABOUT`` names the resource the event is about
(a row of ``cleanroom.visibility.RESOURCES``: the event is seen as that resource is), ``OWNER``
how the owning org is found (:data:`EVENT_ORG` by default) and ``FIGURES`` the exact figures that
events written by earlier versions kept in their details. ``cleanroom.visibility.AUDIT_EVENTS``
is derived from these, so an event's name, payload and visibility have one home.

Adding an event is one class here decorated with :func:`event`; docs/api.md lists every event
with its fields (checked by tests/test_audit_events.py) and docs/concepts.md who sees it.

>>> e = TemplateApproved(template_id="t1", name="reach", version=2).by("alice", "retailer")
>>> e.to_dict()["name"], e.to_dict()["details"]["template_id"]
('template.approved', 't1')
>>> AuditEvent("template.approved", "alice", "retailer", {"template_id": "t1"}).name
'template.approved'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar, dataclass_transform

P = TypeVar("P", bound="Payload")

# How an audit event's owning org is found: the event's own ``org`` (the org that acted), or the
# org of the template / run its details name (a retailer's decision on a partner's template, a
# retailer's download of a partner's report belong to that partner) ...
EVENT_ORG, TEMPLATE_ORG, RUN_ORG = "event_org", "template_org", "run_org"
# ... or the partner its details name (``partner_org``): a retailer's change to one partner's
# membership or budget belongs to that partner.
PARTNER_ORG = "partner_org"
OWNER_RULES = (EVENT_ORG, TEMPLATE_ORG, RUN_ORG, PARTNER_ORG)
# The actor of events the system writes itself (retention purges, a partner's data purged on
# removal, failed or recovered runs, fairness flags).
SYSTEM_ACTOR = "system"

EVENTS: dict[str, type[Payload]] = {}


@dataclass_transform(frozen_default=True)
def event(cls: type[P]) -> type[P]:
    """Make ``cls`` a frozen dataclass and add it to :data:`EVENTS` under its ``NAME``."""
    if cls.NAME in EVENTS:
        raise ValueError(f"audit event {cls.NAME!r} is registered twice")
    if not isinstance(cls.__dict__.get("ABOUT"), str):
        raise TypeError(f"audit event {cls.NAME!r} must say which resource it is ABOUT")
    if cls.OWNER not in OWNER_RULES:
        raise TypeError(f"audit event {cls.NAME!r} has an unknown OWNER rule {cls.OWNER!r}")
    made = dataclass(frozen=True)(cls)
    EVENTS[made.NAME] = made
    return made


@dataclass(frozen=True)
class Payload:
    """The details of one kind of event. Optional fields (default None) left None are omitted."""

    NAME: ClassVar[str]
    ABOUT: ClassVar[str]  # the resource the event is about (its visibility follows it)
    OWNER: ClassVar[str] = EVENT_ORG  # how the owning org is found (:data:`OWNER_RULES`)
    FIGURES: ClassVar[tuple[str, ...]] = ()  # exact figures in details of earlier versions
    STORE_FACTS: ClassVar[tuple[str, ...]] = ()

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue
            out[f.name] = value
        return out

    def by(self, actor: str, org: str) -> AuditEvent:
        """The event as ``actor`` of ``org`` did it, ready for the store."""
        return AuditEvent(self.NAME, actor, org, self.details())

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def required(cls) -> frozenset[str]:
        return frozenset(
            f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        )


@event
class CollaborationCreated(Payload):
    """The retailer admin created a collaboration with its first partners."""

    NAME = "collaboration.created"
    ABOUT = "collaboration"
    STORE_FACTS = ("collaboration_id",)
    name: str
    partner_orgs: list[str]


@event
class CollaborationUpdated(Payload):
    """The collaboration's policy or dates were amended (``changes``), naming the changes that
    loosen it and whether loosening was allowed."""

    NAME = "collaboration.updated"
    ABOUT = "collaboration"
    STORE_FACTS = ("revision",)
    changes: list[dict[str, Any]]
    loosening: list[str]
    allow_loosening: bool
    reason: str | None = None


@event
class PartnerAdded(Payload):
    """A partner org joined the collaboration (or rejoined it)."""

    NAME = "partner.added"
    ABOUT = "membership"
    OWNER = PARTNER_ORG
    STORE_FACTS = ("partner_org", "rejoined")
    reason: str | None = None


@event
class PartnerRemoved(Payload):
    """A partner's membership ended; ``purge_data`` says whether its datasets go too."""

    NAME = "partner.removed"
    ABOUT = "membership"
    OWNER = PARTNER_ORG
    STORE_FACTS = ("partner_org",)
    purge_data: bool
    reason: str | None = None


@event
class DatasetRegistered(Payload):
    """A dataset (or a new version of it) was ingested and stored. Events written by earlier
    versions also hold the figure ``rows``."""

    NAME = "dataset.registered"
    ABOUT = "dataset"
    FIGURES = ("rows",)
    STORE_FACTS = ("dataset_id", "name", "version")
    name: str
    kind: str


@event
class DatasetDeleted(Payload):
    """A dataset and all its versions were deleted by its owner, or purged (``cause``, e.g.
    ``partner.removed``) by the system."""

    NAME = "dataset.deleted"
    ABOUT = "dataset"
    STORE_FACTS = ("dataset_id", "versions")
    name: str
    cause: str | None = None


@event
class DatasetExpired(Payload):
    """A dataset version passed its retention and its file was deleted."""

    NAME = "dataset.expired"
    ABOUT = "dataset"
    name: str
    version: int


@event
class SuppressionAdded(Payload):
    """Identifiers were added to the suppression list (counts only, never identifiers)."""

    NAME = "suppression.added"
    ABOUT = "suppression_list"
    STORE_FACTS = ("added", "submitted")
    received: int


@event
class SuppressionRemoved(Payload):
    """Identifiers were removed from the suppression list (people who opted back in)."""

    NAME = "suppression.removed"
    ABOUT = "suppression_list"
    STORE_FACTS = ("removed", "submitted")
    received: int


@event
class TemplateSubmitted(Payload):
    """An advertiser submitted a template (or a new version of it) for approval."""

    NAME = "template.submitted"
    ABOUT = "template"
    STORE_FACTS = ("template_id", "name", "version")
    name: str


_DECISION_FACTS = ("template_id", "name", "version", "approver_org", "approved_as", "status",
                   "awaiting")  # fmt: skip


@event
class TemplateApproved(Payload):
    """An approver (the retailer, or an owner org of a dataset it reads) approved a template
    version; ``status`` says whether it is now approved or still ``awaiting`` others."""

    NAME = "template.approved"
    ABOUT = "template"
    OWNER = TEMPLATE_ORG
    STORE_FACTS = _DECISION_FACTS
    template_id: str
    name: str
    version: int


@event
class TemplateRejected(Payload):
    """An approver rejected a template version."""

    NAME = "template.rejected"
    ABOUT = "template"
    OWNER = TEMPLATE_ORG
    STORE_FACTS = _DECISION_FACTS
    template_id: str
    name: str
    version: int


@event
class TemplateRevoked(Payload):
    """The retailer admin revoked an approved template version: no new runs of it."""

    NAME = "template.revoked"
    ABOUT = "template"
    OWNER = TEMPLATE_ORG
    STORE_FACTS = ("template_id", "name", "version")
    template_id: str
    name: str
    version: int


@event
class RunPreviewed(Payload):
    """Reserved: a run's preview (no data read). Not written by this version."""

    NAME = "run.previewed"
    ABOUT = "run"


@event
class RunCreated(Payload):
    """A run was queued and its privacy loss charged (in the same transaction as
    ``budget.charged``)."""

    NAME = "run.created"
    ABOUT = "run"
    STORE_FACTS = ("run_id", "template_id", "template_version", "epsilon", "delta")
    template_id: str
    epsilon: float
    delta: float


@event
class RunStarted(Payload):
    """Reserved: a worker started a run. Not written by this version."""

    NAME = "run.started"
    ABOUT = "run"


@event
class RunSucceeded(Payload):
    """A run finished and its report was stored."""

    NAME = "run.succeeded"
    ABOUT = "run"
    STORE_FACTS = ("run_id",)
    run_id: str


@event
class RunFailed(Payload):
    """A run failed; the cause is in the run (for who may read it) and the server log. Events
    written by earlier versions also hold ``code`` and ``error_code``."""

    NAME = "run.failed"
    ABOUT = "run"
    STORE_FACTS = ("run_id",)
    run_id: str


@event
class RunCancelled(Payload):
    """A run was cancelled before it finished."""

    NAME = "run.cancelled"
    ABOUT = "run"
    STORE_FACTS = ("run_id",)
    run_id: str


@event
class RunFlaggedForReview(Payload):
    """A fairness analysis found groups whose rate is below the policy's ratio: a human should
    review the campaign (``groups`` names them)."""

    NAME = "run.flagged_for_review"
    ABOUT = "run"
    run_id: str
    template_id: str
    groups: list[str]


@event
class ReportDownloaded(Payload):
    """A member read a run's report."""

    NAME = "report.downloaded"
    ABOUT = "report"
    OWNER = RUN_ORG
    run_id: str


@event
class BudgetCharged(Payload):
    """A run's privacy loss was charged to its org's budget line."""

    NAME = "budget.charged"
    ABOUT = "budget_line"
    STORE_FACTS = ("run_id", "template_id", "template_version", "epsilon", "delta")
    epsilon: float
    delta: float


@event
class BudgetRaised(Payload):
    """The retailer admin raised a partner's budget totals."""

    NAME = "budget.raised"
    ABOUT = "budget_line"
    OWNER = PARTNER_ORG
    STORE_FACTS = ("partner_org", "previous_total", "total")
    reason: str | None = None


@event
class BudgetSet(Payload):
    """A new partner's budget totals were set when it was added (written with
    ``partner.added``)."""

    NAME = "budget.set"
    ABOUT = "budget_line"
    OWNER = PARTNER_ORG
    STORE_FACTS = ("partner_org", "rejoined")
    total: dict[str, float]


@event
class RequestRefused(Payload):
    """A member's request was refused for its role (``code``, e.g. ``forbidden``)."""

    NAME = "request.refused"
    ABOUT = "request"
    action: str
    code: str


EVENT_NAMES = frozenset(EVENTS)


@dataclass(frozen=True)
class AuditEvent:
    """One event as the store appends it. Build it with a payload's ``by(actor, org)`` (the
    plain constructor, which checks only that the name is registered, is for records written
    by earlier versions and for tests)."""

    name: str
    actor: str
    org: str
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.name not in EVENTS:
            raise ValueError(f"unknown audit event name {self.name!r}; this is a bug")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "actor": self.actor,
            "org": self.org,
            "details": dict(self.details),
        }
