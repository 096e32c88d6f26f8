"""Report downloads as JSON, CSV or Parquet. The stored JSON is the report; the other formats are
renderings of it, so every download of a run shows the same numbers."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cleanroom.errors import InvalidRequest
from cleanroom.events import AuditEvent
from cleanroom.services.access import authorize
from cleanroom.services.context import Services
from cleanroom.services.runs import get_run
from cleanroom.types import Principal

FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


@dataclass(frozen=True)
class Download:
    body: bytes
    media_type: str
    filename: str


def get_report(svc: Services, who: Principal, collaboration_id: str, run_id: str) -> dict[str, Any]:
    """The report document; ``409`` until the run succeeded. Every read is audited."""
    authorize(svc, who, collaboration_id, "report.read")
    run = get_run(svc, who, collaboration_id, run_id)
    report = svc.store.get_report(run.id, collaboration_id=run.collaboration_id)
    svc.store.append_audit(
        run.collaboration_id,
        AuditEvent("report.downloaded", who.sub, who.org, {"run_id": run.id}),
    )
    return report.data()


def download_report(
    svc: Services, who: Principal, collaboration_id: str, run_id: str, fmt: str
) -> Download:
    if fmt not in FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}")
    report = get_report(svc, who, collaboration_id, run_id)
    name = f"report-{run_id}.{fmt}"
    if fmt == "json":
        body = json.dumps(report, sort_keys=True, indent=2).encode()
    elif fmt == "csv":
        body = report_csv(report).encode()
    else:
        body = report_parquet(report)
    return Download(body, FORMATS[fmt], name)


def report_csv(report: dict[str, Any]) -> str:
    """The released rows, one header line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=report["columns"], lineterminator="\n")
    writer.writeheader()
    for row in report["rows"]:
        writer.writerow({c: row.get(c) for c in report["columns"]})
    return out.getvalue()


def report_table(report: dict[str, Any]) -> pa.Table:
    columns = report["columns"]
    data = {c: [row.get(c) for row in report["rows"]] for c in columns}
    table = pa.table(data) if report["rows"] else pa.table({c: pa.array([]) for c in columns})
    meta = {k: v for k, v in report.items() if k != "rows"}
    return table.replace_schema_metadata({"cleanroom.report": json.dumps(meta, sort_keys=True)})


def report_parquet(report: dict[str, Any]) -> bytes:
    """The rows as a Parquet table; the rest of the report in the file's key-value metadata."""
    sink = io.BytesIO()
    pq.write_table(report_table(report), sink)
    return sink.getvalue()
