"""Shared fixtures: teams, spaces, keys, API clients, and the permission cast.

The ``cast`` fixture builds every kind of caller the permission matrix tests
need against one space: anonymous, another team (its key, its owner, and an
operator of the hub who is its member), a key without object permission on
the space, a read-only key, and permitted callers; ``world`` adds the rows
every matrix entry relies on (``tests/permissions``).
"""

import os
from dataclasses import dataclass, field

import pytest
import redis
from django.core.cache import cache
from kombu import pools
from rest_framework.test import APIClient

from accounts.actors import SYSTEM, actor_for_user
from memoryhub.celery import app as celery_app
from routing.breaker import breakers_reset
from tests.factories import make_key, make_member, make_space, make_team
from tests.mcp_support import serve_mcp
from tests.permissions import World
from tests.routing_helpers import FakeClock, reset_routing_state

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
IN_CI = os.environ.get("CI", "").lower() == "true"


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
    users: dict = field(default_factory=dict)  # name -> User (signed-in callers)


@pytest.fixture
def cast(team, space):
    """Every caller of the permission matrix around ``acme/default`` (see
    ``tests/permission_matrix.py``): anonymous; team ``other``'s key, owner and
    operator (a staff user who is a member there and created that key); an
    ``acme`` key scoped to another space; a read-only and a read-write key;
    a viewer, a member and an owner of ``acme``."""
    other = make_team("other")
    make_space(other, "default")
    # A staff user: an operator of the hub, but in ``acme`` no more than any
    # outsider. The other team's key is one he made: a key never operates.
    operator = make_member(other, "member", is_staff=True)
    _, other_secret, _ = make_key(other, created_by=operator)
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
        "operator": client_for_user(operator),
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
    users = {
        "other_team_user": outsider,
        "operator": operator,
        "viewer": viewer,
        "member": member,
        "owner": owner,
    }
    return Cast(team=team, space=space, clients=clients, secrets=secrets, users=users)


@pytest.fixture
def world(cast, fresh_routing, llm):
    """The cast plus one seeded row in each of its three spaces (see
    ``tests/permissions/registry.py``): what every matrix entry runs in."""
    return World.build(cast)


# --- the MCP endpoint -------------------------------------------------------------


@pytest.fixture(scope="module")
def mcp_url():
    """The MCP app served by uvicorn in a background thread (one per module);
    tests calling tools need ``transactional_db``."""
    with serve_mcp() as url:
        yield url


# --- routing ------------------------------------------------------------------------


@pytest.fixture
def fresh_routing():
    """No adapter, breaker or cached rule survives from another test (the
    routing modules use it on every test)."""
    reset_routing_state()
    yield
    reset_routing_state()


@pytest.fixture
def breaker_clock(fresh_routing):
    """This process's breakers read time from a fake clock the test advances
    (instead of sleeping through a cooldown or a flush interval)."""
    clock = FakeClock()
    breakers_reset(clock=clock)
    return clock


# --- a real Celery broker (see tests/celery_support.py for the worker) --------------


@pytest.fixture(scope="module")
def redis_url() -> str:
    """``MEMORYHUB_TEST_REDIS_URL``, flushed; unreachable: skip, or fail in CI."""
    url = os.environ.get("MEMORYHUB_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis at {url} is unreachable ({exc})"
        if IN_CI:
            pytest.fail(f"{message}; CI needs it for the Celery worker tests")
        pytest.skip(f"{message}; set MEMORYHUB_TEST_REDIS_URL to a reachable Redis")
    # A database of its own: nothing but these tests' messages in it.
    client.flushdb()
    return url


@pytest.fixture
def real_broker(redis_url):
    """This process publishes to Redis for real (no eager mode) during the test."""
    conf = celery_app.conf
    saved = {
        key: conf[key]
        for key in ("broker_url", "broker_transport_options", "task_always_eager")
    }
    conf.broker_url = redis_url
    conf.broker_transport_options = {}
    conf.task_always_eager = False
    celery_app._pool = None  # connection pools are built from broker_url
    celery_app.amqp._producer_pool = None
    yield redis_url
    pools.reset()  # closes the Redis connections and forgets the closed pools
    for key, value in saved.items():
        conf[key] = value
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def _scripted_llm_server():
    from tests.scripted_llm import ScriptedLLM

    server = ScriptedLLM()
    yield server
    server.close()


@pytest.fixture
def llm(_scripted_llm_server, settings):
    """TEST FIXTURE: the scripted OpenAI-compatible server (tests/scripted_llm.py)
    as the configured extraction model, allowed to see content."""
    from memories.extraction import llm as llm_module

    server = _scripted_llm_server
    server.reset()
    server.latency = 0.0
    settings.LLM_URL = server.url
    settings.LLM_MODEL = "scripted-test-model"
    settings.LLM_API_KEY = "sk-test"
    settings.LLM_ALLOWS_CONTENT = True
    settings.LLM_TIMEOUT_SECONDS = 5.0
    llm_module._no_schema.clear()
    yield server
    llm_module._no_schema.clear()
