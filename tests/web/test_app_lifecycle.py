"""The app factory, /healthz, /readyz and the once-per-process services context."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from flask import Flask

from cleanroom.config import Settings
from cleanroom.errors import InternalError
from cleanroom.web.state import app_state, close_app, current_services
from tests.web.web_testing import bearer, hs256_token


class FakeServices:
    """Stands in for the services context (not written yet): records what the app asks of it."""

    def __init__(self, settings: Settings, ready: dict[str, bool] | None = None) -> None:
        self.settings = settings
        self.readiness = ready if ready is not None else {"store": True, "engine": True}
        self.closed = 0

    def ready(self) -> dict[str, bool]:
        return self.readiness

    def close(self) -> None:
        self.closed += 1


class Factory:
    def __init__(self, **kwargs: dict[str, bool]) -> None:
        self.built: list[FakeServices] = []
        self.kwargs = kwargs

    def __call__(self, settings: Settings) -> FakeServices:
        services = FakeServices(settings, **self.kwargs)
        self.built.append(services)
        return services


def test_healthz_needs_nothing(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["X-Request-ID"]


def test_readyz_without_services_reports_the_app(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"app": "ok"}}


def test_readyz_with_services(make_app: Callable[..., Flask]) -> None:
    factory = Factory()
    client = make_app(SERVICES_FACTORY=factory).test_client()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"app": "ok", "store": "ok", "engine": "ok"}


def test_readyz_when_the_services_cannot_be_built(make_app: Callable[..., Flask]) -> None:
    def broken(settings: Settings) -> FakeServices:
        raise ConnectionError("could not connect to postgresql://user:pw@db")

    response = make_app(SERVICES_FACTORY=broken).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"app": "ok", "services": "failing"}
    assert "pw@db" not in response.get_data(as_text=True)


def test_services_built_lazily_once_and_closed_once(
    make_app: Callable[..., Flask], settings: Settings
) -> None:
    factory = Factory()
    app = make_app(SERVICES_FACTORY=factory)
    assert factory.built == []  # nothing is built until something needs it
    client = app.test_client()
    for _ in range(3):
        client.get("/readyz")
    with app.app_context():
        assert current_services(FakeServices) is factory.built[0]
        with pytest.raises(InternalError):
            current_services(str)
    assert len(factory.built) == 1
    assert factory.built[0].settings is settings
    close_app(app)
    close_app(app)
    assert factory.built[0].closed == 1


def test_services_built_once_under_concurrency(make_app: Callable[..., Flask]) -> None:
    factory = Factory()
    state = app_state(make_app(SERVICES_FACTORY=factory))
    threads = [threading.Thread(target=state.services) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(factory.built) == 1


def test_no_services_configured_is_a_bug_when_asked_for(app: Flask) -> None:
    with app.app_context(), pytest.raises(InternalError, match="no services"):
        current_services(FakeServices)


def test_settings_drive_the_upload_limit(
    make_app: Callable[..., Flask], settings: Settings
) -> None:
    app = make_app(settings.replace(max_upload_bytes=12345))
    assert app.config["MAX_CONTENT_LENGTH"] == 12345
    assert app_state(app).settings.max_upload_bytes == 12345


def test_test_config_overrides(make_app: Callable[..., Flask]) -> None:
    assert make_app(MAX_CONTENT_LENGTH=10).config["MAX_CONTENT_LENGTH"] == 10


def test_apps_are_independent(make_app: Callable[..., Flask], settings: Settings) -> None:
    first, second = make_app(), make_app()
    token = hs256_token(settings)
    for app in (first, second):
        response = app.test_client().get("/v1/whoami", headers=bearer(token))
        assert response.status_code == 200
    assert app_state(first) is not app_state(second)
