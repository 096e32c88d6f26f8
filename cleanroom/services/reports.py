"""Report downloads as JSON, CSV or Parquet. The stored JSON is the report; the other formats are
renderings of it, so every download of a run shows the same numbers.

A stored report never changes, so each process keeps its renderings (bytes, per store, run and
format) in a bounded LRU: a repeated download costs the access checks and its audit event, not
a parse and a re-serialization. The checks and the audit event are never skipped.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cleanroom.errors import InvalidRequest
from cleanroom.events import AuditEvent
from cleanroom.services.access import authorize, check_allowed, require_visible
from cleanroom.services.context import Services
from cleanroom.services.runs import visible_run
from cleanroom.store import Run, Store
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


class RenderedReports:
    """A thread-safe LRU of rendered report bytes, bounded by their total size.

    >>> cache = RenderedReports(max_bytes=10)
    >>> cache.put(("r1", "csv"), b"123456")
    >>> cache.put(("r2", "csv"), b"789012")  # 12 bytes > 10: the least recently used goes
    >>> cache.get(("r1", "csv")) is None, cache.get(("r2", "csv"))
    (True, b'789012')
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: tuple[str, str], body: bytes) -> None:
        if len(body) > self.max_bytes // 4:
            return  # one huge report must not evict everything else
        with self._lock:
            old = self._items.pop(key, None)
            self._size += len(body) - (len(old) if old is not None else 0)
            self._items[key] = body
            while self._size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)


RENDERED_CACHE_BYTES = 64 * 1024 * 1024  # per process and store
# Keyed by the store object, so two stores (tests, embedding code) never share renderings.
_rendered: weakref.WeakKeyDictionary[Store, RenderedReports] = weakref.WeakKeyDictionary()
_rendered_lock = threading.Lock()


def _renderings(store: Store) -> RenderedReports:
    cache = _rendered.get(store)
    if cache is None:
        with _rendered_lock:
            cache = _rendered.setdefault(store, RenderedReports(RENDERED_CACHE_BYTES))
    return cache


def _readable_run(svc: Services, who: Principal, collaboration_id: str, run_id: str) -> Run:
    """``report.read`` then what reading the run needs (``run.read``, visibility), with one
    read of the collaboration."""
    collab = authorize(svc, who, collaboration_id, "report.read")
    check_allowed(svc, who, collab, "run.read")
    run = visible_run(svc, who, collab, run_id)
    require_visible(who, collab, "report", run.org, "run")
    return run


def _audit_download(svc: Services, who: Principal, run: Run) -> None:
    svc.store.append_audit(
        run.collaboration_id,
        AuditEvent("report.downloaded", who.sub, who.org, {"run_id": run.id}),
    )


def get_report(svc: Services, who: Principal, collaboration_id: str, run_id: str) -> dict[str, Any]:
    """The report document; ``409`` until the run succeeded. Every read is audited."""
    run = _readable_run(svc, who, collaboration_id, run_id)
    report = svc.store.get_report(run.id, collaboration_id=run.collaboration_id)
    _audit_download(svc, who, run)
    return report.data()


def download_report(
    svc: Services, who: Principal, collaboration_id: str, run_id: str, fmt: str
) -> Download:
    """The report rendered as ``fmt``; ``409`` until the run succeeded. Every download is
    audited, cached rendering or not."""
    if fmt not in FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}")
    run = _readable_run(svc, who, collaboration_id, run_id)
    cache = _renderings(svc.store)
    body = cache.get((run.id, fmt))
    if body is None:
        # Only a stored report is ever cached, so a hit implies the run succeeded.
        report = svc.store.get_report(run.id, collaboration_id=run.collaboration_id).data()
        body = render_report(report, fmt)
        cache.put((run.id, fmt), body)
    _audit_download(svc, who, run)
    return Download(body, FORMATS[fmt], f"report-{run_id}.{fmt}")


def render_report(report: dict[str, Any], fmt: str) -> bytes:
    """The bytes of one download format of a parsed report."""
    if fmt == "json":
        return json.dumps(report, sort_keys=True, indent=2).encode()
    if fmt == "csv":
        return report_csv(report).encode()
    return report_parquet(report)


def report_csv(report: dict[str, Any]) -> str:
    """The released rows, one header line; after the report's columns, ``<column>_lo`` and
    ``<column>_hi`` (the 95% interval) for each non-key column."""
    out = io.StringIO()
    columns = list(report["columns"])
    bounded = interval_columns(report)
    fields = columns + [f"{c}_{end}" for c in bounded for end in ("lo", "hi")]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row, cells in zip(report["rows"], row_intervals(report), strict=True):
        line = {c: row.get(c) for c in columns}
        for c in bounded:
            pair = cells.get(c)
            line[f"{c}_lo"], line[f"{c}_hi"] = (pair[0], pair[1]) if pair else (None, None)
        writer.writerow(line)
    return out.getvalue()


def interval_columns(report: dict[str, Any]) -> list[str]:
    """The report's non-key columns, which carry intervals, in column order."""
    accuracy = report.get("accuracy") or {}
    named: set[str] = set(accuracy.get("half_widths") or {})
    for cells in accuracy.get("row_half_widths") or []:
        named |= set(cells)
    return [c for c in report.get("columns") or [] if c in named]


def row_intervals(report: dict[str, Any]) -> list[dict[str, list[float] | None]]:
    """Per row, ``[lo, hi]`` per non-key column: the stored intervals, or (reports written before
    they were stored) the released value plus or minus its half-width."""
    accuracy = report.get("accuracy") or {}
    rows = report.get("rows") or []
    stored = accuracy.get("row_intervals")
    if stored is not None and len(stored) == len(rows):
        return [dict(r) for r in stored]
    widths = accuracy.get("row_half_widths") or [{} for _ in rows]
    out: list[dict[str, list[float] | None]] = []
    for row, cells in zip(rows, widths, strict=False):
        entry: dict[str, list[float] | None] = {}
        for column, width in cells.items():
            value = row.get(column)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            entry[column] = [value - width, value + width] if ok and width is not None else None
        out.append(entry)
    return out


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
