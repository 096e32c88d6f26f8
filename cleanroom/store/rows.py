"""ORM rows to frozen records (the only place that knows both shapes).

A record's fields are copied from the row's attributes of the same names by one mapper,
:func:`record`; only what differs (related rows, JSON defaults, derived values) is spelled out.
The hot reads pass Core ``Row`` objects of the same tables instead of ORM rows (``RowLike``):
their attributes carry the same names and the same (type-processed) values.

>>> from datetime import UTC, datetime
>>> row = ReportRow(run_id="run_1", body='{"n": 1}', created_at=datetime(2026, 1, 1, tzinfo=UTC))
>>> report(row).data()
{'n': 1}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import MISSING, fields
from typing import Any, TypeVar

from cleanroom.store.chain import details_digest
from cleanroom.store.models import (
    AuditEventRow,
    CollaborationRow,
    DatasetRow,
    DatasetVersionRow,
    MembershipRow,
    ReportRow,
    RunRow,
    TemplateApprovalRow,
    TemplateRow,
)
from cleanroom.store.records import (
    AuditRecord,
    Collaboration,
    Dataset,
    DatasetVersion,
    Membership,
    Report,
    Run,
    Template,
    TemplateApproval,
)

R = TypeVar("R")
# An ORM row, or a Core ``Row`` (or any object) with the table's columns as attributes.
RowLike = Any


_FIELDS: dict[type[Any], tuple[tuple[str, bool], ...]] = {}


def _names(cls: type[Any]) -> tuple[tuple[str, bool], ...]:
    """Each field of a record class, and whether it has a default (read once per class)."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple(
            (f.name, f.default is not MISSING or f.default_factory is not MISSING)
            for f in fields(cls)
        )
    return found


def record(cls: type[R], row: object, **given: Any) -> R:
    """``cls`` built from ``row``: each field is ``given`` or the row's attribute of that name
    (JSON objects copied, so a record never shares a dict with the session); a field the row
    lacks takes the record's default, and one without a default is a bug (``TypeError``)."""
    values: dict[str, Any] = {}
    for name, has_default in _names(cls):
        if name in given:
            values[name] = given[name]
            continue
        value = getattr(row, name, MISSING)
        if value is MISSING:
            if not has_default:
                raise TypeError(f"{type(row).__name__} has no {name!r} for {cls.__name__}")
            continue
        values[name] = dict(value) if isinstance(value, dict) else value
    return cls(**values)


def collaboration(row: CollaborationRow, members: list[MembershipRow]) -> Collaboration:
    # Retailer first, then partners in a stable order.
    ordered = sorted(members, key=lambda m: (m.role != "retailer", m.org))
    return record(Collaboration, row, members=tuple(record(Membership, m) for m in ordered))


def dataset_version(row: DatasetVersionRow) -> DatasetVersion:
    return record(DatasetVersion, row)


def dataset(row: DatasetRow, current: DatasetVersionRow | None) -> Dataset:
    return record(Dataset, row, current=None if current is None else dataset_version(current))


def template(
    row: TemplateRow | RowLike, decisions: Sequence[TemplateApprovalRow | RowLike] = ()
) -> Template:
    """The template with each approver it needs and that approver's decision, if any."""
    by_org = {d.org: d for d in decisions}
    approvals = []
    for entry in row.approvers or []:
        decided = by_org.get(entry["org"])
        approvals.append(
            TemplateApproval(
                org=entry["org"],
                capacity=entry["as"],
                datasets=tuple(entry.get("datasets", ())),
                decision=None if decided is None else decided.decision,
                decided_by=None if decided is None else decided.decided_by,
                decided_at=None if decided is None else decided.decided_at,
                reason=None if decided is None else decided.reason,
            )
        )
    return record(
        Template,
        row,
        parameters=tuple(dict(p) for p in row.parameters),
        approvals=tuple(approvals),
    )


def run(row: RunRow | RowLike) -> Run:
    return record(Run, row, weights=dict(row.weights or {}))


def report(row: ReportRow | RowLike) -> Report:
    return record(Report, row)


def audit_record(row: AuditEventRow | RowLike) -> AuditRecord:
    details = json.loads(row.details)
    digest = None if row.salt is None else details_digest(row.actor, details, row.salt)
    return record(AuditRecord, row, details=details, digest=digest)
