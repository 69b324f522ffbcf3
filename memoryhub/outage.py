"""A database that is down is a 503 that says so, never a 500 with a trace.

While PostgreSQL is unreachable (restarting, failing over, killed) every
request that needs it fails with Django's ``OperationalError`` or
``InterfaceError``. Each surface turns that into a **503** with
``Retry-After`` and a message naming the database: the DRF exception handler
(native and mem0-compatible API), :class:`DatabaseOutageMiddleware` for the
other views (team app, admin), ``handler500`` for what fails outside a view,
and the MCP tools. It is logged as one warning line, not a traceback.

Recovery needs no restart: the connection pool checks a connection before
handing it out (``settings.DATABASES``), so the broken ones are replaced as
soon as the server answers again.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger("memoryhub.outage")

RETRY_AFTER_SECONDS = 5
MESSAGE = (
    "The database is unavailable right now; nothing was changed. Retry in a "
    "few seconds."
)
CODE = "database_unavailable"
JSON_PREFIXES = ("/api/", "/v1/", "/v2/", "/v3/")


def is_database_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` means the database cannot be reached or used now."""
    return isinstance(exc, OperationalError | InterfaceError)


def note(exc: BaseException, where: str) -> None:
    """One warning line: which request met the outage, and the driver's words
    (connection errors name the server, never query parameters)."""
    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    logger.warning(
        "database unavailable in %s: %s%s",
        where,
        type(exc).__name__,
        f" ({reason})" if reason else "",
    )


def outage_response(request) -> HttpResponse:
    """The 503 for ``request``: JSON on the API paths, a short page elsewhere."""
    if request.path.startswith(JSON_PREFIXES):
        response = JsonResponse({"detail": MESSAGE, "code": CODE}, status=503)
    else:
        response = HttpResponse(
            "<!doctype html><title>Unavailable</title><h1>Temporarily "
            f"unavailable</h1><p>{MESSAGE}</p>",
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseOutageMiddleware:
    """Views that are not DRF's (team app, admin): a 503 instead of a 500."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_outage(exception):
            return None
        note(exception, request.path)
        return outage_response(request)
