"""``cleanroom token``: print a development bearer token signed with the HS256 ``jwt_secret``."""

from __future__ import annotations

import click

from cleanroom.config import load_settings, warn_generated_secrets
from cleanroom.errors import CleanroomError
from cleanroom.services.auth import mint_token
from cleanroom.types import ROLES


@click.command()
@click.option("--org", required=True, help="The organisation the token acts for.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The principal's role.")
@click.option("--sub", default=None, help="The subject (a user name); default ROLE@ORG.")
@click.option(
    "--ttl", type=click.IntRange(1, 366 * 24 * 3600), default=3600, show_default=True,
    help="Lifetime in seconds.",
)  # fmt: skip
def token(org: str, role: str, sub: str | None, ttl: int) -> None:
    """Print a signed bearer token (development and tests)."""
    try:
        settings = load_settings()
        warn_generated_secrets(settings)
        click.echo(mint_token(settings, org=org, role=role, sub=sub or f"{role}@{org}", ttl=ttl))
    except CleanroomError as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None
