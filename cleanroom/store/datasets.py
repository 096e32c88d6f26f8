"""Datasets and their immutable versions; purge marks versions whose files were deleted.

The current version of a dataset is its highest version that is not purged (``Dataset.current``).
An expired but not yet purged version is still current: callers check ``expires_at``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cleanroom.errors import Conflict, InvalidRequest, NotFound
from cleanroom.events import SYSTEM_ACTOR, AuditEvent, DatasetExpired
from cleanroom.store import rows
from cleanroom.store.audit import append_in_session
from cleanroom.store.db import (
    AuditArg,
    StoreBase,
    ensure_org,
    lock_name,
    new_id,
    require_collaboration,
)
from cleanroom.store.models import DatasetRow, DatasetVersionRow
from cleanroom.store.records import Dataset, DatasetVersion


def _current_versions(session: Session, dataset_ids: Sequence[str]) -> dict[str, DatasetVersionRow]:
    if not dataset_ids:
        return {}
    found = session.scalars(
        select(DatasetVersionRow)
        .where(DatasetVersionRow.dataset_id.in_(dataset_ids), DatasetVersionRow.purged_at.is_(None))
        .order_by(DatasetVersionRow.dataset_id, DatasetVersionRow.version)
    )
    return {v.dataset_id: v for v in found}  # the last (highest) version of each wins


def _datasets(session: Session, found: Sequence[DatasetRow]) -> list[Dataset]:
    current = _current_versions(session, [d.id for d in found])
    return [rows.dataset(d, current.get(d.id)) for d in found]


class DatasetsMixin(StoreBase):
    def register_dataset_version(
        self,
        collaboration_id: str,
        name: str,
        owner_org: str,
        kind: str,
        spec: Mapping[str, Any],
        *,
        path: str,
        row_count: int,
        dropped_identifiers: int,
        size_bytes: int,
        expires_at: datetime | None = None,
        max_rows_per_person: int | None = None,
        audit: AuditArg = None,
    ) -> tuple[Dataset, DatasetVersion]:
        """Record an uploaded file as the next version of dataset ``name`` (new on first upload).

        Version numbers are 1..n per dataset. A later upload replaces the dataset's spec. Names
        are per org, except that the retailer and a partner never share one (a partner's
        templates read both by name): that is a ``Conflict``; two partners may.
        ``max_rows_per_person`` is the most rows one person has in the file, as measured at
        ingestion (None: not measured); it must be a non-negative integer.
        """
        if max_rows_per_person is not None and (
            isinstance(max_rows_per_person, bool)
            or not isinstance(max_rows_per_person, int)
            or max_rows_per_person < 0
        ):
            raise InvalidRequest("max_rows_per_person must be a non-negative integer or null")
        now = self.now()
        with self._write() as session:
            collab = require_collaboration(session, collaboration_id)
            lock_name(session, "dataset", collaboration_id, name)
            same_name = session.scalars(
                select(DatasetRow).where(
                    DatasetRow.collaboration_id == collaboration_id, DatasetRow.name == name
                )
            ).all()
            row = next((r for r in same_name if r.owner_org == owner_org), None)
            if row is None and any(
                collab.retailer_org in (owner_org, r.owner_org) for r in same_name
            ):
                raise Conflict("a dataset with this name belongs to another organization")
            if row is None:
                ensure_org(session, owner_org, "advertiser", now)
                row = DatasetRow(
                    id=new_id("ds"),
                    collaboration_id=collaboration_id,
                    name=name,
                    owner_org=owner_org,
                    kind=kind,
                    spec=dict(spec),
                    created_at=now,
                )
                session.add(row)
                session.flush()
            else:
                row.kind, row.spec = kind, dict(spec)
            last = session.scalar(
                select(func.max(DatasetVersionRow.version)).where(
                    DatasetVersionRow.dataset_id == row.id
                )
            )
            version = DatasetVersionRow(
                dataset_id=row.id,
                version=(last or 0) + 1,
                path=path,
                row_count=row_count,
                dropped_identifiers=dropped_identifiers,
                size_bytes=size_bytes,
                created_at=now,
                expires_at=expires_at,
                purged_at=None,
                max_rows_per_person=max_rows_per_person,
            )
            session.add(version)
            session.flush()
            facts = {"dataset_id": row.id, "name": name, "version": version.version}
            append_in_session(session, collaboration_id, audit, now, facts)
            return rows.dataset(row, version), rows.dataset_version(version)

    def get_dataset(self, dataset_id: str, *, collaboration_id: str | None = None) -> Dataset:
        """One dataset with its current version; ``NotFound`` if unknown or in another collab."""
        with self._read() as session:
            row = session.get(DatasetRow, dataset_id)
            if row is None or collaboration_id not in (None, row.collaboration_id):
                raise NotFound("dataset not found")
            return _datasets(session, [row])[0]

    def list_datasets(self, collaboration_id: str) -> list[Dataset]:
        """The collaboration's datasets, by name (then owner)."""
        with self._read() as session:
            found = session.scalars(
                select(DatasetRow)
                .where(DatasetRow.collaboration_id == collaboration_id)
                .order_by(DatasetRow.name, DatasetRow.owner_org)
            ).all()
            return _datasets(session, found)

    def list_dataset_versions(self, dataset_id: str) -> list[DatasetVersion]:
        """All versions of a dataset, oldest first, purged ones included."""
        with self._read() as session:
            found = session.scalars(
                select(DatasetVersionRow)
                .where(DatasetVersionRow.dataset_id == dataset_id)
                .order_by(DatasetVersionRow.version)
            )
            return [rows.dataset_version(v) for v in found]

    def purge_dataset(self, dataset_id: str, *, audit: AuditArg = None) -> list[DatasetVersion]:
        """Mark every not-yet-purged version purged; returns those (the caller deletes files)."""
        now = self.now()
        with self._write() as session:
            row = session.get(DatasetRow, dataset_id)
            if row is None:
                raise NotFound("dataset not found")
            purged = self._purge(session, [DatasetVersionRow.dataset_id == dataset_id], now)
            facts = {"dataset_id": dataset_id, "versions": [v.version for v in purged]}
            append_in_session(session, row.collaboration_id, audit, now, facts)
            return purged

    def purge_expired_versions(self) -> list[DatasetVersion]:
        """Mark versions past their ``expires_at`` purged and audit each (``dataset.expired``
        by ``system`` for the dataset's owner org) in the same transaction; returns them (the
        caller deletes their files)."""
        now = self.now()
        with self._write() as session:
            expired = [
                DatasetVersionRow.expires_at.is_not(None),
                DatasetVersionRow.expires_at <= now,
            ]
            purged = self._purge(session, expired, now)
            owners = {
                d.id: d
                for d in session.scalars(
                    select(DatasetRow).where(DatasetRow.id.in_({v.dataset_id for v in purged}))
                )
            }
            events: dict[str, list[AuditEvent]] = {}
            for version in purged:
                dataset = owners[version.dataset_id]
                event = DatasetExpired(name=dataset.name, version=version.version)
                events.setdefault(dataset.collaboration_id, []).append(
                    event.by(SYSTEM_ACTOR, dataset.owner_org)
                )
            for collaboration_id in sorted(events):  # one lock order for the audit heads
                append_in_session(session, collaboration_id, events[collaboration_id], now)
            return purged

    @staticmethod
    def _purge(session: Session, where: list[Any], now: datetime) -> list[DatasetVersion]:
        stmt = (
            update(DatasetVersionRow)
            .where(*where, DatasetVersionRow.purged_at.is_(None))
            .values(purged_at=now)
            .returning(DatasetVersionRow)
        )
        found = session.scalars(stmt, execution_options={"synchronize_session": False}).all()
        return sorted(
            (rows.dataset_version(v) for v in found), key=lambda v: (v.dataset_id, v.version)
        )
