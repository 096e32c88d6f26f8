"""``cleanroom suppressions add|remove|count|list``: the opt-out list of a collaboration
(hashed identifiers it never uses), kept by the retailer admin."""

from __future__ import annotations

import click

from cleanroom.cli.output import emit
from cleanroom.cli.remote import (
    UPLOAD_FILE,
    client_command,
    client_options,
    collaboration_option,
    make_client,
    upload_source,
)

HISTORY_COLUMNS = ["seq", "created_at", "name", "actor", "details"]


@click.group("suppressions")
def suppressions() -> None:
    """Opted-out hashed identifiers a collaboration must never use (retailer admin)."""


@suppressions.command("add")
@collaboration_option
@click.argument("file", type=UPLOAD_FILE)
@client_options
@client_command
def add(
    collaboration_id: str,
    file: str,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Add the hashed identifiers in FILE (CSV) to the suppression list (retailer admin).

    FILE - reads standard input."""
    client = make_client(url, token, timeout)
    with upload_source(file, "FILE", "stdin.csv") as source:
        result = client.add_suppressions(collaboration_id, file=source)
    emit(result, as_json)


@suppressions.command("remove")
@collaboration_option
@click.argument("file", type=UPLOAD_FILE)
@client_options
@client_command
def remove(
    collaboration_id: str,
    file: str,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Take the hashed identifiers in FILE (CSV) off the list: people who opted back in.

    FILE - reads standard input."""
    client = make_client(url, token, timeout)
    with upload_source(file, "FILE", "stdin.csv") as source:
        result = client.remove_suppressions(collaboration_id, file=source)
    emit(result, as_json)


@suppressions.command("count")
@collaboration_option
@client_options
@client_command
def count(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    """How many people the list holds (the identifiers are never read back)."""
    emit(make_client(url, token, timeout).count_suppressions(collaboration_id), as_json)


@suppressions.command("list")
@collaboration_option
@client_options
@client_command
def list_(
    collaboration_id: str, url: str | None, token: str | None, timeout: float, as_json: bool
) -> None:
    """Every change to the list, from the audit log: when, by whom, how many identifiers."""
    events = make_client(url, token, timeout).audit(collaboration_id)
    changes = [e for e in events if str(e.get("name", "")).startswith("suppression.")]
    emit(changes, as_json, HISTORY_COLUMNS)
