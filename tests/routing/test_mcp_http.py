"""The ``mcp_memory`` backend over streamable HTTP (a URL), against MemoryHub's
own MCP endpoint — ``python -m memories.mcp`` in a process of its own on
this test database — whose nine graph tools have the official server's
schemas. The official server itself speaks stdio only (see
``test_outbox.py``).

The graph lives in the space of the backend's API key (team ``graphs``);
the memories replicated to it come from team ``acme``.
"""

import pytest

from accounts.actors import SYSTEM
from accounts.services import api_key_revoke
from memories import services as memory_services
from memories.models import Memory
from memories.services import erasure
from routing import calls, outbox, selectors, services
from routing.backends.base import PermanentError
from routing.backends.registry import adapter_for
from routing.breaker import breaker_for
from routing.models import ExternalRef
from tests.factories import BackendFactory, make_key, make_space, make_team
from tests.routing_helpers import (
    add,
    deliver_all,
    deliver_concurrently,
    drain,
    mcp_hub_process,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_routing"),
]


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory):
    """One MCP process for the module (it keeps no state between requests);
    it checks keys on every request, so a revocation shows at once."""
    log = tmp_path_factory.mktemp("mcp") / "mcp.log"
    with mcp_hub_process(log, MEMORYHUB_API_KEY_CACHE_SECONDS="0") as url:
        yield url


@pytest.fixture
def graph_key(transactional_db):
    """(ApiKey, secret) of team ``graphs``, whose space holds the graph."""
    team = make_team("graphs")
    make_space(team, "default")
    api_key, secret, _ = make_key(team)
    return api_key, secret


def hub_backend(url: str, secret: str | None, name: str = "hubgraph", **fields):
    return BackendFactory(
        name=name,
        timeout_seconds=30,
        config={"url": url},
        secrets={"api_key": secret} if secret else {},
        **fields,
    )


def names(backend) -> list[str]:
    return sorted(e["name"] for e in adapter_for(backend).read_graph())


@pytest.fixture
def origin(transactional_db):
    return make_space(make_team("acme"), "default")


def replicate_to(backend_name: str) -> None:
    services.rule_create(
        actor=SYSTEM,
        name="to-hub",
        match={"spaces": ["acme/*"]},
        write_backends=[backend_name],
    )


def serve_reads_from(backend_name: str) -> None:
    services.rule_create(
        actor=SYSTEM,
        name="reads",
        priority=1,
        match={"spaces": ["acme/*"], "operations": ["search"]},
        read_strategy="primary",
        read_backends=[backend_name],
    )


def test_replicates_to_and_searches_a_memoryhub_mcp_endpoint(
    hub_url, graph_key, origin
):
    backend = hub_backend(hub_url, graph_key[1])
    replicate_to("hubgraph")
    tea = add(origin, "prefers green tea in the morning", seed=1)
    cat = add(origin, "owns a black cat", seed=2)
    deliver_all()
    assert names(backend) == sorted(f"memoryhub:{m.pk}" for m in (tea, cat))
    # The graph is encrypted memories in the key's space, not the origin's.
    stored = Memory.objects.filter(space__team__slug="graphs", app_id="mcp-graph")
    assert stored.count() == 4  # two entities, one observation each
    assert not any(b"green tea" in bytes(m.content) for m in stored)

    hit = calls.backend_call(backend, "get", f"memoryhub:{tea.pk}")
    assert (hit.memory_id, hit.content) == (
        str(tea.pk),
        "prefers green tea in the morning",
    )
    serve_reads_from("hubgraph")
    found, info = selectors.route_search(
        actor=SYSTEM, space=origin, query="green tea", top_k=5
    )
    assert [m.pk for m in found] == [tea.pk]
    assert info["backends"][0]["backend"] == "hubgraph"

    _, _, cursor = drain(adapter_for(backend))
    memory_services.memory_update(
        actor=SYSTEM, space=origin, memory_id=tea.pk, content="prefers oolong"
    )
    erasure.memory_delete(actor=SYSTEM, space=origin, memory_id=cat.pk)
    deliver_all()
    assert calls.backend_call(backend, "get", f"memoryhub:{tea.pk}").content == (
        "prefers oolong"
    )
    assert names(backend) == [f"memoryhub:{tea.pk}"]
    changes, _, _ = drain(adapter_for(backend), cursor, limit=1)
    assert [(c.memory_id, c.op) for c in changes] == sorted(
        [(str(tea.pk), "upsert"), (str(cat.pk), "delete")]
    )


def test_concurrent_deliveries_over_http_lose_nothing(
    hub_url, graph_key, origin, monkeypatch
):
    """Five threads deliver twenty memories at once; every one arrives once."""
    backend = hub_backend(hub_url, graph_key[1])
    replicate_to("hubgraph")
    queued = []
    monkeypatch.setattr(outbox, "dispatch", lambda *args, **kw: queued.append(args))
    memories = [add(origin, f"fact {n}", seed=n + 1) for n in range(20)]
    assert len(queued) == 20  # no task ran: the threads below deliver
    statuses = deliver_concurrently(memories, backend, timeout=120)
    assert statuses == ["delivered"] * 20
    assert names(backend) == sorted(f"memoryhub:{m.pk}" for m in memories)
    assert ExternalRef.objects.filter(backend=backend).count() == 20


@pytest.mark.parametrize("secret", ["mh_000000000000_nope", None])
def test_a_bad_or_missing_key_is_a_permanent_error(hub_url, graph_key, secret):
    """Refused credentials fail at once and are not retried."""
    backend = hub_backend(hub_url, secret, max_retries=3)
    with pytest.raises(PermanentError, match=r"refused the credentials \(HTTP 401\)"):
        calls.backend_call(backend, "health_check")
    assert breaker_for(backend).failures == 1


def test_a_key_revoked_mid_session_is_a_permanent_error(hub_url, graph_key):
    api_key, secret = graph_key
    backend = hub_backend(hub_url, secret, max_retries=3)
    calls.backend_call(backend, "health_check")  # the session is up
    api_key_revoke(api_key=api_key)
    with pytest.raises(PermanentError, match="check the backend's api_key"):
        calls.backend_call(backend, "health_check")
    assert breaker_for(backend).failures == 1
