"""``cleanroom suppressions add``: opted-out hashed identifiers a collaboration never uses."""

from __future__ import annotations

from pathlib import Path

import click

from cleanroom.cli.output import emit
from cleanroom.cli.remote import client_command, client_options, collaboration_option, make_client


@click.group("suppressions")
def suppressions() -> None:
    """Opted-out hashed identifiers a collaboration must never use."""


@suppressions.command("add")
@collaboration_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@client_options
@client_command
def add(
    collaboration_id: str,
    file: Path,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Add the hashed identifiers in FILE (CSV) to the suppression list (retailer admin)."""
    result = make_client(url, token, timeout).add_suppressions(collaboration_id, file=file)
    emit(result, as_json)
