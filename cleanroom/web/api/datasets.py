"""``/v1/collaborations/<cid>/datasets``: register by upload, read schemas (never rows), purge."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from cleanroom.services import datasets
from cleanroom.services.context import Services
from cleanroom.services.requests import DatasetRegistration
from cleanroom.web.api.fragments import OPTIONAL_TIMESTAMP, TIMESTAMP, item_list, record
from cleanroom.web.api.uploads import (
    UPLOAD_FORM,
    declared_format,
    form_json,
    saved_upload,
    upload_part,
)
from cleanroom.web.auth import current_principal
from cleanroom.web.metrics import count_ingested_rows
from cleanroom.web.routing import NamedSchema, ResponseDoc, route
from cleanroom.web.state import current_services

bp = Blueprint("datasets", __name__)

_OWNER_ONLY = "Only for members of the dataset's owner org; absent for every other member."
DATASET_VERSION = record(
    "DatasetVersion",
    ["dataset_id", "version", "created_at", "expires_at", "purged_at"],
    {
        "dataset_id": {"type": "string"},
        "version": {"type": "integer"},
        "row_count": {"type": "integer", "description": f"Rows stored. {_OWNER_ONLY}"},
        "dropped_identifiers": {
            "type": "integer",
            "description": f"Rows dropped for a blank identifier. {_OWNER_ONLY}",
        },
        "bytes": {"type": "integer", "description": f"Size of the stored file. {_OWNER_ONLY}"},
        "max_rows_per_person": {
            "type": ["integer", "null"],
            "description": "The most rows one person has (null: not measured, or a reference "
            f"dataset). {_OWNER_ONLY}",
        },
        "created_at": TIMESTAMP,
        "expires_at": OPTIONAL_TIMESTAMP,
        "purged_at": OPTIONAL_TIMESTAMP,
    },
)
_DATASET_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string"},
    "collaboration_id": {"type": "string"},
    "name": {"type": "string"},
    "owner_org": {"type": "string"},
    "kind": {"type": "string", "enum": ["personal", "reference"]},
    "spec": {"type": "object", "description": "The dataset spec (docs/specs.md)."},
    "created_at": TIMESTAMP,
    "current_version": {
        "anyOf": [DATASET_VERSION, {"type": "null"}],
        "description": "The newest usable version; null once every version was purged.",
    },
}
_DATASET_REQUIRED = ["id", "collaboration_id", "name", "owner_org", "kind", "spec"]
DATASET = record("Dataset", [*_DATASET_REQUIRED, "current_version"], _DATASET_PROPERTIES)
DATASETS = item_list("DatasetList", DATASET, "The collaboration's datasets (schemas, not rows).")
REGISTERED = record(
    "RegisteredDataset",
    [*_DATASET_REQUIRED, "version", "ingest"],
    {
        **_DATASET_PROPERTIES,
        "version": {"type": "integer", "description": "The version this upload became."},
        "ingest": {
            "type": "object",
            "description": "What was stored: rows, dropped blank identifiers, columns, sizes "
            "(the uploader's org owns the dataset, so it sees them).",
            "properties": {
                "rows": {"type": "integer"},
                "dropped_identifiers": {"type": "integer"},
                "columns": {"type": "array", "items": {"type": "object"}},
            },
        },
    },
)
PURGED = record(
    "PurgedDataset",
    ["dataset_id", "purged_versions"],
    {
        "dataset_id": {"type": "string"},
        "purged_versions": {"type": "array", "items": DATASET_VERSION},
    },
)
DATASET_UPLOAD = NamedSchema(
    "DatasetUpload",
    {
        **UPLOAD_FORM,
        "required": ["file", "spec"],
        "properties": {
            **UPLOAD_FORM["properties"],
            "spec": {"type": "string", "description": "The dataset spec as a JSON string."},
        },
    },
)


@route(
    bp,
    "/collaborations/<cid>/datasets",
    methods=["POST"],
    summary="Register a dataset (upload)",
    request_schema=DATASET_UPLOAD,
    request_media_type="multipart/form-data",
    responses={201: ResponseDoc("The dataset and the version this upload became.", REGISTERED)},
    errors=[403, 404, 409, 413, 422],
    rate_limit="uploads",
)
def register_dataset(cid: str) -> tuple[dict[str, Any], int]:
    """Multipart ``file`` (CSV or Parquet, hashed identifiers) and ``spec`` (JSON text).

    The file is validated, minimized and re-keyed; a new upload under a known name becomes the
    next version. The format follows the file name's suffix, else the file's bytes.
    """
    storage, spec = upload_part(), form_json("spec")
    with saved_upload(storage) as path:
        registration = DatasetRegistration.from_json(spec, declared_format(storage))
        registered = datasets.register_dataset(
            current_services(Services), current_principal(), cid, path, registration
        )
    count_ingested_rows(int(registered.get("ingest", {}).get("rows", 0)))
    return registered, 201


@route(
    bp,
    "/collaborations/<cid>/datasets",
    summary="List datasets",
    responses={200: ResponseDoc("Every dataset of the collaboration.", DATASETS)},
    errors=[403, 404],
)
def list_datasets(cid: str) -> dict[str, Any]:
    """Schemas, owners and current versions; never rows. Exact sizes for the owner org only."""
    found = datasets.list_dataset_views(current_services(Services), current_principal(), cid)
    return {"items": found}


@route(
    bp,
    "/collaborations/<cid>/datasets/<did>",
    summary="Read a dataset",
    responses={200: ResponseDoc("The dataset's spec and current version.", DATASET)},
    errors=[403, 404],
)
def get_dataset(cid: str, did: str) -> dict[str, Any]:
    """One dataset's schema and policy; never rows. Exact sizes for the owner org only."""
    return datasets.get_dataset_view(current_services(Services), current_principal(), cid, did)


@route(
    bp,
    "/collaborations/<cid>/datasets/<did>",
    methods=["DELETE"],
    summary="Purge a dataset",
    responses={200: ResponseDoc("The versions whose files were deleted.", PURGED)},
    errors=[403, 404],
)
def delete_dataset(cid: str, did: str) -> dict[str, Any]:
    """The owner org deletes every version's file; later runs needing it get dataset_expired."""
    purged = datasets.delete_dataset(current_services(Services), current_principal(), cid, did)
    # Only the owner org may delete (the service refuses anyone else), so it sees the figures.
    return {"dataset_id": did, "purged_versions": [v.to_dict(sizes=True) for v in purged]}
