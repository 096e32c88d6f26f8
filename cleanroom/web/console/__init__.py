"""The web console: server-rendered pages over the same services, permissions and visibility as
the ``/v1`` API, for the retailer admin and the partners (docs/console.md).

Every page calls the use case the matching API route calls, with the principal of the signed-in
session (``session``); nothing here decides who may do what. Pages live under ``/console``;
``GET /`` redirects there.
"""

from __future__ import annotations

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from cleanroom.config import Settings
from cleanroom.web.console import (
    audit,
    collaborations,
    datasets,
    kpis,
    reports,
    runs,
    signin,
    templates,
    terms,
)
from cleanroom.web.console.blueprint import bp
from cleanroom.web.console.session import init_session

__all__ = [
    "audit", "collaborations", "datasets", "init_app", "kpis", "reports", "runs", "signin",
    "terms",
]  # fmt: skip
# Importing the view modules registers their routes on bp.
_VIEWS = (audit, collaborations, datasets, kpis, reports, runs, signin, templates, terms)


def _front_door() -> Response:
    return redirect(url_for("console.collaborations_index"))


def init_app(app: Flask, settings: Settings) -> None:
    """Mount the console on ``app`` and point ``GET /`` at it."""
    init_session(app, settings.secret_key, production=settings.mode == "production")
    app.register_blueprint(bp)
    app.add_url_rule("/", endpoint="front_door", view_func=_front_door)
