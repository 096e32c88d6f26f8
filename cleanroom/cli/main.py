"""The `cleanroom` command."""

from __future__ import annotations

import click

from cleanroom import __version__
from cleanroom.cli.budget_audit import audit, budget
from cleanroom.cli.collaborations import collaborations
from cleanroom.cli.database import init_db, purge_expired
from cleanroom.cli.datasets import datasets
from cleanroom.cli.demo import demo
from cleanroom.cli.hashing import hash_file
from cleanroom.cli.reports import report
from cleanroom.cli.runs import run
from cleanroom.cli.serve import serve
from cleanroom.cli.suppressions import suppressions
from cleanroom.cli.templates import templates
from cleanroom.cli.token import token
from cleanroom.cli.validate import validate
from cleanroom.cli.worker import worker


@click.group()
@click.version_option(__version__, prog_name="cleanroom")
def cli() -> None:
    """cleanroom: a data clean room for retail media."""


cli.add_command(serve)
cli.add_command(token)
cli.add_command(validate)
cli.add_command(init_db)
cli.add_command(purge_expired)
cli.add_command(worker)
cli.add_command(hash_file)
cli.add_command(collaborations)
cli.add_command(datasets)
cli.add_command(suppressions)
cli.add_command(templates)
cli.add_command(run)
cli.add_command(report)
cli.add_command(budget)
cli.add_command(audit)
cli.add_command(demo)


def main() -> None:
    cli()
