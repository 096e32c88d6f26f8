"""Server logs of the ``cleanroom`` loggers: text, or one JSON object a line (``log_format``).

Every record made while a request is handled carries that request's id (``X-Request-ID``, also
in problem documents), so a client's report finds the server's lines. A JSON line is
``{"timestamp", "level", "logger", "message", "request_id"}``, plus ``http`` (method, route
template, status, duration) on the line that ends each request and ``exception`` (type and
stack frames) when one is logged. Messages are cleanroom's own, which name codes and ids, never
data values; an exception's message is left out of JSON lines because engine and driver
messages can quote values.

>>> import io, logging
>>> stream = io.StringIO()
>>> handler = logging.StreamHandler(stream)
>>> handler.setFormatter(JsonFormatter())
>>> log = logging.getLogger("cleanroom.doctest")
>>> log.addHandler(handler); log.propagate = False
>>> log.warning("run %s failed with %s", "run_1", "execution_failed")
>>> line = json.loads(stream.getvalue())
>>> line["level"], line["logger"], line["message"], line["request_id"]
('warning', 'cleanroom.doctest', 'run run_1 failed with execution_failed', None)
>>> log.removeHandler(handler)
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask, Response, g, has_request_context, request

from cleanroom.config import Settings
from cleanroom.web.errors import request_id
from cleanroom.web.state import app_state

ROOT_LOGGER = "cleanroom"
REQUESTS_LOGGER = "cleanroom.web.requests"
_HANDLER_MARK = "cleanroom_handler"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; see the module docstring for the members."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            line["http"] = http
        if record.exc_info and record.exc_info[0] is not None:
            kind, _, tb = record.exc_info
            line["exception"] = {
                "type": kind.__name__,
                "stack": [
                    f"{frame.filename}:{frame.lineno} in {frame.name}"
                    for frame in traceback.extract_tb(tb)
                ],
            }
        return json.dumps(line, default=str)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Send the ``cleanroom`` loggers to ``stream`` (stderr) in ``settings.log_format`` at
    ``settings.log_level``; replaces the handler a previous call installed. The server entry
    point calls it; ``create_app`` does not (tests and embedding code keep their logging)."""
    logger = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger.addHandler(handler)
    logger.setLevel(settings.log_level.upper())
    logger.propagate = False
    return handler


def _started() -> None:
    g.log_started = time.perf_counter()


def _finished(response: Response) -> Response:
    """In JSON mode, one line per request (gunicorn's access log is the text-mode one)."""
    started = g.get("log_started")
    if isinstance(started, float) and app_state().settings.log_format == "json":
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        http = {
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        logging.getLogger(REQUESTS_LOGGER).info(
            "%s %s %s", request.method, route, response.status_code, extra={"http": http}
        )
    return response


def init_app(app: Flask) -> None:
    """Log the end of each request (JSON mode)."""
    app.before_request(_started)
    app.after_request(_finished)
