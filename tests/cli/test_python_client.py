"""The Python client on its own: importing it loads nothing of the server and emails hash without
it, ``Report.to_pandas()`` has the CSV download's interval columns, and docs/client.md's scheduler
example runs against a real server (the Flask app with its services behind werkzeug's threaded
WSGI server)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from werkzeug.serving import make_server

import cleanroom
from cleanroom.client import ApiClient, Report
from cleanroom.config import Settings
from cleanroom.services.auth import mint_token
from cleanroom.services.collaborations import create_collaboration
from cleanroom.services.context import build_services
from cleanroom.services.datasets import register_dataset
from cleanroom.services.reports import report_csv
from cleanroom.services.requests import DatasetRegistration, TemplateSubmission
from cleanroom.services.templates import decide_template, submit_template
from cleanroom.web.app import create_app
from cleanroom.web.state import close_app
from tests.cli.cli_world import ADVERTISER, POLICY, RETAILER, SPEC, TEMPLATE, write_inputs

ROOT = Path(__file__).resolve().parents[2]
SERVER_STACK = (
    "flask", "werkzeug", "click", "gunicorn", "duckdb", "pyspark", "opendp", "sqlglot",
    "sqlalchemy", "alembic", "psycopg", "pyarrow", "numpy", "pandas", "jwt", "matplotlib",
    "phonenumbers", "apispec",
)  # fmt: skip
SERVER_PACKAGES = (
    "cleanroom.cli", "cleanroom.demo", "cleanroom.web", "cleanroom.services", "cleanroom.policy",
    "cleanroom.dp", "cleanroom.engine", "cleanroom.store", "cleanroom.ingest", "cleanroom.config",
)  # fmt: skip

# Run in a fresh interpreter where every server module is unimportable, as on a machine where
# only the client's dependencies are installed.
ISOLATED = """
import importlib.abc, json, sys
STACK, PACKAGES = json.loads(sys.argv[1])
def blocked(name):
    return name.split(".")[0] in STACK or any(name == p or name.startswith(p + ".")
                                              for p in PACKAGES)
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if blocked(name):
            raise ImportError("not installed here: " + name)
        return None
sys.meta_path.insert(0, Block())
import cleanroom.client
from cleanroom.client import ApiClient, ApiError, Report
report = Report({"columns": ["n"], "rows": [{"n": 3}],
                 "accuracy": {"half_widths": {"n": 1.0}, "row_intervals": [{"n": [2.0, 4.0]}]}})
assert report.records() == [{"n": 3, "n_lo": 2.0, "n_hi": 4.0}]
ApiClient("http://127.0.0.1:1", token="t").url("/v1/whoami")
import hashlib, pathlib, tempfile
from cleanroom.client.hashing import hash_identifier_file
with tempfile.TemporaryDirectory() as tmp:
    src, out = pathlib.Path(tmp, "in.csv"), pathlib.Path(tmp, "out.csv")
    src.write_text("email\\nJane.Doe+x@GMAIL.com\\n", encoding="utf-8")
    assert hash_identifier_file(src, out, "email").hashed == 1
    digest = hashlib.sha256(b"janedoe@gmail.com").hexdigest()
    assert out.read_text(encoding="utf-8").split() == ["email", digest]
