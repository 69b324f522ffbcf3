"""Every backend call goes through :func:`backend_call`: breaker, timeout, retries.

- The circuit breaker (:mod:`routing.breaker`) refuses calls to a backend
  whose circuit is open, without waiting.
- Each attempt has the backend's ``timeout_seconds``: threaded adapters run
  in a shared pool and the caller stops waiting at the deadline; the others
  run in the caller's thread and bound their calls themselves.
- Transient errors (timeouts, connection errors, 5xx) are retried up to
  ``max_retries`` times with capped exponential backoff and full jitter;
  permanent ones fail at once.
- A write (add, update, delete) that timed out in the pool may still reach
  the backend: its retry waits for that attempt, up to the timeout again,
  instead of sending the write a second time beside it (two adds of one
  memory, each finding no copy yet, would store it twice). Reads start
  afresh: a stuck read is harmless, and a new one may get through.
- Latency and outcome of every attempt feed the health figures.

``inject_latency_ms`` in a backend's config adds that delay before each
attempt: a knob for failover drills, tests and benchmarks, off by default.
"""

from __future__ import annotations

import concurrent.futures
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from django.db import connections

from memoryhub.threads import ProcessPool
from routing.backends.base import BackendError, CircuitOpen, TransientError
from routing.backends.registry import adapter_for
from routing.breaker import breaker_for

logger = logging.getLogger(__name__)

BACKOFF_BASE = 0.05
BACKOFF_CAP = 1.0
POOL = ProcessPool(8, "routing-call")  # per process: made anew after a fork
WRITES = frozenset({"add", "update", "delete"})


class _TimedOut(TransientError):
    """A pooled attempt that did not answer in time; ``running`` is its
    future while the attempt may still be running, else None."""

    def __init__(self, message: str, running) -> None:
        super().__init__(message)
        self.running = running


def _describe(exc: BaseException) -> str:
    """A short error description without payloads (class and first line)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def backend_call(backend, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``adapter.<method>(*args, **kwargs)`` on ``backend`` with resilience."""
    breaker = breaker_for(backend)
    adapter = adapter_for(backend)
    fn: Callable = getattr(adapter, method)
    delay_ms = float(backend.config.get("inject_latency_ms") or 0)
    attempts = 1 + backend.max_retries
    last: BackendError | None = None
    running = None  # a write's timed-out attempt, still in the pool
    for attempt in range(attempts):
        if not breaker.allow():
            raise CircuitOpen(f"backend {backend.name!r}: circuit open")
        started = time.perf_counter()
        try:
            result = _attempt(adapter, fn, args, kwargs, backend, delay_ms, running)
        except BackendError as exc:
            running = None
            if isinstance(exc, _TimedOut) and method in WRITES:
                running = exc.running
            if exc.caller_error:  # the arguments were bad: no health signal
                breaker.release()
                raise
            elapsed = (time.perf_counter() - started) * 1000
            breaker.record_failure(_describe(exc), elapsed)
            last = exc
            if not exc.transient or attempt + 1 >= attempts:
                if running is not None:
                    logger.warning(
                        "backend %r: a timed-out %s is still running and may "
                        "yet land; the next delivery finds its copy",
                        backend.name,
                        method,
                    )
                raise
            time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
            continue
        breaker.record_success((time.perf_counter() - started) * 1000)
        return result
    raise last  # pragma: no cover - the loop always returns or raises


def _attempt(adapter, fn, args, kwargs, backend, delay_ms: float, running=None):
    """One attempt: ``fn`` in the caller's thread or the pool, or, given the
    future of an earlier attempt still ``running``, another wait for that."""
    if not adapter.threaded:
        if delay_ms:  # the drill knob: a delay past the timeout fails as in the pool
            time.sleep(min(delay_ms / 1000, backend.timeout_seconds))
            if delay_ms / 1000 >= backend.timeout_seconds:
                raise _timed_out(backend)
        return _translate(fn, args, kwargs)

    def run_pooled():
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return closing_connections(_translate, fn, args, kwargs)

    future = running or POOL.submit(run_pooled)
    try:
        return future.result(timeout=backend.timeout_seconds)
    except concurrent.futures.TimeoutError:
        # A future still queued (every pool thread busy) is dropped for good.
        still = None if future.cancel() else future
        raise _timed_out(backend, still) from None


def closing_connections(fn, *args, **kwargs):
    """Run ``fn`` in a pool thread, closing the thread's Django connections
    after it: adapters may take locks through Django's connection, and pool
    threads must not keep connections open across calls."""
    try:
        return fn(*args, **kwargs)
    finally:
        connections.close_all()


def _timed_out(backend, running=None) -> TransientError:
    return _TimedOut(
        f"backend {backend.name!r} did not answer within {backend.timeout_seconds:g}s",
        running,
    )


def _translate(fn, args, kwargs):
    """Run ``fn``; unexpected exceptions become transient/permanent errors."""
    try:
        return fn(*args, **kwargs)
    except BackendError:
        raise
    except (ConnectionError, TimeoutError, OSError) as exc:
        raise TransientError(_describe(exc)) from exc
    except Exception as exc:
        logger.warning("backend call failed: %s", _describe(exc))
        raise TransientError(_describe(exc)) from exc
