"""Who is calling (:class:`Principal`, one of the :data:`ROLE_TABLE` roles) and who may do what
(:data:`ACTIONS`), as data. Checked in one place (``services.access``).

Membership is checked first (a principal outside the collaboration gets ``not_found``); then the
role's place (a retailer role in the retailer org, a partner role in a partner org) and the
action's roles (``forbidden``). An action whose scope is :data:`OWN_ORG` reaches only objects of
the principal's own org: the use case checks the owner of what it loaded
(``services.access.require_scope``, or the visibility and approval rules it follows).
What of an object a member allowed to read it sees is the other table, ``cleanroom.visibility``.

>>> "retailer_admin" in PERMISSIONS["template.approve"]
True
>>> allowed("advertiser", "template.approve")
False
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

# Where an org stands in a collaboration (its membership role).
RETAILER_PLACE, PARTNER_PLACE = "retailer", "partner"
# How far an action reaches: every object of the collaboration the caller may see
# (``cleanroom.visibility`` narrows what that is), or only objects its own org owns.
COLLABORATION, OWN_ORG = "collaboration", "own_org"


@dataclass(frozen=True)
class Role:
    """A role a token carries: the membership its org must have and what it is for."""

    name: str
    places: tuple[str, ...]  # the org's membership role in the collaboration
    belongs_to: str
    may: str  # in words, for the docs


@dataclass(frozen=True)
class Action:
    """One thing a principal may ask for: the roles that may, what it does, and its scope."""

    name: str
    roles: frozenset[str]
    description: str
    scope: str = COLLABORATION  # OWN_ORG: only objects of the caller's own org


ROLE_TABLE: tuple[Role, ...] = (
    Role(
        "retailer_admin",
        (RETAILER_PLACE,),
        "the retailer org",
        "create collaborations and change them (policy, dates, partners, budgets), register the "
        "retailer's datasets, upload opt-outs, approve / reject / revoke templates, read "
        "everything in its collaborations",
    ),
    Role(
        "advertiser",
        (PARTNER_PLACE,),
        "a partner org",
        "register its own datasets (CRM list, spend), submit templates, approve / reject the use "
        "of its org's personal data by its org's templates, preview and run approved templates "
        "of its org, download its reports",
    ),
    Role(
        "partner_viewer",
        (PARTNER_PLACE,),
        "a partner org",
        "read and download its org's reports and budget",
    ),
    Role(
        "auditor",
        (RETAILER_PLACE, PARTNER_PLACE),
        "either",
        "read and verify the audit log, read templates and budgets (what its org may see, below)",
    ),
)
ROLES = tuple(r.name for r in ROLE_TABLE)
ROLE_PLACES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {r.name: r.places for r in ROLE_TABLE}
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: from a verified bearer token (web) or the local operator (cli)."""

    sub: str
    org: str
    role: str

    def to_dict(self) -> dict[str, str]:
        return {"sub": self.sub, "org": self.org, "role": self.role}


_ALL = frozenset(ROLES)
_MEMBERS_READ = frozenset({"retailer_admin", "advertiser", "partner_viewer"})
_ADMIN = frozenset({"retailer_admin"})
_ADVERTISER = frozenset({"advertiser"})
_OWNERS = frozenset({"retailer_admin", "advertiser"})

_ACTIONS = (
    Action("collaboration.create", _ADMIN, "create a collaboration with its first partners"),
    Action("collaboration.read", _ALL, "read a collaboration's terms and members"),
    Action("collaboration.update", _ADMIN, "amend the policy, start and end dates"),
    Action("partner.add", _ADMIN, "add a partner org (or let it rejoin)"),
    Action("partner.remove", _ADMIN, "end a partner's membership, optionally purging its data"),
    Action("dataset.register", _OWNERS, "register a dataset of its own org", OWN_ORG),
    Action("dataset.read", _MEMBERS_READ, "read datasets' specs and versions"),
    Action("dataset.delete", _OWNERS, "delete a dataset and all its versions", OWN_ORG),
    Action("suppression.add", _ADMIN, "add opt-outs to the suppression list"),
    Action("suppression.remove", _ADMIN, "remove opt-outs (people who opted back in)"),
    Action("suppression.count", _ADMIN, "read the suppression list's size, never identifiers"),
    Action("template.submit", _ADVERTISER, "submit a template (or a new version)"),
    Action("template.read", _ALL, "read templates (partners: their own org's)"),
    Action("template.approve", _ADMIN, "approve a template version as the retailer"),
    Action("template.reject", _ADMIN, "reject a template version as the retailer"),
    Action("template.revoke", _ADMIN, "revoke an approved version: no new runs of it"),
    Action(
        "template.approve_as_owner",
        _ADVERTISER,
        "approve the use of its org's personal data by a template",
        OWN_ORG,
    ),
    Action(
        "template.reject_as_owner",
        _ADVERTISER,
        "refuse the use of its org's personal data by a template",
        OWN_ORG,
    ),
    Action("run.preview", _ADVERTISER, "preview a run's cost and accuracy (reads no data)"),
    Action("run.create", _ADVERTISER, "start a run of its org's approved template"),
    Action("run.cancel", _OWNERS, "cancel a queued or running run (partners: their own org's)"),
    Action("run.read", _MEMBERS_READ, "read runs (partners: their own org's)"),
    Action("report.read", _MEMBERS_READ, "download reports (partners: their own org's)"),
    Action("budget.read", _ALL, "read budget lines (partners: their own org's)"),
    Action("budget.raise", _ADMIN, "raise a partner's budget totals"),
    # Exact figures of the reader's own org's data only (cleanroom.visibility, governance_kpi).
    Action("kpis.read", _ALL, "read governance KPIs of its own org's data", OWN_ORG),
    Action("kpis.suppression", _ADMIN, "read how many suppressed people matched datasets"),
    Action("audit.read", _ALL, "read the audit log (what its org may see of each event)"),
    Action("audit.verify", _ALL, "verify the audit log's hash chain"),
)
ACTIONS: MappingProxyType[str, Action] = MappingProxyType({a.name: a for a in _ACTIONS})
PERMISSIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {a.name: a.roles for a in _ACTIONS}
)


def allowed(role: str, action: str) -> bool:
    """True when ``role`` may perform ``action`` (unknown actions are denied)."""
    return role in PERMISSIONS.get(action, frozenset())


def markdown_roles() -> str:
    """The roles as Markdown (``docs/concepts.md`` holds exactly this; a test checks)."""
    lines = ["| role | belongs to | may |", "|---|---|---|"]
    lines += [f"| `{r.name}` | {r.belongs_to} | {r.may} |" for r in ROLE_TABLE]
    return "\n".join(lines)


def markdown_actions() -> str:
    """The action table as Markdown (in ``docs/concepts.md`` too)."""
    head = ["action", "what it does", *(f"`{r}`" for r in ROLES), "scope"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in _ACTIONS:
        marks = ["yes" if r in a.roles else "—" for r in ROLES]
        scope = "own org's objects" if a.scope == OWN_ORG else "the collaboration"
        lines.append("| " + " | ".join([f"`{a.name}`", a.description, *marks, scope]) + " |")
    return "\n".join(lines)
