"""Circuit breakers and health figures, one per backend per process.

Closed: calls go through; ``failure_threshold`` consecutive failures open the
circuit. Open: calls are refused (:class:`~routing.backends.base.CircuitOpen`)
until ``cooldown`` has passed, then the circuit is half-open and lets one
probe call through: success closes it, failure opens it again.

Every call's latency feeds an exponentially weighted moving average, and its
outcome an EWMA error rate; strategies read both from here. Transitions are
written to the ``Backend`` row at once (circuit state, opened at); figures at
most every ``FLUSH_SECONDS``, so operators see them.

Processes share what they learn through that row: a process starting up
inherits an open circuit, and a running process whose breaker is closed
re-reads the row at most every ``FLUSH_SECONDS`` (one small query, on the
first call after that interval; every other call costs a clock read) and
adopts a circuit another process opened, keeping its opening time: it
refuses calls for the rest of the cooldown, then probes like any open
circuit. The periodic flush never writes the circuit state, so a healthy
process cannot overwrite another one's open circuit; only transitions do.

Cooldowns and flush intervals are measured on a breaker's ``clock``
(``time.monotonic`` unless a test passes a fake one it advances); the row's
timestamps are wall-clock time (``timezone.now``), which processes share.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from routing.models import Backend, CircuitState

FAILURE_THRESHOLD = 3
COOLDOWN_SECONDS = 10.0
EWMA_ALPHA = 0.2
FLUSH_SECONDS = 5.0


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
    synced_at: float = 0.0  # clock time the row was last read/written
    dirty: bool = False  # figures changed since they were written
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allow(self) -> bool:
        """May a call go through now? (Moves open -> half-open after cooldown.)"""
        with self._lock:
            if self.state == CircuitState.CLOSED:
                return True
            if self.state == CircuitState.OPEN:
                if self.clock() - self.opened_at < self.cooldown:
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
            return self.clock() - self.opened_at >= self.cooldown
        return not (self.state == CircuitState.HALF_OPEN and self.probing)

    def release(self) -> None:
        """A call ended without telling anything about the backend (bad
        arguments): free the half-open probe, count nothing."""
        with self._lock:
            self.probing = False

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
                self.opened_at = self.clock()
                changed = True
            self.probing = False
        self._flush(force=changed)

    def _observe(self, latency_ms: float | None, error: float) -> None:
        self.dirty = True
        if latency_ms is not None:
            self.latency_ms = (
                latency_ms
                if self.latency_ms is None
                else EWMA_ALPHA * latency_ms + (1 - EWMA_ALPHA) * self.latency_ms
            )
        self.error_rate = EWMA_ALPHA * error + (1 - EWMA_ALPHA) * self.error_rate

    def sync_due(self) -> bool:
        """Is it time to re-read the row (closed, and ``FLUSH_SECONDS`` passed)?"""
        return (
            self.backend_id > 0
            and self.state == CircuitState.CLOSED
            and self.clock() - self.synced_at >= FLUSH_SECONDS
        )

    def sync(self) -> None:
        """Write the figures if they changed; adopt a circuit opened elsewhere."""
        with self._lock:
            now = self.clock()
            if self.backend_id <= 0 or now - self.synced_at < FLUSH_SECONDS:
                return  # another thread got here first
            self.synced_at = now
            figures, self.dirty = self._figures() if self.dirty else None, False
        rows = Backend.objects.filter(pk=self.backend_id)
        try:
            if figures is not None:
                rows.update(**figures)
            found = rows.values_list("circuit_state", "opened_at").first()
        except Exception:  # health bookkeeping must never fail a call
            return
        if found is not None:
            self._adopt(*found)

    def _adopt(self, state: str, opened_at) -> None:
        """Take over an open circuit the row records (this breaker being closed)."""
        if state == CircuitState.CLOSED or opened_at is None:
            return
        elapsed = max(0.0, (timezone.now() - opened_at).total_seconds())
        with self._lock:
            if self.state != CircuitState.CLOSED:
                return
            self.state = CircuitState.OPEN
            self.opened_at = self.clock() - elapsed
            self.probing = False

    def _figures(self) -> dict:
        return {
            "latency_ewma_ms": self.latency_ms,
            "error_rate": round(self.error_rate, 4),
            "consecutive_failures": self.failures,
            "last_check_at": timezone.now(),
            "last_error": self.last_error,
        }

    def _flush(self, *, force: bool) -> None:
        """Write a transition now; otherwise sync when due."""
        if not force:
            if self.clock() - self.synced_at >= FLUSH_SECONDS:
                self.sync()
            return
        with self._lock:
            self.synced_at = self.clock()
            self.dirty = False
            opened = None
            if self.state != CircuitState.CLOSED:
                opened = timezone.now() - timezone.timedelta(
                    seconds=self.synced_at - self.opened_at
                )
            values = {**self._figures(), "circuit_state": self.state}
        with contextlib.suppress(Exception):
            Backend.objects.filter(pk=self.backend_id).update(
                **values, opened_at=opened
            )


class BreakerRegistry:
    """The breakers of one process, by backend id (tests build several)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # handed to every breaker it creates
        self._lock = threading.Lock()
        self._breakers: dict[int, CircuitBreaker] = {}

    def get(self, backend: Backend) -> CircuitBreaker:
        """The breaker of ``backend`` (seeded from its row; synced when due)."""
        found = self._breakers.get(backend.pk)
        if found is None:
            return self._create(backend)
        if found.sync_due():
            found.sync()
        return found

    def _create(self, backend: Backend) -> CircuitBreaker:
        with self._lock:
            found = self._breakers.get(backend.pk)
            if found is None:
                found = CircuitBreaker(
                    backend_id=backend.pk,
                    latency_ms=backend.latency_ewma_ms,
                    error_rate=backend.error_rate,
                    failures=backend.consecutive_failures,
                    synced_at=self.clock(),
                    clock=self.clock,
                )
                found._adopt(backend.circuit_state, backend.opened_at)
                self._breakers[backend.pk] = found
            return found

    def reset(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Forget every breaker; new ones read time from ``clock``."""
        with self._lock:
            self._breakers.clear()
            self.clock = clock


_registry = BreakerRegistry()


def breaker_for(backend: Backend) -> CircuitBreaker:
    """This process's breaker for ``backend`` (seeded from its row)."""
    return _registry.get(backend)


def breakers_reset(*, clock: Callable[[], float] = time.monotonic) -> None:
    """Forget every breaker (tests); new ones read time from ``clock`` (a test
    passes a fake clock it advances instead of sleeping)."""
    _registry.reset(clock=clock)
