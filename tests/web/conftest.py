"""Fixtures for the HTTP shell: a fresh app per test (Flask tutorial style)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cleanroom.config import Settings
from cleanroom.web.app import create_app


@pytest.fixture
def make_app(settings: Settings) -> Callable[..., Flask]:
    """Build an app on the test settings; keyword arguments become Flask config."""

    def build(settings_override: Settings | None = None, **config: Any) -> Flask:
        # No services unless a test asks (the app's default would open the store on first use).
        config.setdefault("SERVICES_FACTORY", None)
        return create_app({"TESTING": True, **config}, settings_override or settings)

    return build


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
