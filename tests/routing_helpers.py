"""Helpers for the routing tests: backends on real servers, memory writes."""

import numpy as np

from accounts.actors import SYSTEM
from memories import services as memory_services
from routing import services
from routing.backends.registry import adapter_for, adapters_reset
from routing.breaker import breakers_reset
from routing.rules import invalidate


def vector(seed: int) -> list[float]:
    """A unit vector (skips the embedder where ranking does not matter)."""
    values = np.random.default_rng(seed).normal(size=384)
    return list(values / np.linalg.norm(values))


def add(space, text: str, seed: int = 0, **fields):
    """Add a memory through the real service."""
    memory, _ = memory_services.memory_add(
        actor=SYSTEM,
        space=space,
        data={"content": text, **fields},
        embedding=vector(seed or hash(text) % 10_000),
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
