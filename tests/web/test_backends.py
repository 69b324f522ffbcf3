"""The backends page: which backends serve the space, circuits, backlog."""

import pytest
from django.test import Client
from django.urls import reverse

from routing import services as routing_services
from tests.factories import SYSTEM, BackendFactory
from tests.routing_helpers import reset_routing_state
from tests.web.conftest import add, signed_in

pytestmark = pytest.mark.django_db


def url(space):
    return reverse(
        "web:space_backends", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )


@pytest.fixture(autouse=True)
def _fresh_rules():
    reset_routing_state()
    yield
    reset_routing_state()


def test_a_space_served_only_by_its_own_store_says_so(people, space):
    body = signed_in(people["viewer"]).get(url(space)).content.decode()
    assert "served by MemoryHub's own encrypted store only" in body
    assert "closed (healthy)" in body


def test_a_replica_shows_its_backlog(people, space):
    BackendFactory(name="graph")
    routing_services.rule_create(
        actor=SYSTEM, name="to-graph", write_backends=["graph"]
    )
    reset_routing_state()
    add(space, "Ada likes tea", 1)
    add(space, "Bob skis", 2)
    page = signed_in(people["viewer"]).get(url(space))
    assert page.status_code == 200
    body = page.content.decode()
    assert "graph" in body and "mcp_memory" in body
    row = body[body.index("<td>graph") :]
    assert "<td>2, oldest" in row[: row.index("</tr>")]
    assert "own encrypted store only" not in body


def test_another_team_and_anonymous(people, space):
    assert signed_in(people["outsider"]).get(url(space)).status_code == 404
    assert Client().get(url(space)).status_code == 302
