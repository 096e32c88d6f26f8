"""Importing this module checks that the ``demo`` extra is installed (``cleanroom demo`` imports it
first): the server image leaves the demo's libraries out, and the demo then says how to get them
instead of failing with an ImportError. pyproject.toml is the one list of those libraries."""

from __future__ import annotations

import importlib.metadata
import importlib.util

import click
from packaging.requirements import Requirement

EXTRA = "demo"


def missing_libraries(extra: str = EXTRA) -> list[str]:
    """The requirements of the installed package's ``extra`` that cannot be imported."""
    required = [Requirement(text) for text in importlib.metadata.requires("cleanroom") or []]
    names = [
        r.name
        for r in required
        if r.marker is not None and "extra" in str(r.marker) and r.marker.evaluate({"extra": extra})
    ]
    return [name for name in names if importlib.util.find_spec(name) is None]


if missing := missing_libraries():
    raise click.UsageError(
        f"cleanroom demo needs the {EXTRA} extra ({', '.join(missing)} not installed): "
        f"pip install 'cleanroom[{EXTRA}]', or make demo in a checkout"
    )
