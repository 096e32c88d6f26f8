"""The long fuzz profile (``fuzz_long``) runs only when asked for: ``pytest -m fuzz_long`` (any
``-m`` expression naming it) or ``CLEANROOM_FUZZ_EXAMPLES=<n>`` (then also in a plain run, with
that many examples per test)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "fuzz_long" in (config.getoption("markexpr") or "") or os.environ.get(
        "CLEANROOM_FUZZ_EXAMPLES"
    ):
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if item.get_closest_marker("fuzz_long") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
