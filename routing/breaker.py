"""Circuit breakers and health figures, one per backend per process.

Closed: calls go through; ``failure_threshold`` consecutive failures open the
circuit. Open: calls are refused (:class:`~routing.backends.base.CircuitOpen`)
until ``cooldown`` has passed, then the circuit is half-open and lets one
probe call through: success closes it, failure opens it again.

Every call's latency feeds an exponentially weighted moving average, and its
outcome an EWMA error rate; strategies read both from here (no query on the
hot path). Figures and transitions are written to the ``Backend`` row —
immediately on a state change, otherwise at most every ``FLUSH_SECONDS`` — so
operators see them and a process starting up inherits an open circuit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field

from django.utils import timezone

from routing.models import Backend, CircuitState

FAILURE_THRESHOLD = 3
COOLDOWN_SECONDS = 10.0
EWMA_ALPHA = 0.2
FLUSH_SECONDS = 5.0

_lock = threading.Lock()
_breakers: dict[int, CircuitBreaker] = {}


@dataclass
class CircuitBreaker:
    """The breaker and health figures of one backend in this process."""

    backend_id: int
    failure_threshold: int = FAILURE_THRESHOLD
    cooldown: float = COOLDOWN_SECONDS
    state: str = CircuitState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False
    latency_ms: float | None = None
    error_rate: float = 0.0
    last_error: str = ""
    last_flush: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allow(self) -> bool:
        """May a call go through now? (Moves open -> half-open after cooldown.)"""
        with self._lock:
            if self.state == CircuitState.CLOSED:
                return True
            if self.state == CircuitState.OPEN:
                if time.monotonic() - self.opened_at < self.cooldown:
                    return False
                self.state = CircuitState.HALF_OPEN
                self.probing = False
            if self.probing:  # half-open: one probe at a time
                return False
            self.probing = True
            return True

    def available(self) -> bool:
        """Would a call be allowed (without claiming the half-open probe)?"""
        if self.state == CircuitState.OPEN:
            return time.monotonic() - self.opened_at >= self.cooldown
        return not (self.state == CircuitState.HALF_OPEN and self.probing)

    def record_success(self, latency_ms: float) -> None:
        """A call succeeded in ``latency_ms``."""
        with self._lock:
            changed = self.state != CircuitState.CLOSED
            self.state = CircuitState.CLOSED
            self.failures = 0
            self.probing = False
            self._observe(latency_ms, 0.0)
        self._flush(force=changed)

    def record_failure(self, message: str, latency_ms: float | None = None) -> None:
        """A call failed (``message`` holds no content)."""
        with self._lock:
            self.failures += 1
            self.last_error = message[:300]
            self._observe(latency_ms, 1.0)
            changed = False
            if self.state == CircuitState.HALF_OPEN or (
                self.state == CircuitState.CLOSED
                and self.failures >= self.failure_threshold
            ):
                self.state = CircuitState.OPEN
                self.opened_at = time.monotonic()
                changed = True
            self.probing = False
        self._flush(force=changed)

    def _observe(self, latency_ms: float | None, error: float) -> None:
        if latency_ms is not None:
            self.latency_ms = (
                latency_ms
                if self.latency_ms is None
                else EWMA_ALPHA * latency_ms + (1 - EWMA_ALPHA) * self.latency_ms
            )
        self.error_rate = EWMA_ALPHA * error + (1 - EWMA_ALPHA) * self.error_rate

    def _flush(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self.last_flush < FLUSH_SECONDS:
            return
        self.last_flush = now
        opened = None
        if self.state != CircuitState.CLOSED:
            opened = timezone.now() - timezone.timedelta(seconds=now - self.opened_at)
        with contextlib.suppress(Exception):
            Backend.objects.filter(pk=self.backend_id).update(
                latency_ewma_ms=self.latency_ms,
                error_rate=round(self.error_rate, 4),
                circuit_state=self.state,
                consecutive_failures=self.failures,
                opened_at=opened,
                last_check_at=timezone.now(),
                last_error=self.last_error,
            )


def breaker_for(backend: Backend) -> CircuitBreaker:
    """This process's breaker for ``backend`` (seeded from its row)."""
    found = _breakers.get(backend.pk)
    if found is not None:
        return found
    with _lock:
        found = _breakers.get(backend.pk)
        if found is None:
            found = CircuitBreaker(
                backend_id=backend.pk,
                latency_ms=backend.latency_ewma_ms,
                error_rate=backend.error_rate,
                failures=backend.consecutive_failures,
                last_flush=time.monotonic(),
            )
            if backend.circuit_state != CircuitState.CLOSED and backend.opened_at:
                elapsed = (timezone.now() - backend.opened_at).total_seconds()
                found.state = CircuitState.OPEN
                found.opened_at = time.monotonic() - elapsed
            _breakers[backend.pk] = found
        return found


def breakers_reset() -> None:
    """Forget every breaker (tests)."""
    with _lock:
        _breakers.clear()
