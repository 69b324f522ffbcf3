"""The ``mem0`` backend: a real ``mem0.Memory`` on the embedded PostgreSQL, offline."""

import pytest

from accounts.actors import SYSTEM
from memories import services as memory_services
from routing import selectors, services
from routing.backends.registry import adapter_for
from routing.models import ExternalRef
from tests.routing_helpers import add, deliver_all

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.usefixtures("fresh_routing"),
]


def test_mem0_backend_replicates_and_serves_searches(space):
    backend = services.backend_create(
        actor=SYSTEM,
        name="oss",
        kind="mem0",
        allows_plaintext=True,
        timeout_seconds=60,
        config={"collection": "mh_routing_test"},
    )
    services.rule_create(
        actor=SYSTEM,
        name="oss",
        write_backends=["oss"],
        read_strategy="primary",
        read_backends=["oss"],
    )
    tea = add(space, "Alice prefers green tea", user_id="alice")
    cat = add(space, "Alice owns a black cat", user_id="alice")
    deliver_all()
    deliver_all()  # idempotent: nothing left, nothing duplicated
    memory = adapter_for(backend).memory
    stored = memory.get_all(filters={"user_id": "alice"})["results"]
    assert sorted(item["memory"] for item in stored) == [
        "Alice owns a black cat",
        "Alice prefers green tea",
    ]
    found, info = selectors.route_search(
        actor=SYSTEM,
        space=space,
        query="what does alice drink",
        filters={"user_id": "alice"},
        top_k=1,
    )
    assert [m.pk for m in found] == [tea.pk] and info["strategy"] == "primary"

    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=tea.pk, content="Alice prefers oolong"
    )
    memory_services.memory_delete(
        actor=SYSTEM, space=space, memory_id=cat.pk, hard=True
    )
    deliver_all()
    stored = memory.get_all(filters={"user_id": "alice"})["results"]
    assert [item["memory"] for item in stored] == ["Alice prefers oolong"]
    assert stored[0]["metadata"]["memoryhub_id"] == str(tea.pk)
    assert ExternalRef.objects.filter(backend=backend).count() == 1
