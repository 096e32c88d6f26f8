"""The demo's story through the console in a real headless Chromium: the advertiser registers a
dataset and submits a template (first with violations), the retailer admin reviews and approves
it, the advertiser approves the use of its CRM, previews, runs, reads the report and downloads it,
another partner cannot reach any of it, a forged form is refused, and the admin revokes the
template after a confirmation. Every page is saved as a screenshot (tests/system/browser.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cleanroom.config import load_settings
from cleanroom.services.auth import mint_token
from cleanroom.services.context import build_services
from cleanroom.services.server import serving_services
from cleanroom.web.app import create_app
from cleanroom.web.state import app_state
from tests.conftest import TEST_JWT_SECRET, TEST_SECRET
from tests.system.browser import chromium, screenshot, served
from tests.web.route_world import (
    ADVERTISER,
    OTHER_PARTNER,
    OWNERS,
    POLICY,
    REJECTED_SQL,
    RETAILER,
    SPECS,
    TEMPLATE_SQL,
    write_world,
)

WAIT_SECONDS = 60.0
pytestmark = pytest.mark.slow


class Console:
    """The browser, signed in as one principal at a time."""

    def __init__(self, driver: Any, base: str, settings: Any) -> None:
        self.driver, self.base, self.settings = driver, base, settings

    def by_id(self, element_id: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.ID, element_id)

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def click(self, element: Any) -> None:
        """Click something that loads a page, and wait until the new page replaced the old."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.wait import WebDriverWait

        old = self.css("html")
        element.click()

        def replaced(_: Any) -> bool:
            try:
                old.is_enabled()
            except WebDriverException:  # stale, or "does not belong to the document"
                return True
            return False

        WebDriverWait(self.driver, WAIT_SECONDS).until(replaced)

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def text(self) -> str:
        return str(self.css("main").text)

    def sign_in(self, org: str, role: str) -> None:
        self.open("/console/sign-in")
        self.by_id("token").send_keys(mint_token(self.settings, org, role, f"{role}@{org}"))
        self.click(self.css("form.stack button[type=submit]"))
        assert "Your collaborations" in self.text()

    def sign_out(self) -> None:
        self.click(self.css("header form button"))
        assert "Sign in" in self.text()

    def wait_for(self, needle: str) -> None:
        """Until the page (which reloads itself while a run is under way) shows ``needle``."""
        from selenium.common.exceptions import WebDriverException

        deadline = time.monotonic() + WAIT_SECONDS
        seen = ""
        while True:
            try:
                seen = self.text()
            except WebDriverException:  # mid-reload: no <main> yet, or it went stale before the read
                seen = ""
            if needle in seen:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the page never showed {needle!r}: {seen[:500]}")
            time.sleep(0.3)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[Console, str, Path, Path]]:
    """The console served over HTTP with a run worker, a collaboration with the retailer's data
    and acme's CRM already registered, and a browser."""
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(
        env={}, config_file=None, data_dir=data, secret_key=TEST_SECRET,
        jwt_secret=TEST_JWT_SECRET, worker_threads=1,
    )  # fmt: skip
    build_services(settings, migrate=True).close()
    app = create_app({"TESTING": True, "SERVICES_FACTORY": serving_services}, settings)
    api = app.test_client()

    def as_(org: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(settings, org, role, f'{role}@{org}')}"}

    body = {"name": "q3 measurement", "partner_orgs": [ADVERTISER, OTHER_PARTNER], "policy": POLICY}
    created = api.post("/v1/collaborations", json=body, headers=as_(RETAILER, "retailer_admin"))
    cid = created.get_json()["id"]
    world = write_world(tmp_path / "world")
    for name in ("exposures", "transactions", "crm"):
        owner = OWNERS[name]
        role = "retailer_admin" if owner == RETAILER else "advertiser"
        with world.files[name].open("rb") as handle:
            form = {"file": (handle, world.files[name].name), "spec": json.dumps(SPECS[name])}
            done = api.post(
                f"/v1/collaborations/{cid}/datasets", data=form, headers=as_(owner, role)
            )
        assert done.status_code == 201, done.get_json()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    try:
        with served(app) as base, chromium(downloads) as driver:
            yield Console(driver, base, settings), cid, world.files["campaign_spend"], downloads
    finally:
        app_state(app).close()


