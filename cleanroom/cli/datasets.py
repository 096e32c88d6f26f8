"""``cleanroom datasets add|list``: register (upload) and list a collaboration's datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cleanroom.cli.output import emit
from cleanroom.cli.remote import (
    client_command,
    client_options,
    collaboration_option,
    make_client,
    read_json_file,
)

# Shown instead of the row count of another org's dataset: the server sends it to the owner only.
OWNER_ONLY = "(owner only)"


def _summary(dataset: dict[str, Any]) -> dict[str, Any]:
    current = dataset.get("current_version") or {}
    rows = current.get("row_count", OWNER_ONLY if current else None)
    return {
        "id": dataset.get("id"),
        "name": dataset.get("name"),
        "owner_org": dataset.get("owner_org"),
        "kind": dataset.get("kind"),
        "version": current.get("version", dataset.get("version")),
        "rows": rows,
        "expires_at": current.get("expires_at"),
    }


@click.group("datasets")
def datasets() -> None:
    """Register and list a collaboration's datasets."""


@datasets.command("add")
@collaboration_option
@click.option(
    "--spec",
    "spec_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Dataset spec JSON (docs/specs.md).",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@client_options
@client_command
def add(
    collaboration_id: str,
    spec_path: Path,
    file: Path,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Upload FILE (CSV or Parquet, identifiers already hashed) as a new dataset version."""
    spec = read_json_file(spec_path, "--spec")
    client = make_client(url, token, timeout)
    dataset = client.register_dataset(collaboration_id, file, spec)
    if as_json:
        emit(dataset, True)
        return
    summary = _summary(dataset)
    ingest = dataset.get("ingest") or {}
    summary["rows"] = ingest.get("rows", summary["rows"])  # the uploader's org owns the dataset
    summary["dropped_identifiers"] = ingest.get("dropped_identifiers")
    emit(summary, False)


@datasets.command("list")
@collaboration_option
@client_options
@client_command
def list_(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    """The collaboration's datasets: schema and policy, never rows; sizes of your own org's only."""
    found = make_client(url, token, timeout).list_datasets(collaboration_id)
    emit(found if as_json else [_summary(d) for d in found], as_json)
