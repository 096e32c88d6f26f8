"""Prometheus metrics at ``GET /metrics``: requests and latencies by route template, runs by
status, the epsilon charged and the rows ingested. No data values, ids or raw paths in labels.

Request counts, latencies and ingested rows are this process's (each gunicorn worker has its
own; Prometheus sums them across scrape targets, docs/operations.md). Runs by status and the
epsilon charged are read from the store at scrape time, so every process reports the same.
The route is for operators, not partners: store totals span every collaboration (with one
partner, its epsilon spent shows), so by default (``metrics = "token"``) it needs the
``metrics_token`` and is ``404`` while none is set; ``"open"`` serves it to anyone (an internal
network only), ``"off"`` never.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterator

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from cleanroom.errors import InternalError, InvalidToken, NotFound
from cleanroom.services import monitoring
from cleanroom.services.context import Services
from cleanroom.services.records import OperationalTotals
from cleanroom.web.routing import ResponseDoc, route
from cleanroom.web.state import app_state

EXTENSION_KEY = "cleanroom_metrics"
MIN_METRICS_TOKEN_BYTES = 16
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_log = logging.getLogger("cleanroom.web")

bp = Blueprint("metrics", __name__)


class _StoreTotals(Collector):
    """Gauges read from the store when scraped; ``cleanroom_store_up`` 0 when it cannot be."""

    def __init__(self, totals: Callable[[], OperationalTotals]) -> None:
        self._totals = totals

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("cleanroom_store_up", "1 when the store answered this scrape.")
        try:
            totals = self._totals()
        except Exception:  # noqa: BLE001 - a scrape reports the outage, it does not fail on it
            _log.warning("metrics: the store did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        runs = GaugeMetricFamily(
            "cleanroom_runs", "Runs in the store, by status.", labels=["status"]
        )
        for status, count in sorted(totals.runs_by_status.items()):
            runs.add_metric([status], count)
        yield runs
        yield GaugeMetricFamily(
            "cleanroom_budget_epsilon_charged",
            "Net epsilon charged to privacy budgets, over every collaboration.",
            value=totals.epsilon_charged,
        )


class AppMetrics:
    """One app's registry (not the process-global one: tests build many apps)."""

    def __init__(self, totals: Callable[[], OperationalTotals] | None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "cleanroom_http_requests",
            "HTTP requests answered by this process, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cleanroom_http_request_duration_seconds",
            "Time to answer a request in this process, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ingest_rows = Counter(
            "cleanroom_ingest_rows",
            "Rows stored by uploads in this process.",
            registry=self.registry,
        )
        if totals is not None:
            self.registry.register(_StoreTotals(totals))


def app_metrics(app: Flask | None = None) -> AppMetrics:
    target = app if app is not None else current_app
    metrics = target.extensions.get(EXTENSION_KEY)
    if not isinstance(metrics, AppMetrics):
        raise InternalError("the app was not built by create_app; this is a bug")
    return metrics


def count_ingested_rows(rows: int) -> None:
    """An upload stored ``rows`` rows (called by the upload route once it succeeded)."""
    if rows > 0:
        app_metrics().ingest_rows.inc(rows)


def _route_label() -> tuple[str, str]:
    method = request.method if request.method in _METHODS else "other"
    rule = request.url_rule
    return method, rule.rule if rule is not None else "unmatched"


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _finish(response: Response) -> Response:
    started = g.get("metrics_started")
    if isinstance(started, float):
        method, template = _route_label()
        metrics = app_metrics()
        metrics.requests.labels(method, template, str(response.status_code)).inc()
        metrics.latency.labels(method, template).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Count every request and serve ``/metrics``."""
    state = app_state(app)

    def totals() -> OperationalTotals:
        services = state.services()
        if not isinstance(services, Services):
            raise TypeError("metrics: not the cleanroom services context")
        return monitoring.operational_totals(services)

    app.extensions[EXTENSION_KEY] = AppMetrics(totals if state.has_services else None)
    app.before_request(_start)
    app.after_request(_finish)
    app.register_blueprint(bp)


@route(
    bp,
    "/metrics",
    summary="Prometheus metrics",
    auth=False,
    tags=["server"],
    responses={
        200: ResponseDoc(
            "Prometheus text exposition format: counts and timings, never data values.",
            {"type": "string"},
            media_type="text/plain",
        )
    },
    errors=[401, 404],
)
def metrics() -> Response:
    """For operators: needs the ``metrics_token`` (``metrics = "token"``, the default; ``404``
    while none is set), nothing (``"open"``) or is ``404`` (``"off"``). Store totals span every
    collaboration, so a lone partner's spend would show: never open to partners. Request
    metrics are this process's; store totals are the store's."""
    settings = app_state().settings
    if settings.metrics == "off":
        raise NotFound("metrics are turned off on this server (setting metrics)")
    if settings.metrics == "token":
        if len(settings.metrics_token.encode()) < MIN_METRICS_TOKEN_BYTES:
            raise NotFound(
                "metrics need an operator token of 16 bytes or more (setting metrics_token)"
            )
        sent = request.headers.get("Authorization", "")
        expected = f"Bearer {settings.metrics_token}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise InvalidToken("/metrics needs 'Authorization: Bearer <metrics_token>'")
    body = generate_latest(app_metrics().registry)
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)
