"""Helpers for the routing tests: backends on real servers, memory writes."""

from accounts.actors import SYSTEM
from memories import services as memory_services
from routing import outbox, services
from routing.backends.registry import adapter_for, adapters_reset
from routing.breaker import breakers_reset
from routing.models import OutboxEntry, OutboxState
from routing.rules import invalidate
from tests.factories import unit_vector


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
    return services.backend_create(
        actor=SYSTEM,
        name=name,
        kind="mcp_memory",
        allows_plaintext=True,
        config={
            "memory_file": str(tmp_path / f"{name}.jsonl"),
            **fields.pop("config", {}),
        },
        **fields,
    )


def graph_names(backend) -> list[str]:
    """Entity names the MCP server of ``backend`` holds."""
    return sorted(e["name"] for e in adapter_for(backend).read_graph())


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
