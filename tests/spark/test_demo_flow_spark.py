"""The demo flow with CLEANROOM_ENGINE=spark: a collaboration built through the services layer,
two approved templates run by the worker on Spark, reports shaped exactly like DuckDB's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cleanroom.config import Settings
from cleanroom.demo.exact import person_key
from cleanroom.demo.specs import demo_dataset_specs
from cleanroom.demo.world import World
from cleanroom.engine import SparkEngine
from cleanroom.services.context import build_services
from cleanroom.services.reports import get_report
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run, get_run
from tests.services.conftest import ANALYST, build_room

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.system_long]

# QUALIFY (a subquery on Spark), INTERVAL (:n) DAY and DATE_DIFF('day', ...) in one pair.
TEMPLATES = ("last_touch_attribution", "time_to_conversion")


@pytest.fixture(scope="module")
def hashed_files(parity_world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The world's CSVs with emails replaced by their SHA-256, as a partner uploads them."""
    out = tmp_path_factory.mktemp("spark-flow-hashed")
    files = {}
    for name, path in parity_world.files.items():
        frame = pd.read_csv(path)
        for column, col in demo_dataset_specs()[name]["columns"].items():
            if col["role"] == "identifier":
                frame[column] = frame[column].map(person_key)
        files[name] = out / f"{name}.csv"
        frame.to_csv(files[name], index=False)
    return files


def _reports(settings: Settings, files: dict[str, Path]) -> dict[str, dict[str, Any]]:
    svc = build_services(settings, migrate=True)
    try:
        room = build_room(svc, files, TEMPLATES)
        runs = {}
        for name in TEMPLATES:
            body = {
                "template_id": room.templates[name].id,
                "parameters": {},
                "privacy_loss": {"epsilon": 1.0},
            }
            run, created = create_run(
                svc, ANALYST, room.collab.id, RunRequest.from_json(body), f"key-{name}"
            )
            assert created
            runs[name] = run.id
        assert RunWorker(svc, "t").run_pending() == len(TEMPLATES)
        assert svc.engine().name == settings.engine
        reports = {}
        for name, run_id in runs.items():
            finished = get_run(svc, ANALYST, room.collab.id, run_id)
            assert finished.status == "succeeded", finished.error_message
            reports[name] = get_report(svc, ANALYST, room.collab.id, run_id)
        return reports
    finally:
        svc.close()


def _keys(report: dict[str, Any]) -> list[str]:
    return [k if isinstance(k, str) else k["name"] for k in report.get("group_keys", [])]


def test_the_demo_runs_on_spark_like_on_duckdb(
    settings: Settings,
    hashed_files: dict[str, Path],
    spark_engine: SparkEngine,  # the shared session (1 GB driver), started before the worker's
    tmp_path: Path,
) -> None:
    duck_data, spark_data = tmp_path / "duck", tmp_path / "spark"
    duck_data.mkdir()
    spark_data.mkdir()
    duck = _reports(settings.replace(data_dir=duck_data, engine="duckdb"), hashed_files)
    spark = _reports(settings.replace(data_dir=spark_data, engine="spark"), hashed_files)
    for name in TEMPLATES:
        d, s = duck[name], spark[name]
        assert sorted(s) == sorted(d)
        assert s["columns"] == d["columns"]
        assert _keys(s) == _keys(d)
        assert s["partition_selection"]["kind"] == d["partition_selection"]["kind"]
        assert s["rows"], name
        for row in s["rows"]:
            assert sorted(row) == sorted(d["rows"][0])
        # Public key domains: the same groups are released (before the min-users filter,
        # which acts on noisy counts, each row's keys come from the same domain).
        first = s["columns"][0]
        assert {r[first] for r in s["rows"]} <= {"c1", "c2", "c3", "c4"}
