"""The `cleanroom` command."""

from __future__ import annotations

import click

from cleanroom import __version__
from cleanroom.cli.serve import serve
from cleanroom.cli.token import token
from cleanroom.cli.validate import validate


@click.group()
@click.version_option(__version__, prog_name="cleanroom")
def cli() -> None:
    """cleanroom: a data clean room for retail media."""


cli.add_command(serve)
cli.add_command(token)
cli.add_command(validate)


def main() -> None:
    cli()
