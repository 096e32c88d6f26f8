"""The one row-to-record mapper: fields come from the row's attributes of the same names, JSON
objects are copied, defaults fill what a row lacks, and a missing required field is a bug."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from cleanroom.store import rows
from cleanroom.store.models import RunRow

NOW = datetime(2026, 12, 4, tzinfo=UTC)


@dataclass(frozen=True)
class _Record:
    id: str
    spec: dict[str, Any]
    note: str = "default"
    tags: tuple[str, ...] = field(default_factory=tuple)


class _Row:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def test_fields_are_copied_by_name_and_json_objects_are_not_shared() -> None:
    spec = {"columns": ["a"]}
    made = rows.record(_Record, _Row(id="r1", spec=spec, unrelated=1))
    assert made == _Record("r1", {"columns": ["a"]})
    assert made.spec is not spec


def test_given_values_win_and_defaults_fill_what_the_row_lacks() -> None:
    made = rows.record(_Record, _Row(id="r1", spec={}, note="row"), note="given")
    assert (made.note, made.tags) == ("given", ())


def test_a_required_field_the_row_lacks_is_a_bug() -> None:
    with pytest.raises(TypeError, match="'spec'"):
        rows.record(_Record, _Row(id="r1"))


def test_a_run_row_maps_every_field_of_the_run_record() -> None:
    row = RunRow(
        id="run_1", collaboration_id="col_1", template_id="tpl_1", template_version=2,
        org="acme", submitted_by="bob", parameters={"campaign": "c1"}, weights=None,
        epsilon=1.0, delta=1e-7, status="queued", progress=0.0, error_code=None,
        error_message=None, idempotency_key="k", created_at=NOW, started_at=None,
        finished_at=None, claimed_by=None, heartbeat_at=None,
    )  # fmt: skip
    run = rows.run(row)
    assert run.weights == {}  # a run stored before weights were kept
    assert (run.id, run.template_version, run.parameters, run.delta) == (
        "run_1", 2, {"campaign": "c1"}, 1e-7,
    )  # fmt: skip
    assert run.parameters is not row.parameters
