"""Circuit state shared between processes through the ``Backend`` row.

Each :class:`~routing.breaker.BreakerRegistry` stands for one process: a
circuit one of them opens is adopted by the other on its first call after
``FLUSH_SECONDS``, without a query on any other call. The last test opens
the circuit from a real second process (``manage.py shell``).
"""

import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from routing import selectors
from routing.backends.base import CircuitOpen
from routing.breaker import (
    FAILURE_THRESHOLD,
    FLUSH_SECONDS,
    BreakerRegistry,
    breaker_for,
)
from routing.calls import backend_call
from routing.models import Backend, CircuitState
from tests.factories import BackendFactory
from tests.routing_helpers import ROOT, FakeClock
from tests.subprocess_env import child_env

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing")]


@pytest.fixture
def backend(db):
    """An MCP backend at a URL where nothing listens."""
    return BackendFactory(name="shared", max_retries=2, timeout_seconds=2)


def test_an_open_circuit_reaches_the_other_process_within_the_flush_interval(
    backend,
):
    clock = FakeClock()
    one, two = BreakerRegistry(clock=clock), BreakerRegistry(clock=clock)
    two.get(backend)  # two holds a closed breaker before the circuit opens
    opener = one.get(backend)
    for _ in range(FAILURE_THRESHOLD):
        opener.record_failure("ConnectError: refused")
    assert opener.state == CircuitState.OPEN
    backend.refresh_from_db()
    assert backend.circuit_state == CircuitState.OPEN

    # Within the interval the other process neither knows nor asks.
    with CaptureQueriesContext(connection) as queries:
        for _ in range(200):
            assert two.get(backend).allow()
    assert queries.captured_queries == []

    # The first call after it reads the row once and adopts the open circuit.
    clock.advance(FLUSH_SECONDS)
    with CaptureQueriesContext(connection) as queries:
        adopted = two.get(backend)
        assert two.get(backend) is adopted
    assert len(queries.captured_queries) == 1
    assert adopted.state == CircuitState.OPEN and not adopted.allow()
    assert not adopted.available()

    # It keeps the opening time: after the cooldown it probes, like any open
    # circuit, and its success closes the circuit for everyone.
    clock.advance(adopted.cooldown)
    assert adopted.allow() and adopted.state == CircuitState.HALF_OPEN
    adopted.record_success(4.0)
    backend.refresh_from_db()
    assert backend.circuit_state == CircuitState.CLOSED


def test_a_healthy_process_never_overwrites_another_ones_open_circuit(backend):
    """Its periodic flush writes figures only; it adopts the open circuit."""
    clock = FakeClock()
    one, two = BreakerRegistry(clock=clock), BreakerRegistry(clock=clock)
    healthy = two.get(backend)
    healthy.record_success(2.0)
    opener = one.get(backend)
    for _ in range(FAILURE_THRESHOLD):
        opener.record_failure("ReadTimeout")
    clock.advance(FLUSH_SECONDS)
    healthy.record_success(3.0)  # flushes its figures, reads the row
    backend.refresh_from_db()
    assert backend.circuit_state == CircuitState.OPEN
    assert backend.latency_ewma_ms == pytest.approx(healthy.latency_ms)
    assert healthy.state == CircuitState.OPEN


def test_a_process_starting_up_inherits_an_open_circuit(backend):
    opener = BreakerRegistry().get(backend)
    for _ in range(FAILURE_THRESHOLD):
        opener.record_failure("ConnectError")
    fresh = Backend.objects.get(pk=backend.pk)
    assert BreakerRegistry().get(fresh).state == CircuitState.OPEN


def test_the_canonical_store_and_open_circuits_are_never_re_read(backend):
    """Only closed breakers of real backends sync; an open one waits for its
    own probe."""
    clock = FakeClock()
    registry = BreakerRegistry(clock=clock)
    local = registry.get(selectors.LOCAL_BACKEND)
    opened = registry.get(backend)
    for _ in range(FAILURE_THRESHOLD):
        opened.record_failure("ConnectError")
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            clock.advance(FLUSH_SECONDS)
            registry.get(selectors.LOCAL_BACKEND)
            registry.get(backend)
    assert queries.captured_queries == []
    assert local.state == CircuitState.CLOSED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_circuit_another_process_opened_stops_calls_here(backend, breaker_clock):
    """A separate process fails against the backend until its circuit opens;
    this process, closed so far, refuses calls after its next sync."""
    here = breaker_for(backend)
    script = (
        "from routing.backends.base import TransientError\n"
        "from routing.calls import backend_call\n"
        "from routing.models import Backend\n"
        "try:\n"
        "    backend_call(Backend.objects.get(name='shared'), 'health_check')\n"
        "except TransientError:\n"
        "    print('failed as expected')\n"
    )
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "failed as expected" in done.stdout, done.stderr[-2000:]
    assert here.allow()  # not known here yet
    breaker_clock.advance(FLUSH_SECONDS)
    with pytest.raises(CircuitOpen):
        backend_call(backend, "health_check")
    assert breaker_for(backend) is here and here.state == CircuitState.OPEN
