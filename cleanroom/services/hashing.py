"""Client-side identifier hashing (``cleanroom hash``, the demo): normalize and SHA-256 a CSV
column before the file leaves its owner (docs/privacy.md). A thin use case over ``ingest``
so that the CLI and the demo hash with exactly the same code."""

from __future__ import annotations

from pathlib import Path

from cleanroom.errors import InvalidRequest
from cleanroom.ingest import HashStats, hash_csv_file

KINDS = ("email", "phone")
DEFAULT_REGION = "US"


def hash_identifier_file(
    in_path: Path | str,
    out_path: Path | str,
    kind: str,
    column: str | None = None,
    default_region: str = DEFAULT_REGION,
) -> HashStats:
    """Write ``out_path``: ``in_path`` with its ``kind`` column (``email`` or ``phone``; named by
    ``column``, else found by name) replaced by the normalized SHA-256 hex. Values that do not
    normalize become empty and are counted in ``invalid``; phone numbers without a country code
    are read as numbers of ``default_region``."""
    if kind == "email":
        return hash_csv_file(Path(in_path), Path(out_path), "email", column)
    if kind == "phone":
        return hash_csv_file(Path(in_path), Path(out_path), "phone", column, default_region)
    raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}")
