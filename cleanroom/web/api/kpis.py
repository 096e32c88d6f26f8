"""``/v1/collaborations/<cid>/kpis``: the ``kpis`` report of one campaign and the governance KPIs
(opt-in rates, suppression matches, rows a run's filters removed), exact for the data's owner
org only (``services.kpis``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from cleanroom.services import kpis
from cleanroom.services.context import Services
from cleanroom.web.api.fragments import record
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import ResponseDoc, route
from cleanroom.web.state import current_services

bp = Blueprint("kpis", __name__)

_RATE = {"type": ["number", "null"], "description": "part / whole; null when whole is 0"}
OPT_IN = record(
    "OptInRate",
    ["dataset", "version", "purpose", "consent_column", "rows", "rows_opted_in", "people",
     "people_opted_in"],
    {
        "dataset": {"type": "string"},
        "version": {"type": "integer"},
        "purpose": {"type": "string", "description": "The purpose the consent column grants."},
        "consent_column": {"type": "string"},
        "rows": {"type": "integer"},
        "rows_opted_in": {"type": "integer", "description": "Rows whose flag is true."},
        "row_rate": _RATE,
        "people": {"type": "integer"},
        "people_opted_in": {
            "type": "integer",
            "description": "People with at least one row whose flag is true.",
        },
        "people_rate": _RATE,
    },
    "One dataset's opt-in rate for one purpose (exact; the owner org's own dataset).",
)  # fmt: skip
SUPPRESSION_MATCH = record(
    "SuppressionMatch",
    ["dataset", "version", "people", "suppressed_people", "suppressed_rows"],
    {
        "dataset": {"type": "string"},
        "version": {"type": "integer"},
        "people": {"type": "integer"},
        "suppressed_people": {
            "type": "integer",
            "description": "People of the suppression list found in the dataset.",
        },
        "suppressed_rows": {"type": "integer", "description": "Their rows: left out of runs."},
    },
)
RUN_FILTER = record(
    "RunFilter",
    ["dataset", "version", "rows", "rows_removed_by_consent"],
    {
        "dataset": {"type": "string"},
        "version": {"type": "integer"},
        "rows": {"type": "integer"},
        "consent_column": {"type": ["string", "null"]},
        "rows_removed_by_consent": {"type": "integer"},
        "rows_removed_by_suppression": {
            "type": "integer",
            "description": "Retailer admin only.",
        },
    },
    "What a run's filters removed from one dataset the caller's org owns (exact).",
)
GOVERNANCE = record(
    "GovernanceKpis",
    ["org", "exact", "opt_in"],
    {
        "org": {"type": "string", "description": "Whose data is counted: the caller's org."},
        "exact": {"type": "boolean"},
        "opt_in": {"type": "array", "items": OPT_IN},
        "suppression": {
            "type": "object",
            "description": "Retailer admin only: the list's size and its matches against the "
            "retailer's own datasets.",
            "properties": {
                "listed": {"type": "integer"},
                "datasets": {"type": "array", "items": SUPPRESSION_MATCH},
            },
        },
        "run_filters": {"type": "array", "items": RUN_FILTER},
    },
    "Exact governance KPIs of the caller's own org's data; other orgs' are never offered.",
)
RUN_FILTERS = record(
    "RunFilters",
    ["run_id", "purpose", "datasets"],
    {
        "run_id": {"type": "string"},
        "purpose": {"type": "string"},
        "datasets": {"type": "array", "items": RUN_FILTER},
    },
)
_CELL = {
    "type": "object",
    "required": ["value"],
    "properties": {
        "value": {},
        "interval": {
            "type": ["array", "null"],
            "items": {"type": "number"},
            "description": "The released 95% interval [lo, hi] (null: not estimable).",
        },
    },
}
_CELLS = {"type": "object", "additionalProperties": _CELL}
_SOURCE = {
    "type": "object",
    "description": "The run the values were released by.",
    "properties": {
        "run_id": {"type": "string"},
        "org": {"type": "string"},
        "template_version": {"type": "integer"},
        "parameters": {"type": "object"},
        "privacy_loss": {"type": "object"},
        "created_at": {"type": ["string", "null"]},
    },
}
CAMPAIGN_KPIS = record(
    "CampaignKpis",
    ["collaboration_id", "campaign_id", "campaign", "governance"],
    {
        "collaboration_id": {"type": "string"},
        "campaign_id": {"type": "string"},
        "campaign": {
            "type": "object",
            "properties": {"source": _SOURCE, "values": _CELLS},
            "description": "The campaign's row of the latest succeeded campaign_kpis report.",
        },
        "match_rate": {
            "type": "object",
            "properties": {"source": _SOURCE, "rows": {"type": "array", "items": _CELLS}},
            "description": "The latest succeeded match_rate report, when there is one.",
        },
        "opt_in_rate": {
            "type": "object",
            "properties": {"source": _SOURCE, "opt_in": {"type": "object"}},
            "description": "The opt-in rates of the latest succeeded opt_in_rate report (its "
            "report's opt_in member: differentially private, with 95% intervals), when there is "
            "one.",
        },
        "governance": GOVERNANCE,
    },
)
CAMPAIGN_PARAMETER = {
    "name": "campaign_id",
    "in": "query",
    "required": True,
    "description": "The campaign whose KPIs to gather.",
    "schema": {"type": "string", "minLength": 1},
}


@route(
    bp,
    "/collaborations/<cid>/kpis",
    summary="KPIs of one campaign",
    description="The campaign's row of the latest succeeded `campaign_kpis` report the caller "
    "may read (values and 95% intervals as released), the latest `match_rate` and `opt_in_rate` "
    "reports, and the "
    "governance KPIs of the caller's own org's data (exact). Reads only released reports and "
    "the caller's own metadata; costs no budget. Each report read is audited.",
    query=[CAMPAIGN_PARAMETER],
    responses={200: ResponseDoc("The campaign's KPIs.", CAMPAIGN_KPIS)},
    errors=[400, 403, 404],
)
def campaign_kpis(cid: str) -> dict[str, Any]:
    """The ``kpis`` report of one campaign."""
    svc, who = current_services(Services), current_principal()
    return kpis.campaign_kpis(svc, who, cid, request.args.get("campaign_id"))


@route(
    bp,
    "/collaborations/<cid>/kpis/governance",
    summary="Governance KPIs",
    description="Opt-in rate per dataset and purpose of the caller's own org's datasets, and "
    "for the retailer admin the suppression list's matches against the retailer's datasets. "
    "Exact counts over the stored files, for the data's owner only: no org is offered another "
    "org's figures (there is no DP variant, so nothing is charged).",
    responses={200: ResponseDoc("The caller's governance KPIs.", GOVERNANCE)},
    errors=[403, 404],
)
def governance_kpis(cid: str) -> dict[str, Any]:
    """Opt-in rates and suppression matches of the caller's own data."""
    return kpis.governance_kpis(current_services(Services), current_principal(), cid)


@route(
    bp,
    "/collaborations/<cid>/runs/<rid>/kpis",
    summary="What a run's filters removed",
    description="For each dataset the run read that the caller's org owns: rows its consent "
    "filter removed (and, for the retailer admin, rows of suppressed people). Exact; `409` "
    "until the run succeeded.",
    responses={200: ResponseDoc("Rows removed per dataset.", RUN_FILTERS)},
    errors=[403, 404, 409],
)
def run_filter_kpis(cid: str, rid: str) -> dict[str, Any]:
    """Rows a run's consent (and suppression) filters removed from the caller's own data."""
    return kpis.run_filter_kpis(current_services(Services), current_principal(), cid, rid)
