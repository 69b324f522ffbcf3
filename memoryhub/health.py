"""Health endpoints for load balancers and orchestrators (no authentication).

``/healthz`` is liveness: the process answers HTTP. It touches nothing else,
so a database outage never makes an orchestrator restart healthy web
processes. ``/readyz`` is readiness: the database accepts a new connection
and answers a query, the broker accepts a connection (one attempt each,
short timeouts) and the embedder is loaded or loads now. It answers 503
naming the failed check and why (for the database, which server), so
traffic is held back until the process can really serve. Messages name the
failing component and its error, never credentials (connection URLs are
not echoed).

:class:`HealthCheckMiddleware` (first in ``MIDDLEWARE``) answers both paths
before host validation: orchestrators probe with the pod or container IP as
``Host``, which ``ALLOWED_HOSTS`` would reject with a 400.
"""

import logging
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from memoryhub.celery import app
from memoryhub.seams import resolve_path

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0
DATABASE_TIMEOUT_SECONDS = 2  # libpq's connect_timeout: whole seconds, 2 at least


class DatabaseUnavailable(Exception):
    """The database did not accept a connection or answer; says which one."""


@never_cache
@require_GET
def healthz(request):
    """Liveness: 200 whenever the process can answer."""
    return JsonResponse({"status": "ok"})


def check_database() -> dict:
    """One round trip on a fresh connection that gives up after a short timeout.

    Not through Django's connection: with the pool (production), a database
    that is down makes ``connection.cursor()`` wait the pool's whole timeout
    (10 s) before it fails, longer than a probe waits; without the pool libpq
    waits on an unreachable host as long as the OS lets it. A fresh
    connection with the same parameters also shows that the server accepts
    new ones, which a process needs to serve.
    """
    params = {
        **connections["default"].get_connection_params(),
        "connect_timeout": DATABASE_TIMEOUT_SECONDS,  # over any from the URL
        "autocommit": True,
    }
    try:
        with psycopg.connect(**params) as conn:
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        message = str(exc).strip() or "no reason given"
        raise DatabaseUnavailable(
            f"{_database_target(params)}: {type(exc).__name__}: {message}"
        ) from exc
    return {}


def _database_target(params: dict) -> str:
    """``host:port/name`` of the database: never the user or the password."""
    host = params.get("host") or "localhost"
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname', '')}"


def check_broker() -> dict:
    """Open (and close) one broker connection: a single try, short timeouts."""

    with app.connection_for_write(
        connect_timeout=BROKER_TIMEOUT_SECONDS,
        transport_options={
            "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
            "socket_timeout": BROKER_TIMEOUT_SECONDS,
            "max_retries": 1,
        },
    ) as conn:
        conn.ensure_connection(
            max_retries=1,
            interval_start=0,
            interval_step=0,
            timeout=BROKER_TIMEOUT_SECONDS,
        )
        return {"transport": conn.transport_cls}


def _checks() -> dict[str, Callable[[], dict]]:
    """The database and broker checks, then those the apps add in settings.

    ``MEMORYHUB_READINESS_CHECKS`` maps a name to a dotted path (a seam, see
    :mod:`memoryhub.seams`): the embedder's check lives with the embedders, so
    this core module names no app. Looked up per call, so tests can replace one.
    """
    checks = {"database": check_database, "broker": check_broker}
    for name, path in settings.MEMORYHUB_READINESS_CHECKS.items():
        checks[name] = resolve_path(path)
    return checks


def _run(check: Callable[[], dict]) -> dict:
    started = time.monotonic()
    try:
        result = {"ok": True, **check()}
    except Exception as exc:  # any failure makes the process not ready
        logger.warning("readiness check %s failed: %s", check.__name__, exc)
        message = str(exc).strip() or type(exc).__name__
        result = {"ok": False, "error": f"{type(exc).__name__}: {message}"[:500]}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


@never_cache
@require_GET
def readyz(request):
    """Readiness: 200 when every check passes, else 503 naming the failures."""
    checks = {name: _run(check) for name, check in _checks().items()}
    failed = sorted(name for name, result in checks.items() if not result["ok"])
    if failed:
        return JsonResponse(
            {"status": "unavailable", "failed": failed, "checks": checks}, status=503
        )
    return JsonResponse({"status": "ready", "checks": checks})


class HealthCheckMiddleware:
    """Serve ``/healthz`` and ``/readyz`` whatever the ``Host`` header says."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.probes = {"/healthz": healthz, "/readyz": readyz}

    def __call__(self, request):
        probe = self.probes.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
