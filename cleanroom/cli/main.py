"""The `cleanroom` command."""

from __future__ import annotations

import click

from cleanroom import __version__


@click.group()
@click.version_option(__version__, prog_name="cleanroom")
def cli() -> None:
    """cleanroom: a data clean room for retail media."""


def main() -> None:
    cli()
