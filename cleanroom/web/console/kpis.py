"""The KPIs page: one campaign's released KPIs (the ``kpis`` report) and the governance KPIs of
the signed-in org's own data, from the same use cases as ``/v1/.../kpis``."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from cleanroom.errors import NotFound
from cleanroom.services import collaborations, kpis
from cleanroom.web.console.blueprint import bp, can, page, svc, who
from cleanroom.web.console.session import signed_in

CAMPAIGN_RATIOS = ("conversion_rate", "aov", "repeat_rate", "value_90d_per_exposed")


@bp.get("/c/<cid>/kpis")
@signed_in
def kpis_page(cid: str) -> Response:
    """``campaign_id`` picks the campaign; without it only the governance KPIs are shown."""
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    campaign_id = request.args.get("campaign_id") or None
    report: dict[str, Any] | None = None
    missing = None
    if campaign_id is not None and can("report.read"):
        try:
            report = kpis.campaign_kpis(services, principal, cid, campaign_id)
        except NotFound as err:
            missing = err.detail
    governance = report["governance"] if report else kpis.governance_kpis(services, principal, cid)
    return page(
        "kpis.html", collab=collab, campaign_id=campaign_id, report=report, missing=missing,
        governance=governance, ratios=CAMPAIGN_RATIOS,
    )  # fmt: skip
