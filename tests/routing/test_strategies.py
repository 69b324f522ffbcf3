"""Read strategies on real MCP memory servers, the circuit breaker and retries."""

import fcntl
import threading
import time

import pytest

from accounts.actors import SYSTEM
from memories.embedding import embed_texts
from memoryhub.errors import Unavailable
from routing import calls, selectors, services
from routing.backends.base import CircuitOpen, PermanentError, TransientError
from routing.backends.registry import adapter_for
from routing.breaker import CircuitBreaker, breaker_for
from routing.models import CircuitState
from routing.strategies import rrf_merge
from tests.factories import BackendFactory
from tests.routing_helpers import FakeClock, add, deliver_all, mcp_backend

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.usefixtures("fresh_routing"),
]


def test_breaker_opens_half_opens_and_closes():
    clock = FakeClock()
    breaker = CircuitBreaker(
        backend_id=-1, failure_threshold=2, cooldown=0.2, clock=clock
    )
    breaker.record_failure("boom")
    assert breaker.allow() and breaker.state == CircuitState.CLOSED
    breaker.record_failure("boom")
    assert breaker.state == CircuitState.OPEN and not breaker.allow()
    clock.advance(0.25)
    assert breaker.allow() and breaker.state == CircuitState.HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.record_failure("still down")
    assert breaker.state == CircuitState.OPEN and not breaker.allow()
    clock.advance(0.25)
    assert breaker.allow()
    breaker.record_success(3.0)
    assert breaker.state == CircuitState.CLOSED and breaker.failures == 0
    assert breaker.latency_ms == 3.0 and 0 < breaker.error_rate < 1


def test_rrf_merges_and_deduplicates():
    merged = rrf_merge([["a", "b", "c"], ["b", "d"], ["b", "a"]])
    assert [key for key, _ in merged][:2] == ["b", "a"]
    assert len(merged) == 4


def test_transient_errors_are_retried_a_bounded_number_of_times(tmp_path):
    down = mcp_backend(
        tmp_path,
        name="down",
        max_retries=2,
        timeout_seconds=2,
        config={"url": "http://127.0.0.1:9/mcp"},
    )
    del down.config["memory_file"]
    with pytest.raises(TransientError):
        calls.backend_call(down, "health_check")
    breaker = breaker_for(down)
    assert breaker.failures == 3 and breaker.state == CircuitState.OPEN
    with pytest.raises(CircuitOpen):
        calls.backend_call(down, "health_check")
    down.refresh_from_db()
    assert down.circuit_state == CircuitState.OPEN and down.last_error


def test_mcp_calls_run_in_the_callers_thread_and_keep_their_deadline(
    tmp_path, monkeypatch
):
    """No hand-off to the call pool: the session bounds every call itself,
    and the latency drill knob stops at the backend's timeout like the pool."""
    graph = mcp_backend(tmp_path, timeout_seconds=2)
    threads = []
    adapter = adapter_for(graph)
    original = adapter._call

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(adapter, "_call", recording)
    calls.backend_call(graph, "health_check")
    assert threads == [threading.current_thread()]

    slow = mcp_backend(
        tmp_path,
        name="slow",
        timeout_seconds=0.2,
        max_retries=0,
        config={"inject_latency_ms": 60_000},
    )
    with pytest.raises(TransientError, match=r"did not answer within 0\.2s"):
        calls.backend_call(slow, "health_check")
    assert breaker_for(slow).failures == 1


