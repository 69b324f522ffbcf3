"""Matrix entries of the routing API (``/api/v1/routing/``).

Operators (staff users, signed in) manage backends, rules and the outbox;
everyone else is 403 (401 without credentials), API keys included, even the
key of a staff user's team. ``spaces/<slug>/backends/`` is the one read for
teams: a space's viewers see which backends serve it. No routing response
shows memory content or a backend's secrets, to anyone.
"""

import uuid

from django.utils import timezone

from accounts.actors import SYSTEM
from routing import services
from routing.models import Backend, OutboxEntry, OutboxState, RoutingRule
from tests.permission_matrix import CALLERS, operates, reads
from tests.permissions.registry import Case, endpoint

ROUTING = "api/v1/routing/"
BACKEND = ROUTING + "backends/<slug:name>/"
RULE = ROUTING + "rules/<slug:name>/"
SECRET = "routing-secret-never-shown"


def _slug(who: str) -> str:
    return who.replace("_", "-")


def backend(name: str = "peer") -> Backend:
    """A mem0-platform backend nobody listens to, with a sealed secret."""
    return services.backend_create(
        actor=SYSTEM,
        name=name,
        kind="mem0_platform",
        allows_plaintext=True,
        config={"host": "http://127.0.0.1:9"},
        secrets={"api_key": SECRET},
    )


def rule(name: str, backend_name: str, spaces=("nobody/nothing",)) -> RoutingRule:
    """A rule replicating the writes of ``spaces`` to ``backend_name``."""
    return services.rule_create(
        actor=SYSTEM,
        name=name,
        match={"spaces": list(spaces)},
        write_backends=[backend_name],
    )


def _sealed(w):
    """Nobody sees memory content or a backend secret in a routing response."""
    return [*w.no_content(), SECRET]


def _kept_unless_operator(model, rows: dict):
    """An ``after`` check: the caller's row is gone only if it was allowed."""

    def check(who, response):
        exists = model.objects.filter(pk=rows[who].pk).exists()
        assert exists == (response.status_code != 204), who

    return check


# --- backends -------------------------------------------------------------------------


@endpoint("GET", ROUTING + "backends/", "routing-backend-list", operates())
def backend_list(w):
    """Operators list backends with their health; secrets are never shown."""
    backend()

    def listed(who, response):
        if response.status_code == 200:
            names = [b["name"] for b in response.json()["results"]]
            assert names == ["peer"]
            assert response.json()["results"][0]["has_secrets"] is True

    return Case(w.call(), hidden=_sealed(w), after=listed)


@endpoint("POST", ROUTING + "backends/", "routing-backend-list", operates(201))
def backend_create(w):
    """Only operators register backends."""

    def only_the_operator(results):
        names = list(Backend.objects.values_list("name", flat=True))
        assert names == ["peer-operator"]

    return Case(
        lambda who: w.call(
            {
                "name": f"peer-{_slug(who)}",
                "kind": "mem0_platform",
                "config": {"host": "http://127.0.0.1:9"},
                "secrets": {"api_key": SECRET},
            }
        ),
        hidden=_sealed(w),
        then=only_the_operator,
    )


@endpoint("GET", BACKEND, "routing-backend-detail", operates())
def backend_retrieve(w):
    """Only operators read a backend."""
    backend()
    return Case(w.call(name="peer"), hidden=_sealed(w))


@endpoint("PATCH", BACKEND, "routing-backend-detail", operates())
def backend_patch(w):
    """Only operators change a backend."""
    backend()

    def only_the_operator(results):
        changed = Backend.objects.get(name="peer").timeout_seconds
        assert changed == CALLERS.index("operator")

    return Case(
        lambda who: w.call({"timeout_seconds": float(CALLERS.index(who))}, name="peer"),
        hidden=_sealed(w),
        then=only_the_operator,
    )


@endpoint("DELETE", BACKEND, "routing-backend-detail", operates(204))
def backend_delete(w):
    """Only operators remove a backend."""
    rows = {}

    def call(who):
        rows[who] = backend(f"doomed-{_slug(who)}")
        return w.call(name=rows[who].name)

    return Case(call, after=_kept_unless_operator(Backend, rows))


@endpoint("POST", BACKEND + "changes/", "routing-backend-changes", operates())
def backend_changes(w):
    """Only operators page a backend's change feed: ids, never content."""

    def pages(who, response):
        if response.status_code == 200:
            assert response.json()["backend"] == "local"
            assert response.json()["changes"]

    return Case(w.call({"limit": 10}, name="local"), hidden=_sealed(w), after=pages)


