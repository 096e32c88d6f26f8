"""The WSGI entry point for gunicorn: ``cleanroom.web.wsgi:app``.

The app is built on first access of ``app`` (gunicorn's ``getattr``), not at import: importing
this module (doctest collection, tooling) must not read the environment or create a data
directory. Settings come from ``configs/default.toml`` (or ``CLEANROOM_CONFIG``) and the
``CLEANROOM_*`` variables of the worker process.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Flask

from cleanroom.config import load_settings
from cleanroom.web.app import create_app
from cleanroom.web.logs import configure_logging


@functools.cache
def _build() -> Flask:
    settings = load_settings()
    configure_logging(settings)  # the server's own log lines: text or JSON (log_format)
    return create_app(settings=settings)


def __getattr__(name: str) -> Any:
    if name == "app":
        return _build()
    raise AttributeError(name)
