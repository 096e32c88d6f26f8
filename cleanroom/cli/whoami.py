"""``cleanroom whoami``: the principal the configured token speaks for, as the server sees it."""

from __future__ import annotations

import click

from cleanroom.cli.output import emit
from cleanroom.cli.remote import client_command, client_options, make_client


@click.command("whoami")
@client_options
@client_command
def whoami(url: str | None, token: str | None, timeout: float, as_json: bool) -> None:
    """The subject, org and role of your token (checks the server accepts it)."""
    emit(make_client(url, token, timeout).whoami(), as_json)
