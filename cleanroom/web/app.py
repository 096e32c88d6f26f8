"""The application factory.

>>> from cleanroom.config import load_settings
>>> app = create_app({"TESTING": True}, load_settings(
...     env={}, config_file=None, data_dir="/tmp/cleanroom-doctest", secret_key="k",
...     jwt_secret="a-doctest-secret-of-at-least-32-bytes"))
>>> app.test_client().get("/healthz").get_json()
{'status': 'ok'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from cleanroom.config import Settings, load_settings
from cleanroom.services.auth import check_auth_settings
from cleanroom.services.server import serving_services
from cleanroom.web import console, errors, logs, meta, metrics
from cleanroom.web.api import API_PREFIX, BLUEPRINTS
from cleanroom.web.state import EXTENSION_KEY, AppState, ServicesFactory

# What builds the services context when the caller does not say; the services layer provides it.
DEFAULT_SERVICES_FACTORY: ServicesFactory | None = serving_services


def create_app(
    test_config: Mapping[str, Any] | None = None, settings: Settings | None = None
) -> Flask:
    """A configured app: error handlers, ``/healthz``, ``/readyz``, ``/metrics``,
    ``/openapi.json``, ``/v1`` and the web console under ``/console``.

    ``settings`` default to :func:`cleanroom.config.load_settings`. ``test_config`` overrides Flask
    config keys, among them ``SERVICES_FACTORY``: a callable ``(Settings) -> ServicesContext``
    called once per process on first use (None: no services; ``/readyz`` then checks the app only).
    Raises :class:`cleanroom.errors.ConfigError` when the JWT configuration cannot verify tokens.
    """
    settings = settings if settings is not None else load_settings()
    check_auth_settings(settings)  # a bad key set or claim mapping stops start-up
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SERVICES_FACTORY=DEFAULT_SERVICES_FACTORY,
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep declared member order
    app.extensions[EXTENSION_KEY] = AppState(settings, app.config["SERVICES_FACTORY"])
    errors.init_app(app)
    logs.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(meta.bp)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint, url_prefix=API_PREFIX + (blueprint.url_prefix or ""))
    console.init_app(app, settings)
    return app
