"""Every cell of a real run's report is explained (the API's JSON report, the worker's release)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanroom.config import Settings
from cleanroom.services.reports import report_explanations, report_layout
from tests.web.route_world import ADVERTISER, RouteApi, setup_collaboration


@pytest.fixture
def api(settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(settings)
    try:
        yield api
    finally:
        api.close()


def test_every_output_and_flagged_cell_of_a_real_report_is_explained(
    api: RouteApi, tmp_path: Path
) -> None:
    cid, tid = setup_collaboration(api, tmp_path)
    run_id = api.start_run(cid, tid).get_json()["id"]
    assert api.run_pending() == 1
    got = api.call(
        "GET", f"/v1/collaborations/{cid}/runs/{run_id}/report", ADVERTISER, "advertiser"
    )
    assert got.status_code == 200
    report = got.get_json()
    explanations = report["explanations"]
    assert set(explanations) == {"release", "measurements", "outputs", "notes", "cells"}
    assert report["rows"]  # the world's campaigns have enough people
    # Every output column (and so every cell of every row) has a plain explanation.
    assert set(explanations["outputs"]) == set(report["columns"])  # stored with sorted keys
    layout = report_layout(report)
    for column in report["columns"]:
        entry = explanations["outputs"][column]
        assert entry["text"]
        assert entry["kind"] == ("group_key" if column in layout.key_columns else "measurement")
    # Flags only name released rows, outputs and codes the legend explains.
    for cell in explanations["cells"]:
        assert 0 <= cell["row"] < len(report["rows"])
        assert cell["column"] in layout.value_columns
        assert cell["note"] in explanations["notes"]
    # Bounds: sales from the template's '-- bounds' header, reach by construction.
    sources = {c: m["bounds_source"] for c, m in explanations["measurements"].items()}
    assert sources == {"reach": "structural", "sales": "template"}
    assert "[0, 20000] per group" in explanations["outputs"]["sales"]["text"]
    assert "public domain" in explanations["outputs"]["campaign_id"]["text"]
    assert "declared (public) values of campaign_id" in explanations["release"]
    # The selection and the minimum, as the report's own members say.
    assert f"at least {report['min_users_per_row']}" in explanations["release"]
    assert f"{report['suppressed_by_policy']['count']} row" in explanations["release"]
    ready = report_explanations(report)
    assert ready.available
    assert [o.column for o in ready.outputs] == report["columns"]
