"""When the current request started, for the audit's ``duration_ms``.

``RequestTimingMiddleware`` (first in ``MIDDLEWARE`` after the health probe)
notes ``time.perf_counter()`` in a context variable; code below it asks
:func:`elapsed_ms` how long the request has taken so far (``None`` outside a
request: commands, Celery tasks, the MCP server).
"""

import time
from contextvars import ContextVar

_started: ContextVar[float | None] = ContextVar("request_started", default=None)


def elapsed_ms() -> float | None:
    """Milliseconds since the current request started, or ``None``."""
    started = _started.get()
    return None if started is None else (time.perf_counter() - started) * 1000


class RequestTimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _started.set(time.perf_counter())
        try:
            return self.get_response(request)
        finally:
            _started.reset(token)
