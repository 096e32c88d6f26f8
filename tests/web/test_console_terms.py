"""Changing a collaboration's terms in the console: the retailer admin tightens for free, a
loosening waits for its confirmation, a partner's budget is topped up, and nothing of it is
open to a partner. The pages call the API's use cases: the API sees every change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.web.console_world import ConsoleUser, two_partner_collaboration
from tests.web.route_world import ADVERTISER, OTHER_PARTNER, RETAILER, RouteApi


@dataclass
class World:
    api: RouteApi
    cid: str
    admin: ConsoleUser

    def collaboration(self) -> dict[str, Any]:
        got = self.api.call("GET", f"/v1/collaborations/{self.cid}", RETAILER, "retailer_admin")
        body: dict[str, Any] = got.get_json()
        return body

    def events(self) -> list[dict[str, Any]]:
        path = f"/v1/collaborations/{self.cid}/audit?limit=1000"
        items: list[dict[str, Any]] = self.api.call("GET", path, RETAILER, "auditor").get_json()[
            "items"
        ]
        return items

    def budget_of(self, org: str) -> dict[str, Any]:
        path = f"/v1/collaborations/{self.cid}/budget"
        lines = self.api.call("GET", path, RETAILER, "retailer_admin").get_json()["items"]
        return next(line for line in lines if line["org"] == org)

    def terms_form(self, **changes: str) -> dict[str, str]:
        """The terms page's form as shown, with ``changes`` typed over it."""
        page = self.admin.text(f"/console/c/{self.cid}/terms")
        form: dict[str, str] = {}
        for key in ("epsilon_budget", "delta_budget", "min_users_per_row", "max_groups_per_user",
                    "max_count_per_user", "max_epsilon_per_run", "budget_refresh", "purposes",
                    "starts_at", "ends_at"):  # fmt: skip
            marker = f'id="{key}" name="{key}" value="'
            assert marker in page, key
            form[key] = page.split(marker)[1].split('"')[0]
        form.update(changes)
        return form


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    api, _, cid, _ = two_partner_collaboration(tmp_path_factory, "terms")
    admin = ConsoleUser(api, RETAILER, "retailer_admin").sign_in()
    yield World(api, cid, admin)
    api.close()


def test_a_tightening_is_applied_at_once_and_audited(world: World) -> None:
    before = world.collaboration()["policy"]["min_users_per_row"]
    sent = world.admin.post(
        f"/console/c/{world.cid}/terms",
        data=world.terms_form(min_users_per_row=str(before + 25), reason="stricter rows"),
    )
    assert sent.status_code == 200
    assert "Terms amended (min_users_per_row)" in sent.get_data(as_text=True)
    assert world.collaboration()["policy"]["min_users_per_row"] == before + 25
    event = [e for e in world.events() if e["name"] == "collaboration.updated"][-1]
    assert event["details"]["loosening"] == []
    assert event["details"]["reason"] == "stricter rows"


def test_a_loosening_waits_for_its_confirmation(world: World) -> None:
    total = world.collaboration()["policy"]["epsilon_budget"]
    updates = len([e for e in world.events() if e["name"] == "collaboration.updated"])
    form = world.terms_form(epsilon_budget=str(total + 5))
    refused = world.admin.post(f"/console/c/{world.cid}/terms", data=form)
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert 'id="loosening"' in text
    assert "epsilon_budget" in text
    assert f'value="{total + 5}"' in text  # what was typed is kept for the second attempt
    assert world.collaboration()["policy"]["epsilon_budget"] == total
    assert len([e for e in world.events() if e["name"] == "collaboration.updated"]) == updates

    applied = world.admin.post(
        f"/console/c/{world.cid}/terms", data={**form, "allow_loosening": "yes"}
    )
    assert applied.status_code == 200
    assert "weakens the privacy guarantee" in applied.get_data(as_text=True)
    assert world.collaboration()["policy"]["epsilon_budget"] == total + 5
    event = [e for e in world.events() if e["name"] == "collaboration.updated"][-1]
    assert event["details"]["loosening"] == ["epsilon_budget"]


def test_an_unchanged_form_changes_nothing_and_a_bad_number_is_said(world: World) -> None:
    updates = len([e for e in world.events() if e["name"] == "collaboration.updated"])
    same = world.admin.post(f"/console/c/{world.cid}/terms", data=world.terms_form())
    assert same.status_code == 200
    assert "Nothing changed" in same.get_data(as_text=True)
    bad = world.admin.post(
        f"/console/c/{world.cid}/terms", data=world.terms_form(max_groups_per_user="many")
    )
    assert bad.status_code == 400
    assert "max groups per user must be a whole number" in bad.get_data(as_text=True)
    assert len([e for e in world.events() if e["name"] == "collaboration.updated"]) == updates


def test_an_end_date_is_set_in_utc(world: World) -> None:
    sent = world.admin.post(
        f"/console/c/{world.cid}/terms", data=world.terms_form(ends_at="2099-06-30T18:00")
    )
    assert sent.status_code == 200, sent.get_data(as_text=True)
    assert world.collaboration()["ends_at"].startswith("2099-06-30T18:00:00")


def test_a_partner_budget_is_topped_up(world: World) -> None:
    before = world.budget_of(OTHER_PARTNER)["total"]["epsilon"]
    sent = world.admin.post(
        f"/console/c/{world.cid}/budget/{OTHER_PARTNER}/raise",
        data={"epsilon": "1.5", "reason": "Q4 campaign"},
    )
    assert sent.status_code == 200
    assert f"Budget of {OTHER_PARTNER} raised" in sent.get_data(as_text=True)
    assert world.budget_of(OTHER_PARTNER)["total"]["epsilon"] == pytest.approx(before + 1.5)
    assert [e for e in world.events() if e["name"] == "budget.raised"]

    for bad, message in (({"epsilon": "lots"}, "must be a number"),
                         ({"epsilon": "-1"}, "epsilon")):  # fmt: skip
        refused = world.admin.post(f"/console/c/{world.cid}/budget/{OTHER_PARTNER}/raise",
                                   data=bad)  # fmt: skip
        assert refused.status_code == 400
        assert message in refused.get_data(as_text=True)
    assert world.budget_of(OTHER_PARTNER)["total"]["epsilon"] == pytest.approx(before + 1.5)
    # Not a partner: the same 404 as the API.
    assert world.admin.post(f"/console/c/{world.cid}/budget/nobody/raise",
                            data={"epsilon": "1"}).status_code == 404  # fmt: skip


def test_partners_cannot_change_the_terms(world: World) -> None:
    partner = ConsoleUser(world.api, ADVERTISER, "advertiser").sign_in()
    overview = partner.text(f"/console/c/{world.cid}")
    assert f"/console/c/{world.cid}/terms" not in overview
    assert partner.get(f"/console/c/{world.cid}/terms").status_code == 403
    before = world.collaboration()
    tried = partner.post(f"/console/c/{world.cid}/terms", data={"min_users_per_row": "1"})
    assert tried.status_code == 403
    raised = partner.post(f"/console/c/{world.cid}/budget/{ADVERTISER}/raise",
                          data={"epsilon": "100"})  # fmt: skip
    assert raised.status_code == 403
    assert world.collaboration()["policy"] == before["policy"]
