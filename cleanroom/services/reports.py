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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cleanroom.errors import InvalidRequest
from cleanroom.events import ReportDownloaded
from cleanroom.report_rows import flat_rows
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

    >>> cache = RenderedReports(max_bytes=12)  # one body may take at most a quarter: 3 bytes
    >>> for n in range(5):  # 15 bytes > 12: the least recently used goes
    ...     cache.put((f"r{n}", "csv"), b"abc")
    >>> cache.get(("r0", "csv")) is None, cache.get(("r4", "csv"))
    (True, b'abc')
    >>> cache.put(("big", "csv"), b"abcd"); cache.get(("big", "csv")) is None
    True
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
        ReportDownloaded(run_id=run.id).by(who.sub, who.org),
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


@dataclass(frozen=True)
class ReportLayout:
    """Which of a report's columns are group keys and which released outputs, and each row's
    95% half-widths (output -> half-width, None where an output has no finite interval)."""

    key_columns: tuple[str, ...]
    value_columns: tuple[str, ...]
    row_half_widths: tuple[Mapping[str, Any], ...]


def report_layout(report: Mapping[str, Any]) -> ReportLayout:
    """The layout of a parsed report (one home for the CLI demo and the web console).

    >>> layout = report_layout({"columns": ["campaign_id", "buyers"],
    ...     "rows": [{"campaign_id": "c1", "buyers": 104.0}],
    ...     "accuracy": {"row_half_widths": [{"buyers": 8.0}]}})
    >>> layout.key_columns, layout.value_columns, layout.row_half_widths[0]["buyers"]
    (('campaign_id',), ('buyers',), 8.0)
    """
    columns = list(report.get("columns") or [])
    rows = list(report.get("rows") or [])
    widths = _row_half_widths(report)
    measured = _measured_columns(columns, rows, widths, report)
    return ReportLayout(
        tuple(c for c in columns if c not in measured),
        tuple(c for c in columns if c in measured),
        tuple(widths),
    )


def _row_half_widths(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    accuracy = report.get("accuracy") or {}
    rows = accuracy.get("row_half_widths")
    if isinstance(rows, list) and len(rows) == len(report.get("rows") or []):
        return rows
    # Older reports: one half-width per measured column, the same for every row.
    flat = accuracy.get("half_widths") or {}
    return [flat for _ in report.get("rows") or []]


def _measured_columns(
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    widths: Sequence[Mapping[str, Any]],
    report: Mapping[str, Any],
) -> set[str]:
    """The non-key outputs: those with an interval somewhere, or numbers without any (an
    unbounded derived output). A column listed without any interval whose values are text is a
    group key."""
    flat = set((report.get("accuracy") or {}).get("half_widths") or {})
    measured = set(flat)
    for column in columns:
        listed = [w[column] for w in widths if column in w]
        if not listed:
            continue
        textual = any(isinstance(r.get(column), str) for r in rows)
        if any(v is not None for v in listed) or not textual:
            measured.add(column)
    return measured


def render_report(report: dict[str, Any], fmt: str) -> bytes:
    """The bytes of one download format of a parsed report."""
    if fmt == "json":
        return json.dumps(report, sort_keys=True, indent=2).encode()
    if fmt == "csv":
        return report_csv(report).encode()
    return report_parquet(report)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (the OWASP CSV injection rule): text
    starting with ``= + - @``, a tab or a carriage return gets a leading ``'``. Numbers stay as
    they are (a negative noisy count is not a formula); JSON and Parquet keep the value.

    >>> [spreadsheet_safe(v) for v in ("=cmd|' /C calc'!A0", "@SUM(A1)", "acme", -3)]
    ["'=cmd|' /C calc'!A0", "'@SUM(A1)", 'acme', -3]
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def report_csv(report: dict[str, Any]) -> str:
    """The released rows, one header line; after the report's columns, ``<column>_lo`` and
    ``<column>_hi`` (the 95% interval) for each non-key column (:func:`cleanroom.report_rows.
    flat_rows`); text cells through :func:`spreadsheet_safe`."""
    out = io.StringIO()
    fields, rows = flat_rows(report)
    # CRLF (RFC 4180): the writer then quotes any cell holding a CR or LF, so no value can
    # break a row in two.
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
    writer.writerow({c: spreadsheet_safe(c) for c in fields})
    for row in rows:
        writer.writerow({c: spreadsheet_safe(v) for c, v in row.items()})
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


@dataclass(frozen=True)
class OutputExplanation:
    column: str
    kind: str  # group_key | measurement | derived | exact
    text: str
    inputs: tuple[tuple[str, str], ...]  # a derived output's noisy inputs: (measurement, text)


@dataclass(frozen=True)
class ReportExplanations:
    """A report's ``explanations`` member, ready for a renderer (the CLI's ``report explain``, the
    console's report page): per output its text, per flagged cell its notes in words."""

    available: bool  # False: a report written before explanations were recorded
    release: str
    outputs: tuple[OutputExplanation, ...]
    cells: Mapping[tuple[int, str], tuple[str, ...]]  # (row index, column) -> note texts


def report_explanations(report: Mapping[str, Any]) -> ReportExplanations:
    """The explanations of a parsed report (docs/specs.md, Report: ``explanations``).

    >>> ex = report_explanations({"columns": ["c", "n"], "explanations": {
    ...     "release": "All rows.", "measurements": {"n": {"text": "Counted."}},
    ...     "outputs": {"c": {"kind": "group_key", "reads": [], "text": "Key."},
    ...                 "n": {"kind": "measurement", "reads": ["n"], "text": "Counted."}},
    ...     "notes": {"clipped_to_zero": "set to 0"},
    ...     "cells": [{"row": 0, "column": "n", "note": "clipped_to_zero", "measurement": "n"}]}})
    >>> ex.outputs[1].text, ex.cells[0, "n"]
    ('Counted.', ('n: set to 0',))
    >>> report_explanations({"columns": ["c"]}).available
    False
    """
    member = report.get("explanations")
    if not isinstance(member, Mapping) or not member:
        return ReportExplanations(False, "", (), {})
    measurements = member.get("measurements") or {}
    described = member.get("outputs") or {}
    outputs = []
    for column in report.get("columns") or []:
        entry = described.get(column) or {}
        kind = str(entry.get("kind", ""))
        inputs: tuple[tuple[str, str], ...] = ()
        if kind == "derived":
            inputs = tuple(
                (m, str((measurements.get(m) or {}).get("text", "")))
                for m in entry.get("reads", [])
            )
        outputs.append(OutputExplanation(column, kind, str(entry.get("text", "")), inputs))
    legend = member.get("notes") or {}
    cells: dict[tuple[int, str], tuple[str, ...]] = {}
    for note in member.get("cells") or []:
        text = str(legend.get(note.get("note"), note.get("note")))
        if note.get("measurement"):
            text = f"{note['measurement']}: {text}"
        key = (int(note["row"]), str(note["column"]))
        cells[key] = (*cells.get(key, ()), text)
    return ReportExplanations(True, str(member.get("release", "")), tuple(outputs), cells)
