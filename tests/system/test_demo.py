"""``cleanroom demo`` end to end on a small world: the real server (gunicorn) on loopback, every
shipped template run, each released cell compared with the exact answer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cleanroom.cli.main import cli
from cleanroom.config import Settings
from cleanroom.demo.report_view import compare_report, summary_line
from cleanroom.demo.runner import QUERIES_DIR
from cleanroom.errors import TemplateRejected
from cleanroom.policy import bind_template_sql, parse_template_file
from cleanroom.services.exact import ExactAnswer, exact_answer

TEMPLATES = sorted(p.stem for p in QUERIES_DIR.glob("*.sql"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "engine", ["duckdb", pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.system_long])]
)  # issue 7: the full demo flow also runs with CLEANROOM_ENGINE=spark
def test_demo_runs_every_template_and_covers_the_truth(tmp_path: Path, engine: str) -> None:
    out = tmp_path / "demo-output"
    result = CliRunner().invoke(
        cli,
        ["demo", "--output", str(out), "--shoppers", "20000", "--seed", "11"],
        env={"CLEANROOM_ENGINE": engine},
    )
    assert result.exit_code == 0, result.output
    assert f"server (gunicorn, {engine} engine) listening" in result.stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # Each compared cell misses its 95% interval with probability <= 5% (derived cells, with
    # Bonferroni intervals, less). With 160+ cells, more than 15% misses is a binomial tail
    # below 5e-7. This world releases 179-199 comparable cells (how many rows pass partition
    # selection and the minimum-users rule depends on the noise), so 160 leaves room.
    assert summary["compared"] >= 160
    assert summary["within"] >= 0.85 * summary["compared"]
    assert summary_line(summary["within"], summary["compared"]) in result.stdout
    assert summary["audit"]["ok"] is True
    assert "audit chain: ok" in result.stdout
    assert sorted(r["name"] for r in summary["reports"]) == TEMPLATES
    for name in TEMPLATES:
        for suffix in ("csv", "json", "png"):
            assert (out / f"{name}.{suffix}").stat().st_size > 0, f"{name}.{suffix}"
        report = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        header = (out / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0]
        columns = header.split(",")
        assert columns[: len(report["columns"])] == report["columns"]
        intervals = {f"{c}_{end}" for c in report["columns"] for end in ("lo", "hi")}
        assert set(columns[len(report["columns"]) :]) <= intervals  # the 95% interval columns
    assert (out / "roas.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Fourteen templates, then the fairness check per campaign, all at the default epsilon 1:
    # 20 - 14 - 4.
    assert "remaining budget of acme: epsilon 2 of 20" in result.stdout
    # The partner's DP opt-in rate (opt_in_rate), printed beside its released counts.
    assert "  opt-in rate, customers for measurement: " in result.stdout
    # The bias test flags exactly the campaign whose delivery was planted to under-reach 55+.
    assert summary["fairness"] == {"c1": [], "c2": [], "c3": ["55+"], "c4": []}
    assert "c3: reach ratio by age band" in result.stdout
    # The holdout lift of every campaign, printed with its significance beside the exact
    # intention-to-treat effect of the planted world, which its interval covers (the interval
    # also covers sampling error, so against the realized effect it holds with room to spare).
    assert "holdout lift per campaign" in result.stdout
    assert sorted(summary["lift"]) == [f"campaign_id=c{i}" for i in range(1, 5)]
    missed = []
    for campaign, found in summary["lift"].items():
        assert sorted(found) == ["incremental_buyers", "incremental_sales", "lift"]
        missed += [(campaign, name) for name, e in found.items() if not e["covered"]]
        # Its line: the lift with its interval, or (the noisy holdout too small to divide by,
        # which epsilon 1 on a small world can give) why it was not computed.
        line = rf"{re.escape(campaign)}: lift(?: [+-]\d[^\n]* \[[^\n]*\]: |: not computed: )"
        assert re.search(line, result.stdout), result.stdout
    assert len(missed) <= 2, (missed, summary["lift"])  # 12 intervals, each misses rarely
    assert "significant at 95%" in result.stdout
    # The kpis report of c1 (released values) and the retailer's own exact opt-in rates.
    assert "kpis of campaign c1" in result.stdout
    assert "  conversion_rate " in result.stdout
    assert "retailer's opt-in rate, customers for measurement" in result.stdout
    # Its post-noise ratios are compared with the exact ratios like every other cell.
    kpis = next(r for r in summary["reports"] if r["name"] == "campaign_kpis")
    compared = {c["column"] for c in kpis["cells"] if c["within"] is not None}
    assert {"conversion_rate", "value_90d_per_exposed"} <= compared
    assert "server stopped" in result.stdout


def test_bind_template_sql_binds_defaults_and_given_values() -> None:
    source = parse_template_file((QUERIES_DIR / "exposed_conversion.sql").read_text())
    sql = bind_template_sql(source, {"window_days": 7})
    assert ":" not in sql.replace("::", "")
    assert "'c1', 'c2', 'c3', 'c4'" in sql


def test_bind_template_sql_refuses_a_mistyped_value() -> None:
    source = parse_template_file((QUERIES_DIR / "exposed_conversion.sql").read_text())
    with pytest.raises(TemplateRejected):
        bind_template_sql(source, {"window_days": "a week"})


def test_compare_report_matches_rows_on_group_keys() -> None:
    report = {
        "columns": ["campaign_id", "spend_cents", "sales", "roas"],
        "rows": [
            {"campaign_id": "c2", "spend_cents": 700000, "sales": 1000.0, "roas": 0.0014},
            {"campaign_id": "c1", "spend_cents": 500000, "sales": 900.0, "roas": None},
        ],
        "accuracy": {
            "half_widths": {"sales": 50.0},
            "row_half_widths": [{"sales": 50.0, "roas": 0.001}, {"sales": 50.0, "roas": None}],
        },
    }
    exact = ExactAnswer(
        ("campaign_id", "spend_cents", "sales", "roas"),
        (
            {"campaign_id": "c1", "spend_cents": 500000.0, "sales": 1000, "roas": 0.002},
            {"campaign_id": "c2", "spend_cents": 700000, "sales": 1040, "roas": 0.0015},
        ),
    )
    comparison = compare_report("roas", report, exact)
    assert comparison.key_columns == ("campaign_id", "spend_cents")
    verdicts = {(c.keys[0], c.column): c.to_dict()["within"] for c in comparison.cells}
    assert verdicts == {
        ("c2", "sales"): True,
        ("c2", "roas"): True,
        ("c1", "sales"): False,
        ("c1", "roas"): None,  # unbounded: not compared
    }
    assert (comparison.within, comparison.compared) == (2, 3)


def test_exact_answer_runs_plain_sql_on_the_engine(settings: Settings) -> None:
    folder = settings.data_dir / "exact"
    folder.mkdir()
    pd.DataFrame({"pid": ["a", "a", "b"], "campaign_id": ["c1", "c1", "c2"]}).to_parquet(
        folder / "exposures.parquet"
    )
    text = (
        "-- name: reach\n-- purpose: measurement\n"
        '-- param: ids list[str] = ["c1", "c2"]\n'
        "SELECT campaign_id, COUNT(DISTINCT pid) AS reach, COUNT(*) AS impressions\n"
        "FROM exposures WHERE campaign_id IN :ids GROUP BY campaign_id ORDER BY campaign_id"
    )
    answer = exact_answer(settings, text, {"exposures": folder / "exposures.parquet"})
    assert answer.columns == ("campaign_id", "reach", "impressions")
    assert answer.rows == (
        {"campaign_id": "c1", "reach": 1, "impressions": 2},
        {"campaign_id": "c2", "reach": 1, "impressions": 1},
    )
