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
  state per backend, queued extractions; and this process's database pool.

Labels only ever take bounded values: method, route template, status code,
task name, backend name (operators create those), phase. Never ids, content,
queries or keys (``tests/core/test_metrics.py`` checks the label values).

Access: ``Authorization: Bearer <MEMORYHUB_METRICS_TOKEN>``; with no token
configured the endpoint is closed (404). Under gunicorn with several workers
(and with the Celery worker on the same machine, as ``make run`` runs them),
``PROMETHEUS_MULTIPROC_DIR`` makes every process's counters add up in one
scrape; the launcher sets it.
"""

import hmac
import os
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from memoryhub.seams import resolve_path

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
    "Time of each phase of a local search: embedding the query, the index "
    "query, and the rest (decryption, audit).",
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
        yield from _pool_gauges()

    def describe(self):
        return []  # computed per scrape: nothing to check at registration


def _pool_gauges():
    """This process's connection pool (psycopg), if it has one."""
    from django.db import connections

    pool = getattr(connections["default"], "pool", None)
    if pool is None:
        return
    stats = pool.get_stats()
    for name, key, doc in (
        ("memoryhub_db_pool_size", "pool_size", "Connections in the pool."),
        ("memoryhub_db_pool_available", "pool_available", "Idle connections."),
        (
            "memoryhub_db_pool_waiting",
            "requests_waiting",
            "Requests waiting for a connection.",
        ),
    ):
        gauge = GaugeMetricFamily(name, doc + " (this process)")
        gauge.add_metric([], stats.get(key, 0))
        yield gauge


_STATE = _StateCollector()
REGISTRY.register(_STATE)


def _registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_STATE)
        return registry
    return REGISTRY


def metrics_view(request):
    """``GET /metrics`` with ``Authorization: Bearer <MEMORYHUB_METRICS_TOKEN>``."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("metrics are off: set MEMORYHUB_METRICS_TOKEN to serve them")
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("a valid metrics token is needed\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
