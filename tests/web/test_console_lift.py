"""The console's report page shows a holdout test's lift: per campaign each estimate with its
95% interval and the plain significance statement, when the report has a ``lift`` member."""

from __future__ import annotations

from pathlib import Path

from cleanroom.config import load_settings
from cleanroom.dp.lift import lift_of
from cleanroom.types import parse_lift
from cleanroom.web.app import create_app
from tests.conftest import TEST_JWT_SECRET, TEST_SECRET

ROWS = [
    {"campaign_id": "c1", "cell": "test", "users": 63380, "buyers": 9507, "sales": 9_126_000},
    {"campaign_id": "c1", "cell": "holdout", "users": 15190, "buyers": 1823, "sales": 1_822_800},
    {"campaign_id": "c2", "cell": "test", "users": 500, "buyers": 40, "sales": 30_000},
]
MECHANISMS = [{"column": c, "mechanism": "discrete_laplace", "scale": s}
              for c, s in (("users", 6.0), ("buyers", 6.0), ("sales", 60000.0))]  # fmt: skip
BOUNDS = {"users": (0.0, 1.0), "buyers": (0.0, 1.0), "sales": (0.0, 30000.0)}


def test_lift_section_states_intervals_and_significance(tmp_path: Path) -> None:
    settings = load_settings(env={}, config_file=None, data_dir=tmp_path, secret_key=TEST_SECRET,
                             jwt_secret=TEST_JWT_SECRET)  # fmt: skip
    app = create_app({"SERVICES_FACTORY": None}, settings)
    lift = lift_of(parse_lift("cell test holdout"), ROWS, ["campaign_id"], MECHANISMS, BOUNDS)
    with app.test_request_context("/console/"):
        template = app.jinja_env.get_template("console/report_lift.html")
        html = template.render(report={"lift": lift})
    assert "Holdout lift: test against holdout" in html
    assert (
        '<tr class="significant">\n        <th scope="row">c1</th>\n        <td>Lift</td>' in html
    )
    assert "+25.0% [+" in html
    assert "significant at 95%" in html
    assert "not significant at 95%" in html  # c1's incremental sales
    assert "not computed: a cell was not released" in html  # c2 has no holdout row
    assert "sampling error" in html
