"""Registering, reading, deleting and expiring datasets.

An upload is validated, minimized and re-keyed by ``ingest`` into a new Parquet file; only after
the file is complete is the version recorded. If recording fails, the file is removed: a crash or
an error never leaves a version without a file, nor a file without a version that a run could use.

What a member sees of a dataset is the ``dataset`` row of ``cleanroom.visibility``. A version's
exact figures (row count, blank identifiers dropped, bytes, the most rows one person has) are
facts about the people in the data: only members of the dataset's owner org see them
(:func:`describe_dataset`). The retailer org sees every dataset, and every partner the retailer's,
without them; another partner's datasets are hidden (``404``, left out of lists). Names are per
org: two partners may each register a ``crm`` (a name one partner uses tells the other nothing),
but the retailer and a partner never share a name, since a partner's templates read both.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cleanroom import visibility
from cleanroom.config import Settings
from cleanroom.errors import Conflict, DatasetExpired, NotFound
from cleanroom.events import SYSTEM_ACTOR, DatasetDeleted, DatasetRegistered
from cleanroom.ingest import ReadLimits, ingest_dataset
from cleanroom.services.access import (
    authorize,
    can_see,
    require_scope,
    require_visible,
    sight_of,
)
from cleanroom.services.collaborations import policy_of
from cleanroom.services.context import Services
from cleanroom.services.lifecycle import require_not_ended
from cleanroom.services.requests import DatasetRegistration
from cleanroom.store import Collaboration, Dataset, DatasetVersion
from cleanroom.types import Principal


def dataset_dir(svc: Services, collaboration_id: str) -> Path:
    return svc.settings.datasets_dir / collaboration_id


def read_limits(settings: Settings) -> ReadLimits:
    """What reading one upload may use, from the settings."""
    return ReadLimits(
        max_row_bytes=settings.max_row_bytes,
        max_csv_bytes=settings.max_decompressed_bytes,
        memory_limit=settings.ingest_memory_limit,
    )


def register_dataset(
    svc: Services,
    who: Principal,
    collaboration_id: str,
    upload: Path,
    registration: DatasetRegistration,
) -> dict[str, Any]:
    """Validate and store ``upload`` as the next version of the dataset its spec names."""
    collab = authorize(svc, who, collaboration_id, "dataset.register")
    require_not_ended(collab, who.org, svc.store.now())
    spec = registration.spec
    spec.check_against_policy(policy_of(collab))
    if any(_names_clash(collab, who.org, spec.name, d) for d in svc.store.list_datasets(collab.id)):
        # Checked before ingesting (the store checks again): only the retailer's names, which
        # every partner sees, or (for the retailer) names it sees anyway, can clash.
        raise Conflict(f"dataset '{spec.name}' belongs to another organization")
    # Everything the version needs is computed before the first byte is written (the spec's
    # numbers are range-checked by DatasetSpec); after it, any failure removes the file.
    retention = timedelta(days=spec.retention_days) if spec.retention_days else None
    result = ingest_dataset(
        upload,
        spec,
        secret_key=svc.settings.secret_key,
        collaboration_id=collab.id,
        dest_dir=dataset_dir(svc, collab.id),
        file_format=registration.file_format,
        max_bytes=svc.settings.max_upload_bytes,
        limits=read_limits(svc.settings),
    )
    try:
        expires = svc.store.now() + retention if retention is not None else None
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
            audit=DatasetRegistered(name=spec.name, kind=spec.kind).by(who.sub, who.org),
        )
    except BaseException:
        result.path.unlink(missing_ok=True)
        raise
    # The uploader's org is the owner: it sees the exact figures of what it uploaded.
    return {
        **describe_dataset(who, collab, dataset),
        "version": version.version,
        "ingest": result.to_dict(),
    }


def _names_clash(collab: Collaboration, org: str, name: str, existing: Dataset) -> bool:
    if existing.name != name or existing.owner_org == org:
        return False
    return collab.retailer_org in (org, existing.owner_org)


def describe_dataset(who: Principal, collab: Collaboration, dataset: Dataset) -> dict[str, Any]:
    """The dataset as ``who`` may see it; ``NotFound`` when the table hides it from ``who``."""
    seen = sight_of(who, collab, "dataset", dataset.owner_org)
    if seen == visibility.HIDDEN:
        raise NotFound("dataset not found")
    return dataset.to_dict(sizes=seen == visibility.FULL)


def list_datasets(svc: Services, who: Principal, collaboration_id: str) -> list[Dataset]:
    """The datasets ``who`` may see (another partner's are left out)."""
    collab = authorize(svc, who, collaboration_id, "dataset.read")
    return [d for d in svc.store.list_datasets(collab.id) if _visible(who, collab, d)]


def get_dataset(svc: Services, who: Principal, collaboration_id: str, dataset_id: str) -> Dataset:
    """One dataset ``who`` may see; another partner's is ``not_found``, as an unknown id."""
    collab = authorize(svc, who, collaboration_id, "dataset.read")
    dataset = svc.store.get_dataset(dataset_id, collaboration_id=collab.id)
    require_visible(who, collab, "dataset", dataset.owner_org, "dataset")
    return dataset


def list_dataset_views(
    svc: Services, who: Principal, collaboration_id: str
) -> list[dict[str, Any]]:
    """:func:`list_datasets`, each as ``who`` may see it (:func:`describe_dataset`)."""
    collab = authorize(svc, who, collaboration_id, "dataset.read")
    found = svc.store.list_datasets(collab.id)
    return [describe_dataset(who, collab, d) for d in found if _visible(who, collab, d)]


def get_dataset_view(
    svc: Services, who: Principal, collaboration_id: str, dataset_id: str
) -> dict[str, Any]:
    """:func:`get_dataset` as ``who`` may see it (:func:`describe_dataset`)."""
    collab = authorize(svc, who, collaboration_id, "dataset.read")
    dataset = svc.store.get_dataset(dataset_id, collaboration_id=collab.id)
    return describe_dataset(who, collab, dataset)


def dataset_version_views(
    svc: Services, who: Principal, collaboration_id: str, dataset_id: str
) -> list[dict[str, Any]]:
    """Every version of one dataset ``who`` may see, oldest first, purged ones included; exact
    figures for the owner org only (as :func:`describe_dataset`)."""
    collab = authorize(svc, who, collaboration_id, "dataset.read")
    dataset = svc.store.get_dataset(dataset_id, collaboration_id=collab.id)
    seen = sight_of(who, collab, "dataset", dataset.owner_org)
    if seen == visibility.HIDDEN:
        raise NotFound("dataset not found")
    found = svc.store.list_dataset_versions(dataset.id)
    return [v.to_dict(sizes=seen == visibility.FULL) for v in found]


def _visible(who: Principal, collab: Collaboration, dataset: Dataset) -> bool:
    return can_see(who, collab, "dataset", dataset.owner_org)


def delete_dataset(
    svc: Services, who: Principal, collaboration_id: str, dataset_id: str
) -> list[DatasetVersion]:
    """The owner purges every version's files; later runs that need it get dataset_expired."""
    collab = authorize(svc, who, collaboration_id, "dataset.delete")
    dataset = svc.store.get_dataset(dataset_id, collaboration_id=collab.id)
    require_visible(who, collab, "dataset", dataset.owner_org, "dataset")
    require_scope(who, "dataset.delete", dataset.owner_org, "the dataset")
    purged = svc.store.purge_dataset(
        dataset.id,
        audit=DatasetDeleted(name=dataset.name).by(who.sub, who.org),
    )
    _remove_files(svc, purged)
    return purged


def purge_org_datasets(
    svc: Services, collaboration_id: str, org: str, cause: str
) -> list[dict[str, Any]]:
    """Purge every version of every dataset ``org`` owns in the collaboration (a partner's
    data, on request, when its membership ends). Each purge is a ``dataset.deleted`` event of
    the owner org, written by ``system``; ``cause`` names what asked for it."""
    purged = []
    for dataset in svc.store.list_datasets(collaboration_id):
        if dataset.owner_org != org or dataset.current is None:  # nothing left to purge
            continue
        versions = svc.store.purge_dataset(
            dataset.id,
            audit=DatasetDeleted(name=dataset.name, cause=cause).by(SYSTEM_ACTOR, org),
        )
        _remove_files(svc, versions)
        purged.append(
            {"dataset_id": dataset.id, "name": dataset.name, "purged_versions": len(versions)}
        )
    return purged


def purge_expired(svc: Services) -> list[DatasetVersion]:
    """Delete the files of versions past their retention; the store marks them purged and
    audits it in one transaction, so a purge is never left unaudited."""
    purged = svc.store.purge_expired_versions()
    _remove_files(svc, purged)
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
    """Datasets a template of a partner may use: the retailer's and the partner's own (their
    names never clash: see the module docstring)."""
    return {d.name: d for d in svc.store.list_datasets(collaboration_id) if d.owner_org in orgs}


def require_current(dataset: Dataset, now: datetime) -> DatasetVersion:
    """The dataset's current version, or ``dataset_expired`` when purged or past retention."""
    version = dataset.current
    if version is None or (version.expires_at is not None and version.expires_at <= now):
        raise DatasetExpired(
            f"dataset '{dataset.name}' has expired or was deleted; its owner must upload it again"
        )
    return version
