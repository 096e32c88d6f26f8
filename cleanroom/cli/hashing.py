"""``cleanroom hash``: normalize and hash an identifier column before a file leaves its owner."""

from __future__ import annotations

from pathlib import Path

import click

from cleanroom.client.hashing import DEFAULT_REGION, KINDS, hash_identifier_file
from cleanroom.errors import CleanroomError


@click.command("hash")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What the column holds.")
@click.option("--column", help="The column to hash (default: email/phone, or the only column).")
@click.option("--default-region", default=DEFAULT_REGION, show_default=True,
              help="Region of phone numbers written without a country code.")  # fmt: skip
@click.argument("in_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out_path", type=click.Path(dir_okay=False, path_type=Path))
def hash_file(
    kind: str, column: str | None, default_region: str, in_path: Path, out_path: Path
) -> None:
    """Write OUT.csv: IN.csv with the identifier column replaced by its normalized SHA-256 hex.

    Values that are not an email or phone number become empty (counted as invalid; ingestion
    drops them)."""
    try:
        stats = hash_identifier_file(in_path, out_path, kind, column, default_region)
    except CleanroomError as err:
        click.echo(f"{err.code}: {err.detail}", err=True)
        raise SystemExit(1) from None
    click.echo(f"rows: {stats.rows}  hashed: {stats.hashed}  invalid: {stats.invalid}")
    click.echo(f"wrote {out_path}")
