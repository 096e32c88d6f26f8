"""What the app holds for its whole life: the settings and, built lazily, the services context.

``create_app`` stores one :class:`AppState` in ``app.extensions["cleanroom"]``. The services
context (store, engine, run workers: whatever ``cleanroom.services`` assembles) is built by the
callable in ``app.config["SERVICES_FACTORY"]`` on first use, once per process: gunicorn forks its
workers before loading the app (``preload_app = False``), and should an app built before a fork be
used after it, the child builds its own context instead of sharing the parent's connections. It is
closed once, by gunicorn's ``worker_exit`` hook (``configs/gunicorn.conf.py``) or at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from flask import Flask, current_app

from cleanroom.config import Settings
from cleanroom.errors import InternalError
from cleanroom.web.ratelimit import RateLimiter

EXTENSION_KEY = "cleanroom"
_log = logging.getLogger(__name__)
T = TypeVar("T")


class ServicesContext(Protocol):
    """What the web shell needs from the services context beyond the use cases themselves."""

    def ready(self) -> Mapping[str, bool]:
        """Readiness per component, e.g. ``{"store": True, "engine": True}``; may raise."""
        ...

    def close(self) -> None:
        """Release connections, stop worker threads. Called once per process."""
        ...


ServicesFactory = Callable[[Settings], ServicesContext]


class AppState:
    """Settings plus the lazily built, per-process services context of one Flask app."""

    def __init__(self, settings: Settings, services_factory: ServicesFactory | None) -> None:
        self.settings = settings
        self.services_factory = services_factory
        self._services: ServicesContext | None = None
        self._pid: int | None = None
        self._closed = False
        self._lock = threading.Lock()
        # Per process: gunicorn workers each build their own app (see the module docstring).
        self.rate_limiter = RateLimiter(
            settings.rate_limit_per_principal, settings.rate_limit_per_address
        )
        # Built on first request to /openapi.json; the URL map is fixed by then.
        self.openapi_document: dict[str, Any] | None = None

    @property
    def has_services(self) -> bool:
        """True when a services factory is configured (built or not)."""
        return self.services_factory is not None

    def services(self) -> ServicesContext:
        """The services context of this process, built on first call."""
        services = self._services
        if services is not None and self._pid == os.getpid():
            return services
        with self._lock:
            if self._services is None or self._pid != os.getpid():
                if self.services_factory is None:
                    raise InternalError("no services are configured for this app; this is a bug")
                if self._closed:
                    raise InternalError("the services context was closed; this is a bug")
                # After a fork the parent's context is dropped, not closed: its connections
                # belong to the parent process.
                self._services = self.services_factory(self.settings)
                self._pid = os.getpid()
                atexit.register(_close_at_exit, weakref.ref(self))
            return self._services

    def close(self) -> None:
        """Close the services context if this process built one; safe to call more than once."""
        with self._lock:
            services, pid = self._services, self._pid
            self._services, self._closed = None, True
        if services is not None and pid == os.getpid():
            services.close()


def _close_at_exit(ref: weakref.ReferenceType[AppState]) -> None:
    state = ref()
    if state is not None:
        try:
            state.close()
        except Exception:  # noqa: BLE001 - shutting down: report, do not mask the exit status
            _log.exception("closing the services context failed")


def app_state(app: Flask | None = None) -> AppState:
    """The :class:`AppState` of ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    state = target.extensions.get(EXTENSION_KEY)
    if not isinstance(state, AppState):
        raise InternalError("the app was not built by create_app; this is a bug")
    return state


def current_settings() -> Settings:
    """The settings of the current app."""
    return app_state().settings


def current_services(kind: type[T]) -> T:
    """The services context of the current app, checked to be a ``kind``.

    Views name the concrete class they use (``current_services(Services)``) so they stay typed.
    """
    services = app_state().services()
    if not isinstance(services, kind):
        raise InternalError("the services context has an unexpected type; this is a bug")
    return services


def close_app(app: Flask) -> None:
    """Close the app's services context (gunicorn ``worker_exit``, tests, embedding code)."""
    state = app.extensions.get(EXTENSION_KEY)
    if isinstance(state, AppState):
        state.close()
