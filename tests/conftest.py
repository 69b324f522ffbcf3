"""Shared fixtures: teams, spaces, keys, API clients, and the permission cast.

The ``cast`` fixture builds every kind of caller the permission matrix tests
need against one space: anonymous, another team, a team member without
object permission on the space, a read-only key, and permitted callers.
"""

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.actors import SYSTEM, actor_for_user
from tests.factories import make_key, make_member, make_space, make_team


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def system_actor():
    return SYSTEM


@pytest.fixture
def team(db):
    return make_team("acme")


@pytest.fixture
def space(team):
    return make_space(team, "default")


@pytest.fixture
def owner(team):
    return make_member(team, "owner")


@pytest.fixture
def owner_actor(owner):
    return actor_for_user(owner)


def client_for_key(secret: str, scheme: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {secret}")
    return client


def client_for_user(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@dataclass
class Cast:
    """Callers of every kind around ``space`` (see module docstring)."""

    team: object
    space: object
    clients: dict  # name -> APIClient
    secrets: dict  # name -> api key secret (for key callers)


@pytest.fixture
def cast(team, space):
    """anonymous, other_team (key), no_perm (team member w/o access to a
    restricted space... see below), read_only (key), member / owner (users),
    writer (key)."""
    other = make_team("other")
    make_space(other, "default")
    _, other_secret, _ = make_key(other)
    _, ro_secret, _ = make_key(team, read_only=True)
    _, rw_secret, _ = make_key(team)
    # A key of the same team restricted to another space: it sees the team
    # but holds no permission on ``space``.
    elsewhere = make_space(team, "elsewhere")
    _, scoped_secret, _ = make_key(team, spaces=[elsewhere])
    viewer = make_member(team, "viewer")
    member = make_member(team, "member")
    owner = make_member(team, "owner")
    outsider = make_member(other, "owner")
    clients = {
        "anonymous": APIClient(),
        "other_team": client_for_key(other_secret),
        "other_team_user": client_for_user(outsider),
        "no_object_perm": client_for_key(scoped_secret),
        "read_only": client_for_key(ro_secret),
        "viewer": client_for_user(viewer),
        "member": client_for_user(member),
        "owner": client_for_user(owner),
        "writer": client_for_key(rw_secret, scheme="Token"),
    }
    secrets = {
        "other_team": other_secret,
        "no_object_perm": scoped_secret,
        "read_only": ro_secret,
        "writer": rw_secret,
    }
    return Cast(team=team, space=space, clients=clients, secrets=secrets)
