"""gunicorn settings for cleanroom.

Used by ``cleanroom serve`` and usable directly:
``gunicorn -c configs/gunicorn.conf.py cleanroom.web.wsgi:app``. Bind address and worker count
come from the cleanroom settings (``CLEANROOM_HOST``, ``CLEANROOM_PORT``,
``CLEANROOM_GUNICORN_WORKERS`` or ``configs/default.toml``); anything else can be overridden
with gunicorn's own command-line flags or ``GUNICORN_CMD_ARGS``.
"""

from __future__ import annotations

from typing import Any

from cleanroom.config import load_settings
from cleanroom.web.gunicorn_worker import WORKER_CLASS, ClientLimits

_settings = load_settings()

wsgi_app = "cleanroom.web.wsgi:app"
_host = f"[{_settings.host}]" if ":" in _settings.host else _settings.host
bind = [f"{_host}:{_settings.port}"]
workers = _settings.gunicorn_workers
# gunicorn's gthread worker with slow clients bounded: headers are gathered by the event loop
# (no thread held), every read is paced (http_header_timeout_seconds, http_io_timeout_seconds,
# http_min_body_rate) and gunicorn's own errors are problem+json. See docs/operations.md,
# "Production topology". Runs execute on the services layer's threads, not on request threads.
ClientLimits.from_settings(_settings)  # a setting out of range stops the master, with its name
worker_class = WORKER_CLASS
threads = _settings.http_threads
worker_connections = _settings.http_max_connections
# With gthread this is the worker heartbeat, not a request deadline: large uploads stream for
# longer than this without being killed.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Each worker builds its own app and services context after the fork (see cleanroom.web.state).
preload_app = False
# A bearer token may be up to 8 KB; let it reach the app, which answers with problem+json.
limit_request_field_size = 16384
# gunicorn 27's runtime control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl):
# two servers on one host would fight over it, and we manage workers with signals anyway.
control_socket_disable = True
loglevel = _settings.log_level
errorlog = "-"
accesslog = "-"
# %(U)s is the path without its query string: query strings can carry identifiers and
# parameters, which do not belong in access logs. No referer for the same reason.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s'


def worker_exit(server: Any, worker: Any) -> None:
    """Close the worker's services context (connections, run threads) as the worker exits."""
    app = getattr(worker, "wsgi", None)
    if app is None:
        return
    from cleanroom.web.state import close_app

    close_app(app)
