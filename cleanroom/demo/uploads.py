"""The demo world's files as each partner uploads them: raw emails hashed with the code behind
``cleanroom hash`` (normalized, SHA-256 hex), reference tables as they are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cleanroom.client.hashing import hash_identifier_file
from cleanroom.demo.specs import demo_dataset_specs
from cleanroom.demo.world import World


def hash_world(
    world: World, out: Path, echo: Callable[[str], None] | None = None
) -> dict[str, Path]:
    """Dataset name -> the file to upload; personal datasets hashed into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    uploads = {}
    for name, spec in demo_dataset_specs().items():
        columns = [c for c, col in spec["columns"].items() if col["role"] == "identifier"]
        if not columns:
            uploads[name] = world.files[name]  # a reference table has no identifier
            continue
        uploads[name] = out / f"{name}.csv"
        stats = hash_identifier_file(world.files[name], uploads[name], "email", columns[0])
        if echo is not None:
            echo(
                f"  hashed {name}: {stats.rows:,} rows, {stats.hashed:,} hashed, "
                f"{stats.invalid:,} invalid"
            )
    return uploads
