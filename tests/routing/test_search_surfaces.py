"""Every search surface goes through the routing rules (one hook in
``memories.selectors.memory_search``); without rules, search stays local and
touches no routing table."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.actors import SYSTEM
from audit.models import AccessEvent
from memories.selectors import memory_search
from routing import rules, services
from routing.models import RoutingRule
from tests.api_support import space_url
from tests.conftest import client_for_key
from tests.factories import make_key
from tests.routing_helpers import add, deliver_all, mcp_backend

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.usefixtures("fresh_routing"),
]


@pytest.fixture
def routed(space, tmp_path):
    """Two memories replicated to an MCP graph that serves the space's
    searches (``primary``); a third one only in the canonical store."""
    mcp_backend(tmp_path, name="graph")
    services.rule_create(
        actor=SYSTEM,
        name="replicate",
        priority=100,
        match={"operations": ["add", "update", "delete"]},
        write_backends=["graph"],
    )
    copies = [
        add(space, "prefers green tea in the morning", seed=1, user_id="bob"),
        add(space, "green tea gives her headaches", seed=2, user_id="eve"),
    ]
    deliver_all()
    services.rule_delete(actor=SYSTEM, rule=RoutingRule.objects.get(name="replicate"))
    add(space, "green tea, only in the canonical store", seed=3, user_id="bob")
    services.rule_create(
        actor=SYSTEM,
        name="reads",
        match={"spaces": ["acme/*"], "operations": ["search"]},
        read_strategy="primary",
        read_backends=["graph"],
    )
    return copies


def _audit():
    return AccessEvent.objects.filter(action="memory.search").latest("id")


def test_rest_search_is_served_by_the_rule_backend(space, routed):
    _, secret, _ = make_key(space.team, spaces=[space])
    response = client_for_key(secret).post(
        space_url(space, "search/"), {"query": "green tea", "top_k": 5}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert {r["id"] for r in response.json()["results"]} == {str(m.pk) for m in routed}
    assert _audit().backend == "graph" and _audit().detail["routed"] is True


def test_filters_still_apply_to_canonical_rows(space, routed):
    """The subject id narrows the backend's search; the canonical rows decide."""
    found = memory_search(
        actor=SYSTEM,
        space=space,
        query="green tea",
        filters={"AND": [{"user_id": "bob"}, {"created_at": {"gte": "2000-01-01"}}]},
    )
    assert [m.pk for m in found] == [routed[0].pk]
    assert found[0].plaintext == "prefers green tea in the morning"


def test_mem0_compatible_search_is_routed_too(space, routed):
    _, secret, _ = make_key(space.team, spaces=[space])
    response = client_for_key(secret, scheme="Token").post(
        "/v3/memories/search/",
        {"query": "green tea", "filters": {"user_id": "*"}},
        format="json",
        HTTP_X_MEMORYHUB_SPACE=space.slug,
    )
    assert response.status_code == 200, response.json()
    assert {r["id"] for r in response.json()["results"]} == {str(m.pk) for m in routed}
    assert _audit().backend == "graph"


def test_keyword_searches_stay_local(space, routed):
    """Only the canonical store holds the blind keyword index."""
    found = memory_search(actor=SYSTEM, space=space, query="canonical", mode="keyword")
    assert [m.plaintext for m in found] == ["green tea, only in the canonical store"]


def test_without_rules_search_touches_no_routing_table(space):
    add(space, "a local memory", seed=4)
    rules.snapshot()  # the per-process cache, warm as in a running server
    with CaptureQueriesContext(connection) as captured:
        found = memory_search(actor=SYSTEM, space=space, query="local memory")
    assert len(found) == 1
    assert not [q for q in captured.captured_queries if "routing_" in q["sql"]]
