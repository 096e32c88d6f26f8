"""docs/specs.md cannot rot: every example is parsed by the code the server runs, every field and
column role is in its tables, the validate example is accepted by ``cleanroom validate``, and the
report example has exactly the members of a real report (CSV and Parquet renderings included)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cleanroom.cli.main import cli
from cleanroom.config import Settings
from cleanroom.services.context import build_services
from cleanroom.services.reports import get_report, report_csv, report_parquet
from cleanroom.services.runs import RunWorker
from cleanroom.types import COLUMN_ROLES, CollaborationPolicy, DatasetSpec
from tests.cli.cli_world import ADVERTISER, queue_run

DOC = Path(__file__).resolve().parent.parent / "docs" / "specs.md"
EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```\w*\n(.*?)^```", re.S | re.M)


def examples() -> dict[str, str]:
    found = dict(EXAMPLE.findall(DOC.read_text(encoding="utf-8")))
    assert set(found) == {
        "dataset-spec", "reference-spec", "policy", "validate-spec", "validate-template",
        "report", "report-csv",
    }  # fmt: skip
    return found


def _table_fields(heading: str) -> set[str]:
    """The backquoted names in the first column of the table under ``heading``."""
    section = DOC.read_text(encoding="utf-8").split(heading, 1)[1].split("\n#", 1)[0]
    firsts = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in firsts for name in re.findall(r"`(\w+)`", cell)}


def test_dataset_spec_examples_parse_and_every_field_and_role_is_documented() -> None:
    spec = DatasetSpec.from_dict(json.loads(examples()["dataset-spec"]))
    assert {c.role for c in spec.columns} == set(COLUMN_ROLES)  # the example shows every role
    assert DatasetSpec.from_dict(json.loads(examples()["reference-spec"])).kind == "reference"
    assert _table_fields("## Dataset spec") == set(DatasetSpec.KEYS)
    assert _table_fields("### Column roles") == set(COLUMN_ROLES)


def test_policy_example_is_the_defaults_and_every_field_is_documented() -> None:
    example = json.loads(examples()["policy"])
    assert CollaborationPolicy.from_dict(example) == CollaborationPolicy.from_dict({})
    assert set(example) == set(CollaborationPolicy.KEYS)
    assert _table_fields("## Collaboration policy") == set(CollaborationPolicy.KEYS)


def test_validate_example_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "spec.json").write_text(examples()["validate-spec"], encoding="utf-8")
    template = tmp_path / "sales_by_brand.sql"
    template.write_text(examples()["validate-template"], encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["validate", "--spec", str(tmp_path / "spec.json"), str(template)]
    )
    assert result.exit_code == 0, result.output
    assert "ok: sales_by_brand.sql is accepted (purpose measurement)" in result.output


def _shape(value: Any) -> Any:
    """Member names, recursively (a list by its first item): the structure without the values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value and isinstance(value[0], dict | list) else []
    return None


@pytest.fixture
def real_report(settings: Settings, tmp_path: Path) -> dict[str, Any]:
    svc = build_services(settings.replace(worker_threads=0), migrate=True)
    try:
        collaboration_id, run_id = queue_run(svc, tmp_path / "inputs")
        assert RunWorker(svc, "docs-test").run_pending() == 1
        return get_report(svc, ADVERTISER, collaboration_id, run_id)
    finally:
        svc.close()


def test_report_example_has_the_members_of_a_real_report(real_report: dict[str, Any]) -> None:
    example = json.loads(examples()["report"])
    assert _shape(example) == _shape(real_report)
    # Members only some reports have (a fairness analysis's composition, a holdout test's lift,
    # a consent analysis's opt-in rate, the estimated bounds of a template with "-- estimate:"
    # lines).
    optional = {"fairness", "lift", "opt_in", "estimated_bounds"}
    assert _table_fields("## Report") - optional == set(real_report)


def test_report_csv_and_parquet_are_as_documented(real_report: dict[str, Any]) -> None:
    example = json.loads(examples()["report"])
    assert report_csv(example).replace("\r\n", "\n") == examples()["report-csv"]  # CRLF rows
    table = pq.read_table(pa.BufferReader(report_parquet(real_report)))
    assert table.column_names == real_report["columns"]
    assert table.num_rows == len(real_report["rows"])
    metadata = json.loads(table.schema.metadata[b"cleanroom.report"])
    assert metadata == {k: v for k, v in real_report.items() if k != "rows"}
