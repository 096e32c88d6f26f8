"""``/v1/collaborations/<cid>/runs/<rid>/report``: a run's report as JSON, CSV or Parquet."""

from __future__ import annotations

from flask import Blueprint, Response, request

from cleanroom.services import reports
from cleanroom.services.context import Services
from cleanroom.web.api.fragments import PRIVACY_LOSS, record
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import ResponseDoc, route
from cleanroom.web.state import current_services

bp = Blueprint("reports", __name__)

REPORT = record(
    "Report",
    ["run_id", "template", "parameters", "privacy_loss", "columns", "rows", "accuracy"],
    {
        "run_id": {"type": "string"},
        "template": {
            "type": "object",
            "required": ["id", "name", "version"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "version": {"type": "integer"},
            },
        },
        "parameters": {"type": "object"},
        "privacy_loss": PRIVACY_LOSS,
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "object"}},
        "accuracy": {"type": "object"},
        "mechanisms": {"type": "array", "items": {"type": "object"}},
        "partition_selection": {"type": "object"},
        "min_users_per_row": {"type": "integer"},
        "datasets": {"type": "array", "items": {"type": "object"}},
        "created_at": {"type": "string", "format": "date-time"},
    },
    "The report (docs/specs.md, Report). CSV is its rows; Parquet the same table with the rest of "
    "the report as JSON under the key-value metadata key 'cleanroom.report'.",
)
FORMAT_PARAMETER = {
    "name": "format",
    "in": "query",
    "required": False,
    "description": "json (default), csv or parquet.",
    "schema": {"type": "string", "enum": list(reports.FORMATS)},
}


@route(
    bp,
    "/collaborations/<cid>/runs/<rid>/report",
    summary="Download a run's report",
    query=[FORMAT_PARAMETER],
    responses={
        200: ResponseDoc(
            "The report, as an attachment.",
            REPORT,
            alternatives={
                "text/csv": {"type": "string"},
                "application/vnd.apache.parquet": {"type": "string", "format": "binary"},
            },
            headers={"Content-Disposition": "attachment; filename=report-<run id>.<format>"},
        )
    },
    errors=[403, 404, 409],
)
def download_report(cid: str, rid: str) -> Response:
    """``409 conflict`` until the run succeeded. Every download is an audit event."""
    fmt = request.args.get("format", "json")
    svc, who = current_services(Services), current_principal()
    download = reports.download_report(svc, who, cid, rid, fmt)
    response = Response(download.body, content_type=download.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response
