"""``cleanroom datasets add|list|show|delete``: register (upload), read and purge a
collaboration's datasets; ``datasets init-spec``: draft a spec from a file's header (local)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cleanroom.cli import exits
from cleanroom.cli.output import emit
from cleanroom.cli.remote import (
    STDIO,
    UPLOAD_FILE,
    client_command,
    client_options,
    collaboration_option,
    make_client,
    read_json_file,
    upload_source,
    write_output,
)
from cleanroom.errors import CleanroomError
from cleanroom.services.spec_draft import draft_spec

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
    """Register, read and purge a collaboration's datasets; draft a spec."""


@datasets.command("add")
@collaboration_option
@click.option(
    "--spec",
    "spec_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="Dataset spec JSON (docs/specs.md); - reads standard input.",
)
@click.argument("file", type=UPLOAD_FILE)
@client_options
@client_command
def add(
    collaboration_id: str,
    spec_path: str,
    file: str,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Upload FILE (CSV or Parquet, identifiers already hashed) as a new dataset version.

    FILE - reads standard input; the server then tells CSV from Parquet by the bytes."""
    if file == STDIO and spec_path == STDIO:
        raise click.BadParameter("only one of FILE and --spec can be - (standard input)")
    spec = read_json_file(spec_path, "--spec")
    client = make_client(url, token, timeout)
    # No suffix on a spooled standard input: the server sniffs CSV or Parquet from the bytes.
    with upload_source(file, "FILE") as source:
        dataset = client.register_dataset(collaboration_id, source, spec)
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


@datasets.command("show")
@collaboration_option
@click.argument("dataset_id")
@client_options
@client_command
def show(
    collaboration_id: str, dataset_id: str, url: str | None, token: str | None, timeout: float,
    as_json: bool,
) -> None:  # fmt: skip
    """One dataset: its spec and versions (figures only for your own org's)."""
    dataset = make_client(url, token, timeout).get_dataset(collaboration_id, dataset_id)
    if as_json:
        emit(dataset, True)
        return
    emit(_summary(dataset), False)
    click.echo(json.dumps(dataset.get("spec") or {}, indent=2))


@datasets.command("delete")
@collaboration_option
@click.argument("dataset_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@client_options
@client_command
def delete(
    collaboration_id: str, dataset_id: str, yes: bool, url: str | None, token: str | None,
    timeout: float, as_json: bool,
) -> None:  # fmt: skip
    """Purge every version of one of your org's datasets (runs that need it then fail)."""
    if not yes:
        click.confirm(f"purge every version of dataset {dataset_id}?", abort=True, err=True)
    make_client(url, token, timeout).delete_dataset(collaboration_id, dataset_id)
    emit({"id": dataset_id, "deleted": True}, as_json)


@datasets.command("init-spec")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="The dataset's name (default: FILE's stem).")
@click.option(
    "--kind",
    type=click.Choice(["personal", "reference"]),
    default="personal",
    show_default=True,
    help="Personal data (one identifier column) or reference data.",
)
@click.option("-o", "--output", default=STDIO, show_default=True,
              help="Where to write the draft spec (- is standard output).")  # fmt: skip
def init_spec(file: Path, name: str | None, kind: str, output: str) -> None:
    """Draft a dataset spec from the header of FILE (CSV or Parquet).

    Every column gets a proposed role and the reason in the draft's "review" list, which the
    server refuses until you delete it: check each role, set every metric's bounds, then upload.
    Problems of the header are all reported at once (exit 1, nothing written)."""
    try:
        draft = draft_spec(file, name, kind)
    except CleanroomError as err:
        raise click.BadParameter(err.detail, param_hint="FILE") from None
    if draft.problems:
        for problem in draft.problems:
            click.echo(f"problem: {problem}", err=True)
        raise SystemExit(exits.FAILED)
    write_output(output, (json.dumps(draft.spec, indent=2) + "\n").encode())
