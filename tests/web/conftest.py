"""Fixtures of the team app's tests: people of every role around
``acme/default``, signed-in Django test clients, and planted memories."""

import pytest
from django.test import Client
from django.urls import reverse

from memories import services
from tests.factories import SYSTEM, make_member, make_space, make_team, unit_vector

XSS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")


def signed_in(user, **options) -> Client:
    """A browser signed in as ``user`` (through the session, as people are)."""
    client = Client(**options)
    client.force_login(user)
    return client


def add(space, content: str, seed: int = 0, **fields):
    """A memory added by the system, with a random embedding (no model)."""
    memory, _ = services.memory_add(
        actor=SYSTEM,
        space=space,
        data={"content": content, **fields},
        embedding=unit_vector(seed),
    )
    return memory


def space_url(space) -> str:
    return reverse(
        "web:space", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )


def memory_url(space, memory_id, action: str | None = None) -> str:
    kwargs = {"team_slug": space.team.slug, "slug": space.slug, "memory_id": memory_id}
    if action is None:
        return reverse("web:memory", kwargs=kwargs)
    return reverse("web:memory_action", kwargs={**kwargs, "action": action})


@pytest.fixture
def people(team, space):
    """A viewer, a member and an owner of ``acme``, and the owner of another
    team (with its own space ``other/default``)."""
    other = make_team("other")
    make_space(other, "default")
    return {
        "viewer": make_member(team, "viewer"),
        "member": make_member(team, "member"),
        "owner": make_member(team, "owner"),
        "outsider": make_member(other, "owner"),
    }


@pytest.fixture
def memory(space):
    return add(space, "Ada likes green tea", user_id="ada", categories=["drinks"])
