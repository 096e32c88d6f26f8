"""Golden rewrite fixtures (tests/fixtures/policy/*.sql): template in, expected DuckDB SQL out.

Each expected query is also executed on DuckDB, so a fixture cannot drift into SQL that no longer
runs. Regenerate a fixture only after reading the diff: these files are the reviewed rewrite.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from cleanroom.policy import compile_template
from cleanroom.specs import ParamSpec
from tests.policy.collab import DATASETS, POLICY, connect

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "policy").glob("*.sql"))
PARAMS = [ParamSpec("campaign_ids", "list[str]", ["c1", "c2"], True)]
ROWS = {
    "exposures": [{"pid": 1, "campaign_id": "c1", "exposure_ts": "2024-01-01"}],
    "transactions": [{"pid": 1, "txn_ts": "2024-01-02", "brand": "acme", "amount_cents": 70000}],
    "campaign_spend": [{"campaign_id": "c1", "spend_cents": 5}],
}


def _split(path: Path) -> tuple[str, str]:
    text = path.read_text(encoding="utf-8")
    template, expected = text.split("-- expected duckdb\n")
    return template.removeprefix("-- template\n").strip(), expected.strip()


def test_there_are_fixtures() -> None:
    assert len(FIXTURES) >= 4


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_golden_rewrite(path: Path) -> None:
    template, expected = _split(path)
    compiled = compile_template(template, PARAMS, {}, "measurement", POLICY, DATASETS)
    actual = sqlglot.transpile(compiled.duckdb_sql, read="duckdb", write="duckdb", pretty=True)[0]
    assert actual == expected
    con = connect(ROWS)
    assert con.execute(expected).fetchall() == con.execute(compiled.duckdb_sql).fetchall()
