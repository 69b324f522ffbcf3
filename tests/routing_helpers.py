"""Helpers for the routing tests: backends on real servers, live processes,
memory writes, change feeds."""

import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from accounts.actors import SYSTEM
from memories import services as memory_services
from routing import outbox
from routing.backends.registry import adapter_for, adapters_reset
from routing.breaker import breakers_reset
from routing.models import OutboxEntry, OutboxState
from routing.rules import invalidate
from tests.factories import BackendFactory, unit_vector
from tests.subprocess_env import child_env

ROOT = Path(__file__).resolve().parent.parent


def add(space, text: str, seed: int = 0, **fields):
    """Add a memory through the real service."""
    memory, _ = memory_services.memory_add(
        actor=SYSTEM,
        space=space,
        data={"content": text, **fields},
        embedding=unit_vector(seed or hash(text) % 10_000),
    )
    return memory


def mcp_backend(tmp_path, name: str = "graph", **fields):
    """A backend on the real official MCP memory server (stdio, own file)."""
    config = {
        "memory_file": str(tmp_path / f"{name}.jsonl"),
        **fields.pop("config", {}),
    }
    return BackendFactory(name=name, config=config, **fields)


def graph_names(backend) -> list[str]:
    """Entity names the MCP server of ``backend`` holds."""
    return sorted(e["name"] for e in adapter_for(backend).read_graph())


class FakeClock:
    """A monotonic clock for circuit breakers that moves only when advanced."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """As if ``seconds`` had passed."""
        self.now += seconds


def reset_routing_state() -> None:
    """Close adapters and forget breakers and the rule cache."""
    adapters_reset()
    breakers_reset()
    invalidate()


def deliver_all() -> list[str]:
    """Deliver every pending (memory, backend) pair now; their sorted statuses."""
    pending = OutboxEntry.objects.filter(state=OutboxState.PENDING).values_list(
        "memory_id", "backend_id"
    )
    return sorted(
        outbox.outbox_deliver(memory_id=memory_id, backend_id=backend_id).status
        for memory_id, backend_id in set(pending)
    )


def deliver_concurrently(
    memories, backend, *, threads: int = 5, timeout: float = 60
) -> list[str]:
    """Deliver ``memories`` to ``backend`` from ``threads`` threads at once.

    Returns each delivery's status; an exception in a thread fails the call.
    """
    from django.db import connection

    statuses: list[str] = []
    errors: list[Exception] = []

    def worker(chunk):
        try:
            for memory in chunk:
                result = outbox.outbox_deliver(
                    memory_id=memory.pk, backend_id=backend.pk
                )
                statuses.append(result.status)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [
        threading.Thread(target=worker, args=(memories[i::threads],))
        for i in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout)
    assert not errors, errors
    return statuses


def graph_call(backend, tool: str, arguments: dict):
    """Call a tool of ``backend``'s MCP server directly, as another writer of
    the graph would (serialized like the adapter's own calls)."""
    adapter = adapter_for(backend)
    with adapter._serialized() as deadline:
        return adapter._call(tool, arguments, deadline)


def drain(adapter, cursor=None, *, limit: int = 100):
    """Every change after ``cursor``, page by page; (changes, pages, cursor)."""
    changes, pages = [], 0
    while True:
        page = adapter.changes_since(cursor, limit=limit)
        assert len(page.changes) <= limit
        changes += page.changes
        pages += 1
        cursor = page.cursor
        if not page.more:
            return changes, pages, cursor


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def mcp_hub_process(log: Path, *, timeout: float = 90, **env: str):
    """``python -m memories.mcp`` (MemoryHub's MCP endpoint) in its own process
    on a free port and this test database; yields its URL. ``env`` adds
    environment variables.

    Tests using it need committed data (``django_db(transaction=True)``).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 (fixed argv)
            [sys.executable, "-m", "memories.mcp", "--port", str(port)],
            cwd=ROOT,
            env=child_env(MEMORYHUB_LOG_LEVEL="WARNING", **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            with suppress(httpx.HTTPError):
                # Unauthenticated: a 401 means the server is up.
                if httpx.post(url, json={}, timeout=5).status_code == 401:
                    break
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
