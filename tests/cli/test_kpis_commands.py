"""``cleanroom kpis campaign|governance|run`` against a real server on a small demo world: the
retailer admin reads a partner's released campaign KPIs and its own exact governance KPIs; the
partner reads the same KPIs but no exact figure of the retailer's data."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom.cli import exits
from cleanroom.config import Settings
from cleanroom.demo.uploads import hash_world
from cleanroom.demo.world import generate_world
from cleanroom.services.context import build_services
from cleanroom.services.requests import RunRequest
from cleanroom.services.runs import RunWorker, create_run
from tests.cli.test_client_commands import _as, server_url
from tests.services.conftest import ANALYST, build_room

__all__ = ["server_url"]


@pytest.fixture
def kpi_run(cli_settings: Settings, tmp_path: Path) -> tuple[str, str]:
    """A demo collaboration with one succeeded campaign_kpis run: (cid, run id)."""
    world = generate_world(tmp_path / "world", seed=11, shoppers=1000)
    files = hash_world(world, tmp_path / "hashed")
    svc = build_services(cli_settings.replace(worker_threads=0), migrate=True)
    try:
        room = build_room(svc, files, ("campaign_kpis",))
        body = {"template_id": room.templates["campaign_kpis"].id, "parameters": {},
                "privacy_loss": {"epsilon": 3.0, "delta": 1e-7}}  # fmt: skip
        run, _ = create_run(svc, ANALYST, room.collab.id, RunRequest.from_json(body))
        RunWorker(svc, "test").run_pending()
        return room.collab.id, run.id
    finally:
        svc.close()


def test_kpis_as_the_retailer_and_as_the_partner(
    server_url: str, cli_settings: Settings, kpi_run: tuple[str, str]
) -> None:
    cid, run_id = kpi_run
    admin = _as(cli_settings, server_url, "retailer", "retailer_admin")
    partner = _as(cli_settings, server_url, "acme", "advertiser")

    text = admin("kpis", "campaign", "--collaboration", cid, "c1").stdout
    assert f"campaign c1: campaign_kpis run {run_id} of acme" in text
    for line in ("conversion_rate", "aov", "repeat_rate", "value_90d_per_exposed",
                 "opt-in rates (exact, retailer's own datasets)", "suppression list",
                 "rows the run's filters removed"):  # fmt: skip
        assert line in text, line
    found = admin.json("kpis", "campaign", "--collaboration", cid, "c1")
    assert {i["dataset"] for i in found["governance"]["opt_in"]} == {"customers", "transactions"}

    mine = partner.json("kpis", "campaign", "--collaboration", cid, "c1")
    assert mine["campaign"]["values"] == found["campaign"]["values"]
    assert mine["governance"]["opt_in"] == []
    assert "suppression" not in mine["governance"]
    assert "suppression list" not in partner("kpis", "campaign", "--collaboration", cid,
                                             "c1").stdout  # fmt: skip

    governance = admin.json("kpis", "governance", "--collaboration", cid)
    assert governance["suppression"]["listed"] == 0
    assert partner.json("kpis", "governance", "--collaboration", cid)["opt_in"] == []
    removed = admin.json("kpis", "run", "--collaboration", cid, run_id)
    assert {d["dataset"] for d in removed["datasets"]} == {"exposures", "transactions"}
    assert "(none of your datasets)" in partner("kpis", "run", "--collaboration", cid,
                                                 run_id).stdout  # fmt: skip

    missing = partner("kpis", "campaign", "--collaboration", cid, "c9", ok=False)
    assert missing.exit_code == exits.NOT_FOUND
    assert missing.stderr.startswith("not_found: ")
