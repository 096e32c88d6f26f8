"""Datasets and their immutable versions; purge marks versions whose files were deleted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cleanroom.store.db import AuditArg, StoreBase
from cleanroom.store.records import Dataset, DatasetVersion


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
        dataset_id: str | None = None,
        audit: AuditArg = None,
    ) -> tuple[Dataset, DatasetVersion]:
        """Record an uploaded file as the next version of dataset ``name`` (new on first upload).

        Version numbers are 1..n per dataset. A later upload replaces the dataset's spec. Another
        org's dataset of the same name is a ``Conflict``. ``dataset_id`` is used only when the
        dataset is new (pass one from ``new_id("ds")`` to name files before registering).
        """
        raise NotImplementedError

    def get_dataset(self, dataset_id: str, *, collaboration_id: str | None = None) -> Dataset:
        """One dataset with its current version; ``NotFound`` if unknown or in another collab."""
        raise NotImplementedError

    def get_dataset_by_name(self, collaboration_id: str, name: str) -> Dataset:
        """The dataset named ``name`` in the collaboration; ``NotFound`` when there is none."""
        raise NotImplementedError

    def list_datasets(self, collaboration_id: str) -> list[Dataset]:
        """The collaboration's datasets, by name."""
        raise NotImplementedError

    def list_dataset_versions(self, dataset_id: str) -> list[DatasetVersion]:
        """All versions of a dataset, oldest first, purged ones included."""
        raise NotImplementedError

    def purge_dataset(self, dataset_id: str, *, audit: AuditArg = None) -> list[DatasetVersion]:
        """Mark every not-yet-purged version purged; returns those (the caller deletes files)."""
        raise NotImplementedError

    def purge_expired_versions(self) -> list[DatasetVersion]:
        """Mark versions past their ``expires_at`` purged; returns them (caller deletes files)."""
        raise NotImplementedError
