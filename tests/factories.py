"""factory_boy factories for users, teams, spaces, API keys and backends.

Every factory creates its row through the real service (its ``_create``
calls it), so test rows hold what production rows hold: a team its permission
group, a space its data keys, a key its hashed secret, a backend its sealed
secrets. Only ``create`` is supported; ``build`` would skip the service.

The ``make_*`` functions are the short spellings most tests use.
"""

import factory
import numpy as np

from accounts import services as account_services
from accounts.actors import SYSTEM, actor_for_key, actor_for_user
from accounts.models import ApiKey, Membership, Team, User
from memories import services as memory_services
from memories.models import Space
from routing import services as routing_services
from routing.models import Backend

# A port where nothing listens: calls to a backend there fail at once.
UNREACHABLE_MCP_URL = "http://127.0.0.1:9/mcp"


def unit_vector(seed: int) -> list[float]:
    """A random unit vector of the embedder's size, for tests where ranking does
    not matter (skips the embedding model)."""
    values = np.random.default_rng(seed).normal(size=384)
    return list(values / np.linalg.norm(values))


class UserFactory(factory.django.DjangoModelFactory):
    """A user with password ``pw`` (accounts.services.user_create)."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = "pw"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return account_services.user_create(**kwargs)


class TeamFactory(factory.django.DjangoModelFactory):
    """A team with its permission group (accounts.services.team_create)."""

    class Meta:
        model = Team

    slug = factory.Sequence(lambda n: f"team{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return account_services.team_create(**kwargs)


class MembershipFactory(factory.django.DjangoModelFactory):
    """``user`` holds ``role`` in ``team`` (accounts.services.membership_set)."""

    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = "member"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return account_services.membership_set(**kwargs)


class SpaceFactory(factory.django.DjangoModelFactory):
    """A space with its data and index keys (memories.services.space_create),
    created by the system actor."""

    class Meta:
        model = Space

    team = factory.SubFactory(TeamFactory)
    slug = factory.Sequence(lambda n: f"space{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return memory_services.space_create(actor=SYSTEM, **kwargs)


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """A team's API key (accounts.services.api_key_create), trusted caller.

    The secret is shown once, so the factory leaves it on the instance as
    ``secret``; ``spaces`` and ``read_only`` narrow the key as in the service.
    """

    class Meta:
        model = ApiKey

    team = factory.SubFactory(TeamFactory)
    name = "test key"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        api_key, secret = account_services.api_key_create(**kwargs)
        api_key.secret = secret
        return api_key


class BackendFactory(factory.django.DjangoModelFactory):
    """A routing backend registered by the system actor
    (routing.services.backend_create: validated, secrets sealed).

    By default an MCP memory server that may receive plaintext, at a URL where
    nothing listens; pass ``config`` for a real one (other kinds default to an
    empty config) and ``secrets`` to seal.
    """

    class Meta:
        model = Backend

    name = factory.Sequence(lambda n: f"backend{n}")
    kind = "mcp_memory"
    allows_plaintext = True
    config = factory.LazyAttribute(
        lambda o: {"url": UNREACHABLE_MCP_URL} if o.kind == "mcp_memory" else {}
    )
    secrets = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return routing_services.backend_create(actor=SYSTEM, **kwargs)


def make_team(slug: str | None = None) -> Team:
    """A team, named ``slug`` if given."""
    return TeamFactory() if slug is None else TeamFactory(slug=slug)


def make_member(team: Team, role: str = "member", **user_fields) -> User:
    """A new user with ``role`` in ``team``."""
    return MembershipFactory(team=team, role=role, user=UserFactory(**user_fields)).user


def make_space(team: Team, slug: str = "default", **kwargs) -> Space:
    """A space of ``team`` (``kwargs`` as for space_create)."""
    return SpaceFactory(team=team, slug=slug, **kwargs)


def make_key(team: Team, **kwargs):
    """An API key of ``team``: returns (ApiKey, secret, Actor)."""
    api_key = ApiKeyFactory(team=team, **kwargs)
    return api_key, api_key.secret, actor_for_key(api_key)


__all__ = [
    "SYSTEM",
    "UNREACHABLE_MCP_URL",
    "ApiKeyFactory",
    "BackendFactory",
    "MembershipFactory",
    "SpaceFactory",
    "TeamFactory",
    "UserFactory",
    "actor_for_key",
    "actor_for_user",
    "make_key",
    "make_member",
    "make_space",
    "make_team",
    "unit_vector",
]
