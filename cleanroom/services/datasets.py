"""Registering, reading, deleting and expiring datasets.

An upload is validated, minimized and re-keyed by ``ingest`` into a new Parquet file; only after
the file is complete is the version recorded. If recording fails, the file is removed: a crash or
an error never leaves a version without a file, nor a file without a version that a run could use.

A version's exact figures (row count, blank identifiers dropped, bytes, the most rows one person
has) are facts about the people in the data. Only members of the dataset's owner org see them
(:func:`describe_dataset`); the other members see its name, owner, spec, version and timestamps.
They are kept out of the ``dataset.registered`` audit event, which every member reads and verifies.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cleanroom.errors import Conflict, DatasetExpired, NotFound
from cleanroom.events import AuditEvent
from cleanroom.ingest import ingest_dataset
from cleanroom.services.access import authorize, require_own_org
from cleanroom.services.collaborations import policy_of
from cleanroom.services.context import Services
from cleanroom.store import Dataset, DatasetVersion
from cleanroom.types import DatasetSpec, Principal


def dataset_dir(svc: Services, collaboration_id: str) -> Path:
    return svc.settings.datasets_dir / collaboration_id


def register_dataset(
    svc: Services,
    who: Principal,
    collaboration_id: str,
    upload: Path,
    spec_data: Any,
    *,
    file_format: Literal["csv", "parquet"] | None = None,
) -> dict[str, Any]:
    """Validate and store ``upload`` as the next version of the dataset ``spec_data`` names."""
    collab = authorize(svc, who, collaboration_id, "dataset.register")
    spec = DatasetSpec.from_dict(spec_data)
    spec.check_against_policy(policy_of(collab))
    with contextlib.suppress(NotFound):
        existing = svc.store.get_dataset_by_name(collab.id, spec.name)
        if existing.owner_org != who.org:
            raise Conflict(f"dataset '{spec.name}' belongs to another organization")
    result = ingest_dataset(
        upload,
        spec,
        secret_key=svc.settings.secret_key,
        collaboration_id=collab.id,
        dest_dir=dataset_dir(svc, collab.id),
        file_format=file_format,
        max_bytes=svc.settings.max_upload_bytes,
    )
    now = svc.store.now()
    expires = now + timedelta(days=spec.retention_days) if spec.retention_days else None
    try:
        dataset, version = svc.store.register_dataset_version(
            collab.id,
            spec.name,
            who.org,
            spec.kind,
            spec.to_dict(),
            path=str(result.path.relative_to(svc.settings.data_dir)),
            row_count=result.rows,
            dropped_identifiers=result.dropped_identifiers,
            size_bytes=result.bytes,
            max_rows_per_person=result.max_rows_per_person,
            expires_at=expires,
            # No figures here: every member reads (and verifies) the audit log.
            audit=AuditEvent(
                "dataset.registered", who.sub, who.org, {"name": spec.name, "kind": spec.kind}
            ),
        )
    except BaseException:
        result.path.unlink(missing_ok=True)
        raise
    # The uploader's org is the owner: it sees the exact figures of what it uploaded.
    return {
        **describe_dataset(who, dataset),
        "version": version.version,
        "ingest": result.to_dict(),
    }


def sees_sizes(who: Principal, dataset: Dataset) -> bool:
    """True when ``who`` may see the dataset's exact figures: its owner org's members only."""
    return who.org == dataset.owner_org


def describe_dataset(who: Principal, dataset: Dataset) -> dict[str, Any]:
    """The dataset as ``who`` may see it: exact figures for its owner org only."""
    return dataset.to_dict(sizes=sees_sizes(who, dataset))


def list_datasets(svc: Services, who: Principal, collaboration_id: str) -> list[Dataset]:
    collab = authorize(svc, who, collaboration_id, "dataset.read")
    return svc.store.list_datasets(collab.id)


def get_dataset(svc: Services, who: Principal, collaboration_id: str, dataset_id: str) -> Dataset:
    collab = authorize(svc, who, collaboration_id, "dataset.read")
    return svc.store.get_dataset(dataset_id, collaboration_id=collab.id)


def delete_dataset(
    svc: Services, who: Principal, collaboration_id: str, dataset_id: str
) -> list[DatasetVersion]:
    """The owner purges every version's files; later runs that need it get dataset_expired."""
    collab = authorize(svc, who, collaboration_id, "dataset.delete")
    dataset = svc.store.get_dataset(dataset_id, collaboration_id=collab.id)
    require_own_org(who, dataset.owner_org, "the dataset")
    purged = svc.store.purge_dataset(
        dataset.id,
        audit=AuditEvent("dataset.deleted", who.sub, who.org, {"name": dataset.name}),
    )
    _remove_files(svc, purged)
    return purged


def purge_expired(svc: Services) -> list[DatasetVersion]:
    """Delete the files of versions past their retention, mark them purged and audit it."""
    purged = svc.store.purge_expired_versions()
    _remove_files(svc, purged)
    for version in purged:
        dataset = svc.store.get_dataset(version.dataset_id)
        svc.store.append_audit(
            dataset.collaboration_id,
            AuditEvent(
                "dataset.expired",
                "system",
                dataset.owner_org,
                {"name": dataset.name, "version": version.version},
            ),
        )
    return purged


def _remove_files(svc: Services, versions: list[DatasetVersion]) -> None:
    for version in versions:
        path = svc.settings.data_dir / version.path
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def usable_datasets(
    svc: Services, collaboration_id: str, orgs: tuple[str, ...]
) -> Mapping[str, Dataset]:
    """Datasets a template of a partner may use: the retailer's and the partner's own."""
    return {d.name: d for d in svc.store.list_datasets(collaboration_id) if d.owner_org in orgs}


def require_current(dataset: Dataset, now: datetime) -> DatasetVersion:
    """The dataset's current version, or ``dataset_expired`` when purged or past retention."""
    version = dataset.current
    if version is None or (version.expires_at is not None and version.expires_at <= now):
        raise DatasetExpired(
            f"dataset '{dataset.name}' has expired or was deleted; its owner must upload it again"
        )
    return version
