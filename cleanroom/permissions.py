"""Who may do what, as data. Checked in one place (``services.access``).

Membership is checked first (a principal outside the collaboration gets ``not_found``); then the
action's roles (``forbidden``). Some actions are further limited to the principal's own org
(datasets they own, runs their org started); that is noted per action and enforced by the service.

>>> "retailer_admin" in PERMISSIONS["template.approve"]
True
>>> allowed("advertiser", "template.approve")
False
"""

from __future__ import annotations

from types import MappingProxyType

_ALL = frozenset({"retailer_admin", "advertiser", "partner_viewer", "auditor"})
_MEMBERS_READ = frozenset({"retailer_admin", "advertiser", "partner_viewer"})

PERMISSIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "collaboration.create": frozenset({"retailer_admin"}),
        "collaboration.read": _ALL,
        "dataset.register": frozenset({"retailer_admin", "advertiser"}),  # own org's data
        "dataset.read": _MEMBERS_READ,
        "dataset.delete": frozenset({"retailer_admin", "advertiser"}),  # owner org only
        "suppression.add": frozenset({"retailer_admin"}),
        "template.submit": frozenset({"advertiser"}),
        "template.read": _MEMBERS_READ,
        "template.approve": frozenset({"retailer_admin"}),
        "template.reject": frozenset({"retailer_admin"}),
        "template.revoke": frozenset({"retailer_admin"}),
        "run.preview": frozenset({"advertiser"}),
        "run.create": frozenset({"advertiser"}),
        "run.read": frozenset({"retailer_admin", "advertiser", "partner_viewer"}),  # own org's runs
        "report.read": frozenset({"retailer_admin", "advertiser", "partner_viewer"}),  # own org's
        "budget.read": _MEMBERS_READ,  # partners see their own org's line only
        "audit.read": _ALL,
        "audit.verify": _ALL,
    }
)


def allowed(role: str, action: str) -> bool:
    """True when ``role`` may perform ``action`` (unknown actions are denied)."""
    return role in PERMISSIONS.get(action, frozenset())
