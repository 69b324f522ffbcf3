"""API-key authentication for the MCP endpoint, and ORM calls from async code.

:class:`ApiKeyMiddleware` wraps the MCP ASGI app: every HTTP request needs
``Authorization: Bearer <MemoryHub API key>`` (``Token`` works too, as for the
REST API); without one, or with a bad, revoked or expired key, the answer is
401 before the MCP SDK sees the request. Each request also counts against the
key's rate limit, the same bucket the REST APIs use
(:class:`~accounts.api.throttling.ApiKeyRateThrottle`): over it the answer is
429 with ``Retry-After``. The resolved actor travels in the
ASGI scope (``scope["state"]["memoryhub_actor"]``), which the SDK hands to
tools as the Starlette request.

Django's ORM is synchronous: :func:`run_orm` runs a call in a worker thread
(a bounded pool, so concurrent calls never need more database connections
than the pool allows) and closes stale connections around it, as Django's
request cycle would.
"""

import math
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace
from typing import Any

import anyio
from django.conf import settings
from django.db import close_old_connections
from rest_framework.exceptions import AuthenticationFailed
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from accounts.actors import Actor
from accounts.api.throttling import ApiKeyRateThrottle
from accounts.authentication import authenticate_key
from memoryhub import outage
from memoryhub.keyed import key_from_header

ACTOR_KEY = "memoryhub_actor"
DEFAULT_THREADS = 8
_limiter: anyio.CapacityLimiter | None = None


def _capacity() -> anyio.CapacityLimiter:
    """The process-wide worker-thread limit (``MCP_THREADS`` setting, default 8)."""
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(
            getattr(settings, "MCP_THREADS", DEFAULT_THREADS)
        )
    return _limiter


def _in_request_cycle(fn: Callable, *args, **kwargs):
    """Call ``fn`` like a Django request would: no stale connection before or after."""
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def run_orm(fn: Callable, /, *args, **kwargs) -> Any:
    """Run a synchronous (ORM-using) call in a worker thread and await its result."""
    return await anyio.to_thread.run_sync(
        partial(_in_request_cycle, fn, *args, **kwargs), limiter=_capacity()
    )


def authenticate_and_throttle(raw_key: str) -> tuple[Actor, float | None]:
    """The key's actor, and the seconds to wait if it is over its rate limit."""

    actor = authenticate_key(raw_key)
    throttle = ApiKeyRateThrottle()
    if throttle.allow_request(SimpleNamespace(auth=actor), None):
        return actor, None
    return actor, throttle.wait() or 1.0


def _too_many(wait: float) -> JSONResponse:
    """A 429 with a JSON body and ``Retry-After`` (whole seconds, at least 1)."""
    seconds = max(1, math.ceil(wait))
    return JSONResponse(
        {
            "error": "rate_limited",
            "detail": f"Rate limit of this API key exceeded; retry in {seconds} s.",
        },
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


def _unauthorized(message: str) -> JSONResponse:
    """A 401 with a JSON body and a Bearer challenge."""
    return JSONResponse(
        {"error": "unauthorized", "detail": message},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="memoryhub"'},
    )


class ApiKeyMiddleware:
    """ASGI middleware: 401 unless the request carries a valid MemoryHub API key."""

    def __init__(self, app) -> None:
        """Wrap ``app`` (the MCP SDK's Starlette app)."""
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        """Authenticate HTTP requests; pass lifespan events straight through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization", "")
        raw = key_from_header(header) if header else None
        if raw is None:
            response = _unauthorized(
                "Send Authorization: Bearer <MemoryHub API key>."
                if not header
                else "Unsupported Authorization scheme; send 'Bearer <api key>'."
            )
            await response(scope, receive, send)
            return
        try:
            actor, wait = await run_orm(authenticate_and_throttle, raw)
        except AuthenticationFailed as exc:
            await _unauthorized(str(exc.detail))(scope, receive, send)
            return
        except Exception as exc:
            if not outage.is_database_outage(exc):
                raise
            outage.note(exc, "MCP authentication")
            await JSONResponse(
                {"error": outage.CODE, "detail": outage.MESSAGE},
                status_code=503,
                headers={"Retry-After": str(outage.RETRY_AFTER_SECONDS)},
            )(scope, receive, send)
            return
        if wait is not None:
            await _too_many(wait)(scope, receive, send)
            return
        scope.setdefault("state", {})[ACTOR_KEY] = actor
        await self.app(scope, receive, send)


def actor_of(request) -> Actor:
    """The actor :class:`ApiKeyMiddleware` attached to a (Starlette) request."""
    state = getattr(request, "scope", {}).get("state") or {}
    actor = state.get(ACTOR_KEY)
    if actor is None:  # only reachable if the app is served without the middleware
        raise PermissionError("this MCP endpoint requires an API key")
    return actor