print(json.dumps(sorted(m for m in sys.modules if blocked(m))))
"""


def test_the_client_imports_nothing_of_the_server() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ISOLATED, json.dumps([SERVER_STACK, SERVER_PACKAGES])],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_install_line_pins_this_version() -> None:
    text = (ROOT / "docs" / "client.md").read_text(encoding="utf-8")
    assert f"pip install --no-deps 'cleanroom=={cleanroom.__version__}'" in text


def import_error_without(module: str, setup: str, call: str) -> str:
    """What ``call`` raises (an ImportError's message) in a fresh interpreter without ``module``."""
    script = (
        f"import sys; sys.modules[{module!r}] = None\n{setup}\n"
        f"try:\n    {call}\nexcept ImportError as err:\n    print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


@pytest.mark.parametrize(
    ("module", "setup", "call"),
    [
        ("pandas", "from cleanroom.client import Report",
         "Report({'columns': [], 'rows': []}).to_pandas()"),
        ("phonenumbers", "from cleanroom.client.normalize import normalize_phone",
         "normalize_phone('+1 234 567 8901')"),
    ],
)  # fmt: skip
def test_an_optional_library_missing_says_how_to_install_it(
    module: str, setup: str, call: str
) -> None:
    assert "pip install 'cleanroom[client]'" in import_error_without(module, setup, call)


REPORT: dict[str, Any] = {
    "columns": ["brand", "buyers", "share"],
    "rows": [{"brand": "=acme", "buyers": 120, "share": 0.25}, {"brand": "b", "buyers": 80}],
    "accuracy": {
        "half_widths": {"buyers": 9.5, "share": 0.02},
        "row_intervals": [{"buyers": [110.5, 129.5], "share": [0.23, 0.27]}, {"buyers": None}],
    },
}


def test_to_pandas_has_the_csv_columns_and_values() -> None:
    frame = Report(REPORT).to_pandas()
    from_csv = pd.read_csv(io.StringIO(report_csv(REPORT)))
    assert list(frame.columns) == list(from_csv.columns)
    assert list(frame.columns) == [
        "brand", "buyers", "share", "buyers_lo", "buyers_hi", "share_lo", "share_hi",
    ]  # fmt: skip
    assert frame["brand"].tolist() == ["=acme", "b"]  # the value; only the CSV quotes formulas
    assert frame.loc[0, "buyers_lo"] == 110.5
    assert frame.loc[0, "share_hi"] == 0.27
    assert frame["buyers_hi"].isna().tolist() == [False, True]
    assert frame["share"].isna().tolist() == [False, True]
    pd.testing.assert_series_equal(frame["buyers_hi"], from_csv["buyers_hi"])


def test_to_pandas_of_a_report_without_rows() -> None:
    empty = Report({**REPORT, "rows": [], "accuracy": {**REPORT["accuracy"], "row_intervals": []}})
    frame = empty.to_pandas()
    assert frame.empty
    assert "buyers_lo" in frame.columns


# -- docs/client.md against a real server ------------------------------------------------------


@pytest.fixture
def server_url(cli_settings: Settings) -> Iterator[str]:
    build_services(cli_settings, migrate=True).close()
    app = create_app(None, cli_settings.replace(worker_threads=1))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        close_app(app)


def docs_examples() -> list[str]:
    text = (ROOT / "docs" / "client.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def approved_template(settings: Settings, folder: Path) -> tuple[str, str]:
    """A collaboration with the CLI tests' dataset and an approved template: their ids."""
    paths = write_inputs(folder)
    svc = build_services(settings)
    try:
        collab = create_collaboration(svc, RETAILER, "client-docs", ["acme"], POLICY)
        register_dataset(
            svc, RETAILER, collab.id, paths["data"], DatasetRegistration.from_json(SPEC)
        )
        template = submit_template(
            svc, ADVERTISER, collab.id, TemplateSubmission.from_json({"sql": TEMPLATE})
        )
        decide_template(svc, RETAILER, collab.id, template.id, "approve")
    finally:
        svc.close()
    return collab.id, template.id


def test_the_scheduler_example_runs(
    server_url: str, cli_settings: Settings, inputs: Path, tmp_path: Path
) -> None:
    collab, template = approved_template(cli_settings, inputs)
    token = mint_token(cli_settings, org="acme", role="advertiser", sub="airflow")
    tasks, blocking = docs_examples()
    names: dict[str, Any] = {"__name__": "__docs__"}
    exec(compile(tasks, "docs/client.md", "exec"), names)

    run_id = names["start_run"](server_url, token, collab, template, "2026-12-07")
    retried = names["start_run"](server_url, token, collab, template, "2026-12-07")
    assert retried == run_id  # a retried task gets the same run, charged once
    client = ApiClient(server_url, token=token)
    client.wait_for_run(collab, run_id, timeout=300)  # the sensor's pokes, in one call
    assert names["run_finished"](server_url, token, collab, run_id) is True

    out = tmp_path / "report.csv"
    rows = names["save_report"](server_url, token, collab, run_id, str(out))
    saved = pd.read_csv(out)
    assert rows == len(saved) > 0
    assert {"campaign_id", "reach", "reach_lo", "reach_hi"} <= set(saved.columns)
    assert (saved["reach_lo"] <= saved["reach"]).all()
    assert (saved["reach"] <= saved["reach_hi"]).all()
    download = pd.read_csv(io.BytesIO(client.download_report(collab, run_id, "csv")))
    assert list(download.columns) == list(saved.columns)  # one layout: the CSV download's

    exec(compile(blocking, "docs/client.md", "exec"), names)
    finished = names["run_and_wait"](server_url, token, collab, template)
    assert finished["status"] == "succeeded"
    assert finished["id"] != run_id


def test_the_scheduler_example_reports_a_failed_or_missing_run(
    server_url: str, cli_settings: Settings, inputs: Path, tmp_path: Path
) -> None:
    collab, _ = approved_template(cli_settings, inputs)
    token = mint_token(cli_settings, org="acme", role="advertiser", sub="airflow")
    names: dict[str, Any] = {"__name__": "__docs__"}
    exec(compile(docs_examples()[0], "docs/client.md", "exec"), names)
    with pytest.raises(Exception, match="not_found"):
        names["run_finished"](server_url, token, collab, "run_does_not_exist")
    with pytest.raises(Exception, match="not_found"):
        names["save_report"](server_url, token, collab, "run_does_not_exist", str(tmp_path / "x"))
