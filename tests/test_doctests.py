"""Every example in the package's docstrings runs: ``>>>`` lines are documentation that the
suite executes (pytest's own doctest collection only looks under ``tests/``)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import cleanroom

# Modules whose import needs what the default install does not have, or that start a program.
SKIPPED = {"cleanroom.cli.main", "cleanroom.web.wsgi"}


def _modules() -> list[str]:
    found = [m.name for m in pkgutil.walk_packages(cleanroom.__path__, "cleanroom.")]
    return sorted(name for name in found if name not in SKIPPED and ".migrations." not in name)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
