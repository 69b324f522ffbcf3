"""Outbox delivery through a real Celery worker on Redis, including a worker
killed with SIGKILL mid-delivery, and a backend that is down for a while.

Like ``tests/memories/test_celery_worker.py``: outside CI an unreachable Redis skips the
worker tests; in CI (``CI=true``) it fails them.
"""

import signal
import time

import pytest

from accounts.actors import SYSTEM
from routing import outbox, services
from routing.backends.mcp_memory import default_server_script
from routing.breaker import breaker_for
from routing.models import ExternalRef, OutboxEntry, OutboxState
from tests.celery_support import start_worker, stop_worker, wait_for
from tests.factories import make_space, make_team
from tests.routing_helpers import add, graph_names, mcp_backend, reset_routing_state

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_routing"),
]


def delivered() -> bool:
    return not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists()


def test_worker_killed_mid_delivery_still_delivers_every_write_exactly_once(
    real_broker,
    tmp_path,
    monkeypatch,
):
    space = make_space(make_team("killers"), "default")
    backend = mcp_backend(tmp_path, config={"inject_latency_ms": 400})
    services.rule_create(actor=SYSTEM, name="all", write_backends=["graph"])
    log = tmp_path / "worker.log"
    first = start_worker(real_broker, log)
    try:
        wait_for(lambda: b"ready." in log.read_bytes(), first, log, timeout=60)
        memories = [add(space, f"fact number {n}", seed=n + 1) for n in range(12)]
        wait_for(lambda: ExternalRef.objects.count() >= 2, first, log, timeout=60)
        stop_worker(first, signal.SIGKILL)  # mid-delivery: a 400 ms call is in flight
        assert not delivered()
    finally:
        stop_worker(first, signal.SIGKILL)
    second = start_worker(real_broker, log)
    try:
        wait_for(
            lambda: log.read_bytes().count(b"ready.") >= 2, second, log, timeout=60
        )
        # The killed worker's unacked message returns only after Redis's
        # visibility timeout; the sweeper re-dispatches it now.
        monkeypatch.setattr(outbox, "REDISPATCH_AFTER_SECONDS", 0)
        deadline = time.monotonic() + 90
        while not delivered() and time.monotonic() < deadline:
            services.outbox_sweep()
            time.sleep(1.5)
        assert delivered(), log.read_text()[-3000:]
    finally:
        stop_worker(second)
    reset_routing_state()
    names = graph_names(backend)
    assert names == sorted(f"memoryhub:{m.pk}" for m in memories)  # each exactly once
    assert ExternalRef.objects.count() == len(memories)


def test_a_backend_down_for_a_while_then_back_loses_nothing(
    db, space, tmp_path, breaker_clock
):
    """Deliveries fail (and back off) while the server cannot start; after it
    is back, retries deliver every write, in the final state."""
    link = tmp_path / "server.js"
    backend = mcp_backend(tmp_path, max_retries=0, config={"args": [str(link)]})
    services.rule_create(actor=SYSTEM, name="all", write_backends=["graph"])
    memories = [add(space, f"during outage {n}", seed=n + 1) for n in range(3)]
    for memory in memories:
        result = outbox.outbox_deliver(memory_id=memory.pk, backend_id=backend.pk)
        assert result.status in ("failed", "postponed") and result.retry_in > 0
    assert not ExternalRef.objects.exists()
    link.symlink_to(default_server_script())  # the backend is back
    breaker = breaker_for(backend)
    breaker_clock.advance(breaker.cooldown)  # ...and the circuit's cooldown passed
    for memory in memories:
        assert (
            outbox.outbox_deliver(memory_id=memory.pk, backend_id=backend.pk).status
            == "delivered"
        )
    assert graph_names(backend) == sorted(f"memoryhub:{m.pk}" for m in memories)
    assert delivered()
