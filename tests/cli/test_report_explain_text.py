"""``report explain``'s text for a report with flagged cells (a real release, clipped at zero)."""

from __future__ import annotations

from cleanroom.cli.reports import explain_text
from cleanroom.dp import PrivacyLoss, release
from tests.dp.dp_plans import attribution_plan, table

CAMPAIGNS = [f"c{i}" for i in range(40)]


def test_every_flagged_cell_is_listed_with_its_row_keys_and_note() -> None:
    plan = attribution_plan(CAMPAIGNS, min_users=0)
    zeros = table(CAMPAIGNS, buyers=[0] * 40, sales=[0] * 40)  # noise often goes below zero
    report = {"run_id": "r1", "template": {"name": "t", "version": 1}}
    report |= release(plan, zeros, PrivacyLoss(0.5)).to_dict()
    text = explain_text(report)
    words = " ".join(text.split())
    cells = report["explanations"]["cells"]
    assert cells
    for cell in cells:
        row = report["rows"][cell["row"]]
        where = f"row {cell['row'] + 1} (campaign={row['campaign']}), {cell['column']} = 0:"
        assert where in text
    assert "the noise took this measurement past zero" in words
    assert "(none:" not in text
    for heading in ("Rows:", "Outputs:", "campaign (group key):", "sales (measurement):"):
        assert heading in text


def test_a_report_from_before_explanations_says_so() -> None:
    text = explain_text({"run_id": "r0", "template": {"name": "t", "version": 1}, "rows": []})
    assert "made before explanations were recorded" in text
