"""factory_boy factories and small helpers for building accounts and spaces."""

import factory
import numpy as np

from accounts import services as account_services
from accounts.actors import SYSTEM, actor_for_key, actor_for_user
from accounts.models import Team, User
from memories import services as memory_services


def unit_vector(seed: int) -> list[float]:
    """A random unit vector of the embedder's size, for tests where ranking does
    not matter (skips the embedding model)."""
    values = np.random.default_rng(seed).normal(size=384)
    return list(values / np.linalg.norm(values))


class UserFactory(factory.django.DjangoModelFactory):
    """A plain user with password ``pw``."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw")


def make_team(slug: str | None = None) -> Team:
    """A team through the real service (with its permission group)."""
    make_team.counter += 1
    return account_services.team_create(slug=slug or f"team{make_team.counter}")


make_team.counter = 0


def make_member(team: Team, role: str = "member", **kwargs) -> User:
    """A user with ``role`` in ``team``."""
    user = UserFactory(**kwargs)
    account_services.membership_set(team=team, user=user, role=role)
    return user


def make_space(team: Team, slug: str = "default", **kwargs):
    """A space through the real service (keys initialised)."""
    return memory_services.space_create(actor=SYSTEM, team=team, slug=slug, **kwargs)


def make_key(team: Team, **kwargs):
    """An API key: returns (ApiKey, secret, Actor)."""
    kwargs.setdefault("name", "test key")
    api_key, secret = account_services.api_key_create(team=team, **kwargs)
    return api_key, secret, actor_for_key(api_key)


__all__ = [
    "SYSTEM",
    "UserFactory",
    "actor_for_key",
    "actor_for_user",
    "make_key",
    "make_member",
    "make_space",
    "make_team",
]
