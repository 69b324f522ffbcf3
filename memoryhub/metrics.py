"""Prometheus metrics at ``/metrics`` (prometheus-client).

- HTTP: requests and latency by method, **route template** (``api/v1/spaces/
  <slug:slug>/memories/``, never the path: no ids, slugs or queries in
  labels) and status.
- Work the code reports: search phases (embedding / index / rest), embedder
  calls and time, Celery task durations and failures by task name, outbox
  delivery lag.
- State read at scrape time through the collectors other apps name in
  ``MEMORYHUB_METRICS_COLLECTORS`` (a seam: this core module names no app):
  outbox backlog, oldest pending age and dead letters per backend, circuit
  state per backend, queued extractions.
- The database pools: connections open, idle and waited for, summed over
  the live processes (each process sets its own after every request and
  task; ``livesum`` adds them up in multiprocess mode).

Labels only ever take bounded values: method, route template, status code,
task name, backend name (operators create those), phase. Never ids, content,
queries or keys (``tests/core/test_metrics.py`` checks the label values).

Access: ``Authorization: Bearer <MEMORYHUB_METRICS_TOKEN>``; with no token
configured the endpoint is closed (404). Under gunicorn with several workers
(and with the Celery worker on the same machine, as ``make run`` runs them),
``PROMETHEUS_MULTIPROC_DIR`` makes every process's counters add up in one
scrape; the launcher sets it.

Celery workers that run apart from the web (their own pods) serve their
metrics on a port of their own, ``MEMORYHUB_WORKER_METRICS_PORT``, behind the
same token (:func:`serve_worker_metrics`): task durations and failures,
embedder calls, delivery lag and their pools, without the scrape-time state
gauges, which the web processes already report.
"""

import hmac
import logging
import os
import threading
import time
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.core.signals import request_finished
from django.http import Http404, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from memoryhub.seams import resolve_path

logger = logging.getLogger(__name__)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Every process writes its samples there: one that starts before whatever
    # prepares the directory (a worker or MCP container on an empty volume, a
    # one-off command) must not fail on the first sample.
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "memoryhub_http_requests_total",
    "HTTP requests by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "memoryhub_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
