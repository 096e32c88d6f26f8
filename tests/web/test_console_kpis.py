"""The console's KPIs page through Flask's test client: the retailer admin sees a partner's
released campaign KPIs with intervals and its own exact opt-in rates and suppression matches; the
partner sees the same campaign KPIs and none of the retailer's figures; another partner has no
KPIs to read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanroom.config import Settings
from tests.web.console_world import ConsoleUser
from tests.web.route_world import (
    ADVERTISER,
    OTHER_PARTNER,
    RETAILER,
    RouteApi,
    setup_collaboration,
)
from tests.web.test_kpis_routes import _kpi_run


@pytest.fixture
def api(settings: Settings) -> Iterator[RouteApi]:
    api = RouteApi(settings)
    try:
        yield api
    finally:
        api.close()


def test_the_kpis_page_by_standing(api: RouteApi, tmp_path: Path) -> None:
    cid, _ = setup_collaboration(api, tmp_path, (ADVERTISER, OTHER_PARTNER))
    page = f"/console/c/{cid}/kpis"
    admin = ConsoleUser(api, RETAILER, "retailer_admin").sign_in()
    before = admin.text(f"{page}?campaign_id=c1")
    assert "no succeeded campaign_kpis run" in before
    assert 'id="opt-in"' in before  # the governance part does not need a run
    run_id = _kpi_run(api, cid)

    html = admin.text(f"{page}?campaign_id=c1")
    for needle in ('id="campaign-kpis"', run_id, "conversion_rate", "aov", "repeat_rate",
                   "value_90d_per_exposed", 'id="opt-in"', "transactions v1",
                   'id="suppression"', 'id="run-filters"', "KPIs</a>"):  # fmt: skip
        assert needle in html, needle
    assert "<script" not in html

    partner = ConsoleUser(api, ADVERTISER, "advertiser").sign_in()
    mine = partner.text(f"{page}?campaign_id=c1")
    assert 'id="campaign-kpis"' in mine
    for hidden in ('id="opt-in"', 'id="suppression"', 'id="run-filters"', "transactions v1"):
        assert hidden not in mine, hidden
    assert "None of your org's datasets has a consent column." in mine

    beta = ConsoleUser(api, OTHER_PARTNER, "advertiser").sign_in()
    theirs = beta.text(f"{page}?campaign_id=c1")
    assert run_id not in theirs
    assert 'id="campaign-kpis"' not in theirs
    assert "no succeeded campaign_kpis run" in theirs