# --- rules ----------------------------------------------------------------------------


@endpoint("GET", ROUTING + "rules/", "routing-rule-list", operates())
def rule_list(w):
    """Only operators list rules."""
    rule("r", backend().name)
    return Case(w.call(), hidden=_sealed(w))


@endpoint("POST", ROUTING + "rules/", "routing-rule-list", operates(201))
def rule_create(w):
    """Only operators add rules."""
    backend()

    def only_the_operator(results):
        names = list(RoutingRule.objects.values_list("name", flat=True))
        assert names == ["r-operator"]

    return Case(
        lambda who: w.call({"name": f"r-{_slug(who)}", "write_backends": ["peer"]}),
        then=only_the_operator,
    )


@endpoint("GET", RULE, "routing-rule-detail", operates())
def rule_retrieve(w):
    """Only operators read a rule."""
    rule("r", backend().name)
    return Case(w.call(name="r"), hidden=_sealed(w))


@endpoint("PATCH", RULE, "routing-rule-detail", operates())
def rule_patch(w):
    """Only operators change a rule."""
    rule("r", backend().name)

    def only_the_operator(results):
        assert RoutingRule.objects.get(name="r").priority == CALLERS.index("operator")

    return Case(
        lambda who: w.call({"priority": CALLERS.index(who)}, name="r"),
        then=only_the_operator,
    )


@endpoint("DELETE", RULE, "routing-rule-detail", operates(204))
def rule_delete(w):
    """Only operators remove a rule."""
    peer = backend()
    rows = {}

    def call(who):
        rows[who] = rule(f"doomed-{_slug(who)}", peer.name)
        return w.call(name=rows[who].name)

    return Case(call, after=_kept_unless_operator(RoutingRule, rows))


# --- explain, outbox, a space's backends ----------------------------------------------


@endpoint("POST", ROUTING + "explain/", "routing-explain", operates())
def explain(w):
    """Only operators ask how an operation would be routed."""
    rule("r", backend().name, spaces=["acme/default"])

    def names_the_rule(who, response):
        if response.status_code == 200:
            assert response.json()["rule"] == "r"

    return Case(
        w.call({"operation": "add", "space": "acme/default", "user_id": "u1"}),
        hidden=_sealed(w),
        after=names_the_rule,
    )


def _dead_letter(w, peer) -> OutboxEntry:
    memory_id = uuid.uuid4()
    return OutboxEntry.objects.create(
        memory_id=memory_id,
        space_id=w.space.pk,
        backend=peer,
        op="upsert",
        seq=1,
        idempotency_key=f"{memory_id}:{peer.pk}:1",
        state=OutboxState.DEAD,
        next_at=timezone.now(),
    )


@endpoint("GET", ROUTING + "outbox/", "routing-outbox-list", operates())
def outbox_list(w):
    """Only operators list the outbox: ids and states, never content."""
    dead = _dead_letter(w, backend())

    def lists_it(who, response):
        if response.status_code == 200:
            ids = [e["id"] for e in response.json()["results"]]
            assert ids == [dead.pk]

    return Case(w.call(params={"state": "dead"}), hidden=_sealed(w), after=lists_it)


@endpoint("POST", ROUTING + "outbox/retry/", "routing-outbox-retry", operates())
def outbox_retry(w):
    """Only operators put dead letters back to pending."""
    peer = backend()
    entries = {}

    def call(who):
        entries[who] = _dead_letter(w, peer)
        return w.call({"ids": [entries[who].pk]})

    def retried_only_by_the_operator(who, response):
        entries[who].refresh_from_db()
        retried = entries[who].state == OutboxState.PENDING
        assert retried == (response.status_code == 200), who

    return Case(call, after=retried_only_by_the_operator)


@endpoint(
    "GET", ROUTING + "spaces/<slug:slug>/backends/", "routing-space-backends", reads()
)
def space_backends(w):
    """A space's viewers see which backends serve it; outsiders 404, the
    operator too (it is not their space)."""
    rule("r", backend().name, spaces=["acme/default"])

    def serves(who, response):
        if response.status_code == 200:
            names = {b["name"] for b in response.json()["results"]}
            assert names == {"local", "peer"}, who

    return Case(w.space_call(), hidden=_sealed(w), after=serves)
