"""``cleanroom collaborations create|list``: open and list collaborations on a server."""

from __future__ import annotations

from pathlib import Path

import click

from cleanroom.cli.output import emit
from cleanroom.cli.remote import client_command, client_options, make_client, read_json_file

COLUMNS = ["id", "name", "retailer_org", "partner_orgs", "created_at"]


@click.group("collaborations")
def collaborations() -> None:
    """Create and list collaborations (retailer admin)."""


@collaborations.command("create")
@click.option("--name", required=True, help="The collaboration's name.")
@click.option(
    "--partner", "partners", required=True, multiple=True, help="A partner org (repeatable)."
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Collaboration policy JSON (API.md); default: the server's default policy.",
)
@client_options
@client_command
def create(
    name: str,
    partners: tuple[str, ...],
    policy_path: Path | None,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Open a collaboration between your org and the partner orgs."""
    policy = read_json_file(policy_path, "--policy") if policy_path else None
    collab = make_client(url, token, timeout).create_collaboration(name, partners, policy)
    emit(collab, as_json, None if as_json else [*COLUMNS, "policy"])


@collaborations.command("list")
@client_options
@client_command
def list_(url: str | None, token: str | None, timeout: float, as_json: bool) -> None:
    """The collaborations your org is a member of."""
    emit(make_client(url, token, timeout).list_collaborations(), as_json, COLUMNS)
