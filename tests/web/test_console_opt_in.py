"""The console's report page shows a consent analysis's opt-in rate: the released counts with and
without consent and the rate with its 95% interval, when the report has an ``opt_in`` member."""

from __future__ import annotations

from pathlib import Path

from cleanroom.config import load_settings
from cleanroom.dp.opt_in import opt_in_of
from cleanroom.web.app import create_app
from tests.conftest import TEST_JWT_SECRET, TEST_SECRET

ROWS = [{"consented": False, "people": 360}, {"consented": True, "people": 4639}]
MECHANISMS = [{"column": "people", "mechanism": "discrete_laplace", "scale": 1.0}]


def test_opt_in_section_states_the_rate_and_its_interval(tmp_path: Path) -> None:
    settings = load_settings(env={}, config_file=None, data_dir=tmp_path, secret_key=TEST_SECRET,
                             jwt_secret=TEST_JWT_SECRET)  # fmt: skip
    app = create_app({"SERVICES_FACTORY": None}, settings)
    opt_in = opt_in_of(ROWS, "consented", "people", [], MECHANISMS, "customers", "measurement")
    with app.test_request_context("/console/"):
        template = app.jinja_env.get_template("console/report_opt_in.html")
        html = template.render(report={"opt_in": opt_in})
    assert "Opt-in rate: customers for measurement" in html
    assert '<th scope="row">all</th>' in html
    assert "92.8% [92.7%, 92.9%]" in html
    assert "not sampling" in html