SEARCH_PHASE = Histogram(
    "memoryhub_search_phase_seconds",
    "Time of each phase of a local search: embedding the query (what is "
    "left to wait for of an embedding started before the space lookup), "
    "the index query, and the rest (decryption, audit).",
    ["phase"],
    buckets=LATENCY_BUCKETS,
)
EMBEDDER_CALLS = Counter(
    "memoryhub_embedder_calls_total", "Calls to the embedder.", ["kind"]
)
EMBEDDER_TEXTS = Counter("memoryhub_embedder_texts_total", "Texts embedded.", ["kind"])
EMBEDDER_SECONDS = Histogram(
    "memoryhub_embedder_seconds",
    "Time of one embedder call.",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
TASK_SECONDS = Histogram(
    "memoryhub_celery_task_duration_seconds",
    "Celery task run time by task name and outcome.",
    ["task", "outcome"],
    buckets=LATENCY_BUCKETS,
)
TASK_FAILURES = Counter(
    "memoryhub_celery_task_failures_total",
    "Celery tasks that raised, by task name.",
    ["task"],
)
DELIVERY_LAG = Histogram(
    "memoryhub_outbox_delivery_lag_seconds",
    "From a write to its delivery to a backend, by backend.",
    ["backend"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
# (gauge, key of psycopg's pool statistics)
POOL_GAUGES = (
    (
        Gauge(
            "memoryhub_db_pool_size",
            "Database connections open in the pools of the live processes.",
            multiprocess_mode="livesum",
        ),
        "pool_size",
    ),
    (
        Gauge(
            "memoryhub_db_pool_available",
            "Idle database connections in the pools of the live processes.",
            multiprocess_mode="livesum",
        ),
        "pool_available",
    ),
    (
        Gauge(
            "memoryhub_db_pool_waiting",
            "Requests waiting for a database connection, all live processes.",
            multiprocess_mode="livesum",
        ),
        "requests_waiting",
    ),
)


def route_of(request) -> str:
    """The route template that served ``request`` (``unmatched`` for none)."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None) if match is not None else None
    return route or "unmatched"


class MetricsMiddleware:
    """Counts and times every request by method, route template and status."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        route = route_of(request)
        HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        return response


class _StateCollector:
    """Gauges computed at scrape time by the apps' collectors (the seam)."""

    def collect(self):
        for path in settings.MEMORYHUB_METRICS_COLLECTORS:
            yield from resolve_path(path)()

    def describe(self):
        return []  # computed per scrape: nothing to check at registration


class _ThisProcess:
    """The metrics this process registered (prometheus-client's default
    registry), for a scrape outside multiprocess mode."""

    def collect(self):
        yield from REGISTRY.collect()

    def describe(self):
        return []


_STATE = _StateCollector()


def record_pool(**kwargs) -> None:
    """Set this process's pool gauges (after each request, task and scrape:
    the connection is back in the pool by then)."""
    from django.db import connections

    pool = getattr(connections["default"], "pool", None)
    if pool is None:
        return
    stats = pool.get_stats()
    for gauge, key in POOL_GAUGES:
        gauge.set(stats.get(key, 0))


# Connected after Django's own receiver that hands the connection back.
request_finished.connect(record_pool, dispatch_uid="memoryhub.metrics.record_pool")


def _registry(*, state: bool = True) -> CollectorRegistry:
    """What one scrape reports: every process's metrics in multiprocess mode,
    this process's otherwise; ``state`` adds the scrape-time gauges."""
    record_pool()
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    if state:
        registry.register(_STATE)
    return registry


def _authorized(header: str) -> bool | None:
    """None when no token is configured (closed), else whether ``header``
    carries it."""
    token = settings.METRICS_TOKEN
    if not token:
        return None
    return hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def metrics_view(request):
    """``GET /metrics`` with ``Authorization: Bearer <MEMORYHUB_METRICS_TOKEN>``."""
    allowed = _authorized(request.headers.get("Authorization", ""))
    if allowed is None:
        raise Http404(CLOSED)
    if not allowed:
        response = HttpResponse(UNAUTHORIZED, status=401)
        response["WWW-Authenticate"] = CHALLENGE
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


CLOSED = "metrics are off: set MEMORYHUB_METRICS_TOKEN to serve them\n"
UNAUTHORIZED = "a valid metrics token is needed\n"
CHALLENGE = 'Bearer realm="metrics"'


def _worker_app(environ, start_response):
    """``GET /metrics`` of a worker's metrics port, with the web's token rule."""
    allowed = _authorized(environ.get("HTTP_AUTHORIZATION", ""))
    if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
        status, headers, body = "404 Not Found", [], b"not found\n"
    elif allowed is None:
        status, headers, body = "404 Not Found", [], CLOSED.encode()
    elif not allowed:
        status = "401 Unauthorized"
        headers, body = [("WWW-Authenticate", CHALLENGE)], UNAUTHORIZED.encode()
    else:
        status, body = "200 OK", generate_latest(_registry(state=False))
        headers = [("Content-Type", CONTENT_TYPE_LATEST)]
    headers.append(("Content-Length", str(len(body))))
    start_response(status, headers)
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # scrapes are not worth a log line
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve_worker_metrics(port: int, address: str) -> WSGIServer | None:
    """Serve this worker's metrics on ``address:port`` from a daemon thread
    (the Celery worker calls it once ready, when the port is set)."""
    if not settings.METRICS_TOKEN:
        logger.warning(
            "MEMORYHUB_WORKER_METRICS_PORT is set but MEMORYHUB_METRICS_TOKEN is "
            "not: the worker's metrics port stays closed"
        )
        return None
    server = make_server(
        address, port, _worker_app, _ThreadingServer, handler_class=_QuietHandler
    )
    threading.Thread(
        target=server.serve_forever, name="worker-metrics", daemon=True
    ).start()
    logger.info("worker metrics on %s:%s/metrics", address, server.server_port)
    return server
