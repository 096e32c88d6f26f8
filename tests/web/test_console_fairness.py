"""The console's report page shows a fairness analysis's composition: each audience's shares and
disparity ratios with intervals, and the review flag, when the report has one."""

from __future__ import annotations

import re
from pathlib import Path

from cleanroom.config import load_settings
from cleanroom.dp.fairness import composition
from cleanroom.web.app import create_app
from tests.conftest import TEST_JWT_SECRET, TEST_SECRET

ROWS = [
    {"age_band": "18-34", "eligible": 5254, "reached": 2208},
    {"age_band": "55+", "eligible": 3758, "reached": 548},
]
MECHANISMS = [{"column": c, "mechanism": "discrete_laplace", "scale": 3.0}
              for c in ("eligible", "reached")]  # fmt: skip


def _render(tmp_path: Path, min_ratio: float) -> str:
    settings = load_settings(env={}, config_file=None, data_dir=tmp_path, secret_key=TEST_SECRET,
                             jwt_secret=TEST_JWT_SECRET)  # fmt: skip
    app = create_app({"SERVICES_FACTORY": None}, settings)
    fairness = composition(ROWS, "age_band", ["eligible", "reached"], MECHANISMS, min_ratio)
    with app.test_request_context("/console/"):
        template = app.jinja_env.get_template("console/report_fairness.html")
        return template.render(report={"fairness": fairness})


def test_a_flagged_group_is_shown_for_review(tmp_path: Path) -> None:
    html = _render(tmp_path, 0.8)
    assert "Flagged for human review</strong>: 55+" in html
    assert '<tr class="flagged">\n        <th scope="row">55+</th>' in html
    assert re.search(r"55\+</th>.*?0\.\d\d \[0\.\d\d, 0\.\d\d\]", html, re.S)
    assert "run.flagged_for_review" in html


def test_nothing_flagged_says_so(tmp_path: Path) -> None:
    html = _render(tmp_path, 0.1)
    assert "No group is flagged" in html
    assert 'class="flagged"' not in html
