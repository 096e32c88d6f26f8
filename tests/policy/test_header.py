"""Template file headers and the ``cleanroom validate`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cleanroom.cli.main import cli
from cleanroom.errors import TemplateRejected
from cleanroom.policy import parse_template_file
from tests.policy.collab import SPECS

FILE = """-- name: exposed_buyers
-- description: buyers among exposed shoppers
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1"]
-- param: window_days int = 14
-- bounds: sales 0 20000

SELECT e.campaign_id, COUNT(DISTINCT t.pid) AS buyers, SUM(t.amount_cents) AS sales
FROM exposures e JOIN transactions t ON t.pid = e.pid
WHERE e.campaign_id IN :campaign_ids
  AND t.txn_ts <= e.exposure_ts + INTERVAL 1 DAY * :window_days
GROUP BY 1
"""


def test_header_fields_and_offset() -> None:
    source = parse_template_file(FILE)
    assert source.name == "exposed_buyers"
    assert source.purpose == "measurement"
    assert [(p.name, p.type, p.default) for p in source.parameters] == [
        ("campaign_ids", "list[str]", ["c1"]),
        ("window_days", "int", 14),
    ]
    assert source.bounds == {"sales": (0.0, 20000.0)}
    assert source.line_offset == 7
    assert source.sql.startswith("SELECT")


def test_weight_lines_reach_the_source() -> None:
    source = parse_template_file("-- weight: Sales 4\n-- weight: buyers 0.5\nSELECT 1")
    assert source.weights == {"sales": 4.0, "buyers": 0.5}


def test_a_lift_line_reaches_the_source() -> None:
    source = parse_template_file("-- lift: Cell treated control\nSELECT 1")
    assert source.lift is not None
    assert source.lift.to_dict() == {"cell": "cell", "test": "treated", "holdout": "control"}
    assert source.to_dict()["lift"] == {"cell": "cell", "test": "treated", "holdout": "control"}
    assert parse_template_file("-- name: x\nSELECT 1").lift is None


@pytest.mark.parametrize(
    "line",
    [
        "-- owner: me",
        "-- param: x int = 'a'",
        "-- param: x money",
        "-- bounds: sales 10 1",
        "-- weight: sales 0",
        "-- weight: sales lots",
        "-- weight: sales 3 4",
        "-- param: x int\n-- param: x int",
        "-- lift: cell test",
        "-- lift: cell test test",
        "-- lift: cell a b\n-- lift: cell a b",
    ],
)
def test_bad_header_lines(line: str) -> None:
    with pytest.raises(TemplateRejected) as info:
        parse_template_file(f"{line}\nSELECT 1")
    assert info.value.violations[0].code == "bad_header"


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(
        json.dumps(
            {
                "policy": {"purposes": ["measurement", "audience_sizing", "fairness"]},
                "datasets": list(SPECS.values()),
            }
        )
    )
    return path


def test_validate_accepts(tmp_path: Path, spec_file: Path) -> None:
    template = tmp_path / "t.sql"
    template.write_text(FILE)
    result = CliRunner().invoke(cli, ["validate", "--spec", str(spec_file), str(template)])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    assert "pin:" in result.output
    result = CliRunner().invoke(
        cli, ["validate", "--spec", str(spec_file), str(template), "--json"]
    )
    assert json.loads(result.output)["analysis"]["outputs"] == ["campaign_id", "buyers", "sales"]


def test_validate_rejects_with_file_lines(tmp_path: Path, spec_file: Path) -> None:
    template = tmp_path / "t.sql"
    template.write_text(
        "-- name: bad\n-- purpose: measurement\nSELECT postal_code,\n  MAX(amount_cents)\n"
        "FROM transactions GROUP BY 1\n"
    )
    result = CliRunner().invoke(cli, ["validate", "--spec", str(spec_file), str(template)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("blocked_column 3:8 ")
    assert lines[1].startswith("disallowed_aggregate 4:")
    result = CliRunner().invoke(
        cli, ["validate", "--spec", str(spec_file), str(template), "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["errors"][0]["line"] == 3


def test_validate_uses_spec_template_without_header(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "policy": {"purposes": ["measurement", "audience_sizing", "fairness"]},
                "datasets": [SPECS["exposures"]],
                "template": {
                    "purpose": "measurement",
                    "parameters": [{"name": "ids", "type": "list[str]", "default": ["a"]}],
                },
            }
        )
    )
    template = tmp_path / "t.sql"
    template.write_text(
        "SELECT COUNT(DISTINCT pid) AS n FROM exposures WHERE campaign_id IN :ids\n"
    )
    result = CliRunner().invoke(cli, ["validate", "--spec", str(spec), str(template)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "content", ["{not json", '{"datasets": []}', '{"datasets": [{"name": "X"}]}', "[]"]
)
def test_validate_bad_spec_exits_2(tmp_path: Path, content: str) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(content)
    template = tmp_path / "t.sql"
    template.write_text("SELECT 1")
    result = CliRunner().invoke(cli, ["validate", "--spec", str(spec), str(template)])
    assert result.exit_code == 2
