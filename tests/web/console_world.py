"""The route tests' two-party world seen through the console: a Flask test client per principal,
signed in the way a person signs in (paste a token into the sign-in form, with its CSRF token)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cleanroom.config import load_settings
from cleanroom.services.auth import mint_token
from tests.conftest import TEST_JWT_SECRET, TEST_SECRET
from tests.web.route_world import ADVERTISER, OTHER_PARTNER, RouteApi, setup_collaboration

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response: TestResponse) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(response.get_data(as_text=True))
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class ConsoleUser:
    """One browser session on the console: signs in, reads pages, posts forms with its token."""

    def __init__(self, api: RouteApi, org: str, role: str) -> None:
        self.api, self.org, self.role = api, org, role
        self.client: FlaskClient = api.app.test_client()
        self.token = mint_token(api.settings, org, role, f"{role}@{org}")
        self.csrf = ""

    def sign_in(self) -> ConsoleUser:
        form = self.client.get("/console/sign-in")
        assert form.status_code == 200
        done = self.client.post(
            "/console/sign-in", data={"token": self.token, "csrf_token": csrf_of(form)}
        )
        assert done.status_code == 302, done.get_data(as_text=True)
        self.csrf = csrf_of(self.client.get("/console/collaborations"))
        return self

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)

    def text(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)


def two_partner_collaboration(
    tmp_path_factory: pytest.TempPathFactory, name: str
) -> tuple[RouteApi, Path, str, str]:
    """The route world's collaboration with two partners (acme, beta): the API, its scratch
    folder, the collaboration id and acme's approved template id."""
    tmp = tmp_path_factory.mktemp(name)
    (tmp / "data").mkdir()
    settings = load_settings(
        env={}, config_file=None, data_dir=tmp / "data", secret_key=TEST_SECRET,
        jwt_secret=TEST_JWT_SECRET,
    )  # fmt: skip
    api = RouteApi(settings)
    cid, tid = setup_collaboration(api, tmp, partners=(ADVERTISER, OTHER_PARTNER))
    return api, tmp, cid, tid