def test_waiting_for_the_servers_turn_counts_against_the_timeout(tmp_path):
    """Another process holding the server (its lock file) past the timeout
    fails the call as transient, as the call pool's deadline did."""
    graph = mcp_backend(tmp_path, timeout_seconds=0.3, max_retries=0)
    # Starting node and the server can take longer than the 0.3 s this test
    # times: give the first call (the session start) a cold start's budget.
    adapter = adapter_for(graph)
    adapter.timeout = 30
    calls.backend_call(graph, "health_check")  # the session is up
    adapter.timeout = 0.3
    with open(f"{graph.config['memory_file']}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(TransientError, match="held it past the timeout"):
            calls.backend_call(graph, "health_check")
        fcntl.flock(handle, fcntl.LOCK_UN)
    assert breaker_for(graph).failures == 1
    calls.backend_call(graph, "health_check")  # its turn again, same session
    assert breaker_for(graph).failures == 0


def test_pooled_calls_leave_no_database_connection_open():
    """Adapters may use Django's connection in a pool thread (an HTTP MCP
    server's advisory lock); each call closes what it opened."""
    from django.db import connections

    def uses_the_database():
        wrapper = connections["default"]  # this thread's own
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert wrapper.connection is not None
        return wrapper

    used = calls.POOL.submit(calls.closing_connections, uses_the_database).result()
    assert used is not connections["default"] and used.connection is None


class Recorder:
    """Stands in for a pooled adapter's method: the first call takes
    ``first_seconds`` (then returns, or raises ``first_error``), later ones
    answer at once; notes how many ran at the same time."""

    def __init__(self, first_seconds: float, first_error=None) -> None:
        self.first_seconds, self.first_error = first_seconds, first_error
        self.calls, self.running, self.peak = 0, 0, 0
        self.lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self.lock:
            self.calls += 1
            number = self.calls
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if number == 1:
                time.sleep(self.first_seconds)
                if self.first_error is not None:
                    raise self.first_error
            return f"answer-{number}"
        finally:
            with self.lock:
                self.running -= 1


def pooled_backend(monkeypatch, method: str, recorder: Recorder):
    """A threaded backend (runs in the call pool) whose ``method`` is ``recorder``."""
    backend = BackendFactory(
        name=f"pooled-{method}",
        kind="mem0_platform",
        timeout_seconds=0.3,
        max_retries=2,
        config={"host": "http://127.0.0.1:9"},
    )
    adapter = adapter_for(backend)
    assert adapter.threaded
    monkeypatch.setattr(adapter, method, recorder)
    return backend


def test_a_timed_out_write_is_awaited_not_sent_again(monkeypatch):
    """Sent again beside the late one, an add would be stored twice (each
    attempt finds no copy yet): the retry waits for the attempt running."""
    recorder = Recorder(first_seconds=0.5)
    backend = pooled_backend(monkeypatch, "add", recorder)
    assert calls.backend_call(backend, "add", "record") == "answer-1"
    assert (recorder.calls, recorder.peak) == (1, 1)
    # The attempt that did not answer in time counted as a failure.
    assert breaker_for(backend).failures == 0 and breaker_for(backend).error_rate > 0


def test_a_write_that_fails_late_is_sent_again_once_it_has_ended(monkeypatch):
    recorder = Recorder(first_seconds=0.4, first_error=TransientError("502"))
    backend = pooled_backend(monkeypatch, "update", recorder)
    assert calls.backend_call(backend, "update", "ext", "record") == "answer-2"
    assert (recorder.calls, recorder.peak) == (2, 1)


def test_a_write_still_running_after_every_attempt_is_not_sent_again(monkeypatch):
    recorder = Recorder(first_seconds=1.5)
    backend = pooled_backend(monkeypatch, "delete", recorder)
    with pytest.raises(TransientError, match=r"did not answer within 0\.3s"):
        calls.backend_call(backend, "delete", "ext")
    assert (recorder.calls, recorder.peak) == (1, 1)


def test_a_timed_out_read_is_tried_afresh(monkeypatch):
    """A stuck read is harmless, and a new one may get through."""
    recorder = Recorder(first_seconds=1.0)
    backend = pooled_backend(monkeypatch, "health_check", recorder)
    assert calls.backend_call(backend, "health_check") == "answer-2"
    assert (recorder.calls, recorder.peak) == (2, 2)


def test_permanent_errors_are_not_retried(tmp_path):
    graph = mcp_backend(tmp_path, max_retries=3)
    with pytest.raises(PermanentError):
        calls.backend_call(graph, "search", None, scope=None, top_k=1)
    assert breaker_for(graph).failures == 1


@pytest.fixture
def world(space, tmp_path):
    """Two real MCP servers holding the same replicated memories, one slow,
    and one unreachable backend."""
    graph = mcp_backend(tmp_path, name="graph")
    slow = mcp_backend(tmp_path, name="slow", config={"inject_latency_ms": 300})
    down = BackendFactory(name="down", max_retries=0, timeout_seconds=2)
    services.rule_create(
        actor=SYSTEM, name="replicate", priority=100, write_backends=["graph", "slow"]
    )
    memories = [
        add(space, "prefers green tea in the morning", seed=1),
        add(space, "green tea gives her headaches at night", seed=2),
        add(space, "owns a black cat", seed=3),
    ]
    embed_texts(["warm up the embedder"])  # keep model loading out of timings
    deliver_all()
    return {"graph": graph, "slow": slow, "down": down, "memories": memories}


def read_rule(strategy, backends, timeout=2.0):
    services.rule_create(
        actor=SYSTEM,
        name="reads",
        priority=1,
        match={"operations": ["search"]},
        read_strategy=strategy,
        read_backends=backends,
        read_timeout_seconds=timeout,
    )


def search(space, query="green tea"):
    return selectors.route_search(actor=SYSTEM, space=space, query=query, top_k=5)


def test_primary_serves_from_its_backend_and_maps_back_to_memories(world, space):
    read_rule("primary", ["graph"])
    found, info = search(space)
    assert {m.pk for m in found} == {m.pk for m in world["memories"][:2]}
    assert all(m.plaintext.startswith(("prefers", "green")) for m in found)
    assert info["strategy"] == "primary"
    assert [b["backend"] for b in info["backends"]] == ["graph"]


def test_primary_down_is_a_503(world, space):
    read_rule("primary", ["down"])
    with pytest.raises(Unavailable, match="down"):
        search(space)


def test_failover_skips_failing_and_open_circuits(world, space):
    read_rule("failover", ["down", "graph"])
    found, info = search(space)
    assert len(found) == 2
    assert [(b["backend"], b["status"]) for b in info["backends"]] == [
        ("down", "failed"),
        ("graph", "ok"),
    ]
    for _ in range(3):
        search(space)
    _, info = search(space)
    assert info["backends"][0]["status"] == "skipped"
    assert "circuit open" in info["backends"][0]["error"]


def test_fastest_prefers_the_lowest_latency_backend(world, space):
    read_rule("fastest", ["slow", "graph"])
    for _ in range(3):  # both get measured (unmeasured ones go first)
        search(space)
    _, info = search(space)
    assert info["backends"] == [info["backends"][0]]
    assert info["backends"][0]["backend"] == "graph"
    assert (
        breaker_for(world["slow"]).latency_ms > breaker_for(world["graph"]).latency_ms
    )


def test_fanout_merges_backends_and_leaves_out_the_slow_one(world, space):
    read_rule("fanout", ["graph", "local", "slow", "down"], timeout=0.25)
    found, info = search(space)
    statuses = {b["backend"]: b["status"] for b in info["backends"]}
    assert statuses == {
        "graph": "ok",
        "local": "ok",
        "slow": "timeout",
        "down": "failed",
    }
    ids = [m.pk for m in found]
    assert len(ids) == len(set(ids))  # de-duplicated across backends
    assert set(ids[:2]) == {m.pk for m in world["memories"][:2]}  # fused: both agree
