"""The permission matrix of every HTTP endpoint: native REST, mem0-compatible,
routing. One test per entry of ``tests/permissions``, every caller of the
cast, statuses and hidden rows checked by ``check_matrix``."""

from urllib.parse import urlsplit

import pytest
from django.urls import resolve

from accounts.actors import actor_for_key, actor_for_user
from accounts.models import ApiKey
from memories import permissions
from tests.conftest import client_for_user
from tests.factories import UserFactory
from tests.permission_matrix import Call, check_matrix
from tests.permissions import ENDPOINTS
from tests.permissions.registry import stating

pytestmark = pytest.mark.django_db


def _on_route(entry, call):
    """``call`` (or its builder), checked to reach the entry's route and method:
    an entry cannot quietly test some other endpoint."""

    def checked(who: str) -> Call:
        request = call(who) if callable(call) else call
        match = resolve(urlsplit(request.url).path)
        assert match.view_name == entry.name, (entry.id, request.url)
        assert request.method.upper() == entry.method, (entry.id, request.method)
        return request

    return checked


@pytest.mark.parametrize("entry", ENDPOINTS, ids=lambda entry: entry.id)
def test_every_endpoint_answers_every_caller_as_its_entry_declares(entry, world):
    """The entry's docstring says what; the registry says who gets which status."""
    world.entry = entry
    case = entry.build(world)
    with stating(entry):
        results = check_matrix(
            world.cast,
            _on_route(entry, case.call),
            entry.expected,
            hidden=world.hidden_rows() if case.hidden is None else case.hidden,
            after=case.after,
        )
        if case.then is not None:
            case.then(results)


# --- operators: the routing API, and nothing more -------------------------------------

ROUTING_BACKENDS = "/api/v1/routing/backends/"


def _acme_memories(world) -> str:
    return f"/api/v1/spaces/default/memories/?team={world.team.slug}"


def test_an_operator_manages_routing_but_gets_nothing_of_another_teams_space(world):
    """Staff without superuser: the routing API answers, ``acme/default`` is a
    404 like for any outsider, and ``space_perms`` grants nothing there."""
    operator = world.cast.users["operator"]
    client = world.cast.clients["operator"]
    assert operator.is_staff and not operator.is_superuser
    assert client.get(ROUTING_BACKENDS).status_code == 200
    assert client.get(_acme_memories(world)).status_code == 404
    added = client.post(_acme_memories(world), {"content": "x"}, format="json")
    assert added.status_code == 404
    actor = actor_for_user(operator)
    assert actor.is_operator
    assert permissions.space_perms(actor, world.space) == frozenset()
    visible = permissions.spaces_visible_to(actor)
    assert world.space not in visible and world.other_space in visible


@pytest.mark.parametrize("is_staff", [False, True])
def test_a_superuser_reads_every_space_but_operates_only_as_staff(world, is_staff):
    """``space_perms`` gives superusers every permission on every space; the
    routing API asks ``is_staff`` only, so a superuser who is not staff is
    refused there."""
    superuser = UserFactory(is_superuser=True)
    # user_create makes superusers staff; an operator may untick it in the admin.
    superuser.is_staff = is_staff
    superuser.save(update_fields=["is_staff"])
    client = client_for_user(superuser)
    listed = client.get(_acme_memories(world))
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json()["results"]] == [str(world.mine.pk)]
    actor = actor_for_user(superuser)
    assert permissions.space_perms(actor, world.space) == permissions.ALL_PERMS
    assert actor.is_operator is is_staff
    assert client.get(ROUTING_BACKENDS).status_code == (200 if is_staff else 403)


def test_a_key_is_never_an_operator_even_one_a_staff_user_made(world):
    """The other team's key was created by the (staff) operator: still 403."""
    key = ApiKey.objects.get(team__slug="other")
    assert key.created_by == world.cast.users["operator"]
    assert not actor_for_key(key).is_operator
    response = world.cast.clients["other_team"].get(ROUTING_BACKENDS)
    assert response.status_code == 403
