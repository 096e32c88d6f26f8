"""Who is calling (:class:`Principal`, one of :data:`ROLES`) and who may do what, as data.
Checked in one place (``services.access``).

Membership is checked first (a principal outside the collaboration gets ``not_found``); then the
action's roles (``forbidden``). Some actions are further limited to the principal's own org
(datasets they own, runs their org started); that is noted per action and enforced by the service.
What of an object a member allowed to read it sees is the other table, ``cleanroom.visibility``.

>>> "retailer_admin" in PERMISSIONS["template.approve"]
True
>>> allowed("advertiser", "template.approve")
False
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

ROLES = ("retailer_admin", "advertiser", "partner_viewer", "auditor")


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

PERMISSIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "collaboration.create": frozenset({"retailer_admin"}),
        "collaboration.read": _ALL,
        "collaboration.update": frozenset({"retailer_admin"}),  # policy, start and end dates
        "partner.add": frozenset({"retailer_admin"}),
        "partner.remove": frozenset({"retailer_admin"}),  # ends the membership
        "dataset.register": frozenset({"retailer_admin", "advertiser"}),  # own org's data
        "dataset.read": _MEMBERS_READ,
        "dataset.delete": frozenset({"retailer_admin", "advertiser"}),  # owner org only
        "suppression.add": frozenset({"retailer_admin"}),
        "suppression.remove": frozenset({"retailer_admin"}),
        "suppression.count": frozenset({"retailer_admin"}),  # its size; never the identifiers
        "template.submit": frozenset({"advertiser"}),
        "template.read": _ALL,  # partners: their own org's only (cleanroom.visibility)
        "template.approve": frozenset({"retailer_admin"}),
        "template.reject": frozenset({"retailer_admin"}),
        "template.revoke": frozenset({"retailer_admin"}),
        # An owner org of a personal dataset the template reads approves (or refuses) its use.
        "template.approve_as_owner": frozenset({"advertiser"}),
        "template.reject_as_owner": frozenset({"advertiser"}),
        "run.preview": frozenset({"advertiser"}),
        "run.create": frozenset({"advertiser"}),
        "run.cancel": frozenset({"retailer_admin", "advertiser"}),  # own org's runs; admin: any
        "run.read": frozenset({"retailer_admin", "advertiser", "partner_viewer"}),  # own org's runs
        "report.read": frozenset({"retailer_admin", "advertiser", "partner_viewer"}),  # own org's
        "budget.read": _ALL,  # partners see their own org's line only (cleanroom.visibility)
        "budget.raise": frozenset({"retailer_admin"}),
        # Governance KPIs (opt-in rates, suppression matches, consent-removed rows): exact figures
        # of the reader's own org's data only (cleanroom.visibility, ``governance_kpi``).
        "kpis.read": _ALL,
        "kpis.suppression": frozenset({"retailer_admin"}),  # the suppression list's matches
        "audit.read": _ALL,
        "audit.verify": _ALL,
    }
)


def allowed(role: str, action: str) -> bool:
    """True when ``role`` may perform ``action`` (unknown actions are denied)."""
    return role in PERMISSIONS.get(action, frozenset())