def test_the_whole_story_in_the_browser(console: tuple[Console, str, Path, Path]) -> None:
    browser, cid, spend_file, downloads = console
    c = f"/console/c/{cid}"
    browser.open("/")
    assert "Sign in" in browser.text()
    screenshot(browser.driver, "01-sign-in")

    # The advertiser registers its campaign spend from the datasets page.
    browser.sign_in(ADVERTISER, "advertiser")
    screenshot(browser.driver, "02-collaborations")
    browser.open(f"{c}/datasets")
    browser.by_id("file").send_keys(str(spend_file))
    spec = browser.by_id("spec")
    spec.clear()
    spec.send_keys(json.dumps(SPECS["campaign_spend"]))
    browser.click(browser.css("#upload ~ form button, form[enctype] button"))
    assert "campaign_spend version 1 registered" in browser.text()
    screenshot(browser.driver, "03-datasets")

    # A template with violations is shown back with each one at its line and column.
    browser.open(f"{c}/templates")
    browser.by_id("sql").send_keys(REJECTED_SQL)
    browser.click(browser.css("form.stack button[type=submit]"))
    assert "line 4, column 8" in browser.by_id("violations").text
    screenshot(browser.driver, "04-template-rejected")
    sql = browser.by_id("sql")
    sql.clear()
    sql.send_keys(TEMPLATE_SQL)
    browser.click(browser.css("section form.stack button[type=submit]"))
    assert "crm_reach" in browser.text()
    assert "pending" in browser.text()
    review_path = browser.driver.current_url.removeprefix(browser.base)
    browser.sign_out()

    # The retailer admin reviews the SQL and its analysis, and approves.
    browser.sign_in(RETAILER, "retailer_admin")
    browser.open(c)
    assert "Waiting for review" in browser.text()
    screenshot(browser.driver, "05-overview")
    browser.open(review_path)
    assert "L1 sensitivity" in browser.text()
    screenshot(browser.driver, "06-review")
    browser.by_id("reason").send_keys("measurement only, bounded")
    browser.click(browser.by_id("approve"))
    assert "measurement only, bounded" in browser.text()
    browser.sign_out()

    # The advertiser approves the use of its CRM, previews, runs and reads the report.
    browser.sign_in(ADVERTISER, "advertiser")
    browser.open(review_path)
    browser.click(browser.by_id("approve"))
    assert "approved" in browser.css("h1").text
    browser.click(browser.by_id("run"))
    epsilon = browser.by_id("epsilon")
    epsilon.clear()
    epsilon.send_keys("1")
    browser.click(browser.by_id("preview"))
    assert "It is affordable" in browser.by_id("preview-result").text
    screenshot(browser.driver, "07-run-preview")
    browser.click(browser.by_id("start"))
    browser.wait_for("succeeded")
    screenshot(browser.driver, "08-run")
    browser.click(browser.by_id("report"))
    assert "95% interval" in browser.text()
    screenshot(browser.driver, "09-report")
    browser.by_id("download-csv").click()
    csv_file = downloads / f"report-{browser.driver.current_url.split('/')[-2]}.csv"
    deadline = time.monotonic() + WAIT_SECONDS
    while not csv_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert csv_file.read_text().startswith("campaign_id,reach,sales")
    run_path = browser.driver.current_url.removeprefix(browser.base)
    browser.sign_out()

    # Another partner reaches none of acme's pages.
    browser.sign_in(OTHER_PARTNER, "advertiser")
    for path in (review_path, run_path):
        browser.open(path)
        assert "Not found" in browser.css("h1").text
    screenshot(browser.driver, "10-other-partner-not-found")
    browser.open(f"{c}/templates")
    assert "crm_reach" not in browser.text()
    browser.sign_out()

    # A forged form is refused; the confirmed revoke (the kill switch) is not.
    browser.sign_in(RETAILER, "retailer_admin")
    browser.open(review_path + "/revoke")
    screenshot(browser.driver, "11-revoke-confirm")
    browser.driver.execute_script(
        "document.querySelector('main input[name=csrf_token]').value = 'forged';"
    )
    browser.click(browser.by_id("confirm-revoke"))
    assert "csrf_failed" in browser.text()
    screenshot(browser.driver, "12-csrf-refused")
    browser.open(review_path + "/revoke")
    browser.click(browser.by_id("confirm-revoke"))
    assert "revoked" in browser.css("h1").text
    browser.open(f"{c}/audit?verify=1")
    assert "The chain verifies" in browser.text()
    assert "template.revoked" in browser.text()
    screenshot(browser.driver, "13-audit")
