"""Fail closed: an anonymous actor can do nothing in any service or selector.

A request without a credential becomes :data:`accounts.actors.ANONYMOUS`.
Every public service and selector that takes an ``actor`` is called here with
it, against a team, a space with a memory, a routing backend and a rule that
exist; each must refuse (``NotFound``/``Forbidden``) or return nothing, and no
row may change. A new function with an ``actor`` parameter that is not in
:data:`CALLS` fails :func:`test_every_service_taking_an_actor_is_covered`.
"""

import importlib
import inspect
import uuid

import pytest
from django.db.models import QuerySet
from django.utils.timezone import now

from accounts.actors import ANONYMOUS, SYSTEM
from accounts.models import ApiKey, Membership, Team
from audit.models import AccessEvent
from memories import services
from memories.models import Memory, MemoryEvent, Space, SpaceKey
from memoryhub.errors import DomainError
from routing import services as routing_services
from routing import webhooks
from routing.models import (
    Backend,
    OutboxEntry,
    RoutingRule,
    SyncJob,
    SyncRun,
    Webhook,
)
from routing.sync import services as sync_services
from tests.factories import make_key, make_member, make_team
from tests.routing_helpers import reset_routing_state

MODULES = (
    "accounts.services",
    "accounts.selectors",
    "memories.permissions",
    "memories.services.memories",
    "memories.services.spaces",
    "memories.services.sharing",
    "memories.services.erasure",
    "memories.services.transfer",
    "memories.services.graph",
    "memories.services.imports",
    "memories.selectors.imports",
    "memories.selectors.spaces",
    "memories.selectors.memories",
    "memories.selectors.audit",
    "memories.selectors.graph",
    "memories.encryption.rotation",
    "routing.services",
    "routing.selectors",
    "routing.sync.services",
    "routing.sync.selectors",
    "routing.webhooks",
)
# Functions that take an actor to *record* it, not to authorize anything.
NOT_AUTHORIZING = {
    "audit.services.access_record": "writes the audit row naming the actor",
}
REFUSED = "refused"  # raises a domain error (404, 403, or a 400 revealing nothing)
NOTHING = "nothing"  # returns an empty result


@pytest.fixture
def world(team, space, tmp_path):
    """One of everything, made by the system actor."""
    reset_routing_state()  # no rule cached from another test routes these writes
    owner = make_member(team, "owner")
    api_key, _, _ = make_key(team, name="existing")
    memory, _ = services.memory_add(
        actor=SYSTEM, space=space, data={"content": "Ada likes tea", "user_id": "ada"}
    )
    services.graph_entities_create(
        actor=SYSTEM,
        space=space,
        entities=[{"name": "Ada", "entityType": "person", "observations": ["tea"]}],
        surface="mcp",
    )
    # A team without members holding a grant: a query for "groups of no user"
    # must not hand its grant to the anonymous actor.
    partners = make_team("partners")
    services.space_share(
        actor=SYSTEM, space=space, team=partners.slug, perms=["add_memory"]
    )
    backend = routing_services.backend_create(
        actor=SYSTEM,
        name="graph",
        kind="mcp_memory",
        config={"memory_file": str(tmp_path / "graph.jsonl")},
        allows_plaintext=True,
    )
    rule = routing_services.rule_create(
        actor=SYSTEM,
        name="everything",
        write_backends=["graph"],
        read_strategy="failover",
        read_backends=["graph", "local"],
    )
    job = sync_services.sync_job_create(
        actor=SYSTEM,
        name="graph sync",
        space=space,
        backend=backend,
        direction="both",
        schedule={"every": 60},
    )
    webhook, _ = webhooks.webhook_create(
        actor=SYSTEM, space=space, name="hook", url="http://93.184.215.14/h"
    )
    yield {
        "webhook": webhook,
        "team": team,
        "space": space,
        "owner": owner,
        "api_key": api_key,
        "memory": memory,
        "backend": backend,
        "rule": rule,
        "job": job,
    }
    reset_routing_state()


def _space(w):
    return {"space": w["space"]}


# qualified name -> (keyword arguments besides actor, expected outcome)
CALLS = {
    "accounts.services.api_key_create": (
        lambda w: {"team": w["team"], "name": "stolen"},
        REFUSED,
    ),
    "accounts.services.api_key_revoke": (
        lambda w: {"api_key": w["api_key"]},
        REFUSED,
    ),
    "accounts.selectors.api_key_get": (
        lambda w: {"team": w["team"], "key_id": w["api_key"].pk},
        REFUSED,
    ),
    "accounts.selectors.api_keys_of": (lambda w: {"team": w["team"]}, NOTHING),
    "accounts.selectors.team_members": (lambda w: {"team": w["team"]}, REFUSED),
    "accounts.selectors.invitations_pending": (lambda w: {"team": w["team"]}, REFUSED),
    "accounts.services.member_role_set": (
        lambda w: {"team": w["team"], "user": w["owner"], "role": "viewer"},
        REFUSED,
    ),
    "accounts.services.member_remove": (
        lambda w: {"team": w["team"], "user": w["owner"]},
        REFUSED,
    ),
    "accounts.services.invitation_create": (
        lambda w: {
            "team": w["team"],
            "email": "x@example.com",
            "role": "owner",
            "link": str,
        },
        REFUSED,
    ),
    "accounts.services.invitation_revoke": (
        lambda w: {"team": w["team"], "invitation_id": 1},
        REFUSED,
    ),
    "accounts.selectors.team_get": (lambda w: {"slug": w["team"].slug}, REFUSED),
    "accounts.selectors.team_roles": (lambda w: {}, NOTHING),
    "accounts.selectors.teams_administered_by": (lambda w: {}, NOTHING),
    "accounts.selectors.teams_visible_to": (lambda w: {}, NOTHING),
    "memories.permissions.can_admin_team": (
        lambda w: {"team_id": w["team"].pk},
        NOTHING,
    ),
    "memories.permissions.require_perm": (
        lambda w: {**_space(w), "perm": "view_space"},
        REFUSED,
    ),
    "memories.permissions.space_perms": (_space, NOTHING),
    "memories.permissions.spaces_visible_to": (lambda w: {}, NOTHING),
    "memories.permissions.team_role": (lambda w: {"team_id": w["team"].pk}, NOTHING),
    "memories.services.memories.memory_add": (
        lambda w: {**_space(w), "data": {"content": "planted"}},
        REFUSED,
    ),
    "memories.services.memories.memory_add_many": (
        lambda w: {**_space(w), "items": [{"content": "planted"}]},
        REFUSED,
    ),
    "memories.services.memories.memory_for_update": (
        lambda w: {**_space(w), "memory_id": w["memory"].pk, "perm": "change_memory"},
        REFUSED,
    ),
    "memories.services.memories.memory_update": (
        lambda w: {**_space(w), "memory_id": w["memory"].pk, "content": "changed"},
        REFUSED,
    ),
    "memories.services.spaces.space_create": (
        lambda w: {"team": w["team"], "slug": "stolen"},
        REFUSED,
    ),
    "memories.services.spaces.space_update": (
        lambda w: {**_space(w), "name": "renamed"},
        REFUSED,
    ),
    "memories.services.spaces.space_shred": (_space, REFUSED),
    "memories.services.sharing.space_grant_set": (
        lambda w: {**_space(w), "team": w["team"].slug, "perms": ["view_space"]},
        REFUSED,
    ),
    "memories.services.sharing.space_grants": (_space, REFUSED),
    "memories.services.sharing.space_share": (
        lambda w: {**_space(w), "team": w["team"].slug, "perms": ["view_space"]},
        REFUSED,
    ),
    "memories.services.sharing.space_unshare": (
        lambda w: {**_space(w), "team": w["team"].slug},
        REFUSED,
    ),
    "memories.services.erasure.memory_delete": (
        lambda w: {**_space(w), "memory_id": w["memory"].pk, "hard": True},
        REFUSED,
    ),
    "memories.services.erasure.memory_delete_by_filter": (
        lambda w: {**_space(w), "filters": {"user_id": "ada"}, "hard": True},
        REFUSED,
    ),
    "memories.services.erasure.memory_delete_where": (
        lambda w: {**_space(w), "queryset": Memory.objects.all(), "hard": True},
        REFUSED,
    ),
    "memories.services.erasure.memory_erase_user": (
        lambda w: {**_space(w), "user_id": "ada"},
        REFUSED,
    ),
    "memories.services.transfer.memories_export": (_space, REFUSED),
    "memories.services.transfer.memories_import_file": (
        lambda w: {**_space(w), "data": b'{"memories": [{"memory": "x"}]}'},
        REFUSED,
    ),
    "memories.services.transfer.memories_import_units": (
        lambda w: {**_space(w), "units": []},
        REFUSED,
    ),
    "memories.services.transfer.memories_import": (
        lambda w: {**_space(w), "lines": [b'{"content": "planted"}']},
        REFUSED,
    ),
    "memories.services.graph.graph_entities_create": (
        lambda w: {
            **_space(w),
            "entities": [{"name": "Eve", "entityType": "spy", "observations": []}],
            "surface": "mcp",
        },
        REFUSED,
    ),
    "memories.services.graph.graph_entities_delete": (
        lambda w: {**_space(w), "names": ["Ada"], "surface": "mcp"},
        REFUSED,
    ),
    "memories.services.graph.graph_observations_add": (
        lambda w: {**_space(w), "observations": [("Ada", ["x"])], "surface": "mcp"},
        REFUSED,
    ),
    "memories.services.graph.graph_observations_delete": (
        lambda w: {**_space(w), "deletions": [("Ada", ["tea"])], "surface": "mcp"},
        REFUSED,
    ),
    "memories.services.graph.graph_relations_create": (
        lambda w: {**_space(w), "relations": [("Ada", "Ada", "is")], "surface": "mcp"},
        REFUSED,
    ),
    "memories.services.graph.graph_relations_delete": (
        lambda w: {**_space(w), "relations": [("Ada", "Ada", "is")], "surface": "mcp"},
        REFUSED,
    ),
    "memories.selectors.spaces.key_own_space": (
        lambda w: {"slug": w["space"].slug},
        NOTHING,
    ),
    "memories.selectors.spaces.space_get": (
        lambda w: {"slug": w["space"].slug},
        REFUSED,
    ),
    "memories.selectors.spaces.spaces_of_team": (
        lambda w: {"team": w["team"], "slugs": [w["space"].slug]},
        REFUSED,
    ),
    "memories.selectors.spaces.spaces_overview": (lambda w: {}, NOTHING),
    "memories.selectors.spaces.team_spaces": (lambda w: {"team": w["team"]}, NOTHING),
    "memories.selectors.memories.memories_list": (_space, REFUSED),
    "memories.selectors.memories.memory_add_request": (
        lambda w: {**_space(w), "request_id": str(uuid.uuid4()), "near": now()},
        REFUSED,
    ),
    "memories.selectors.memories.memory_authors": (
        lambda w: {**_space(w), "memory_ids": [w["memory"].pk]},
        REFUSED,
    ),
    "memories.selectors.memories.memory_entities": (_space, REFUSED),
    "memories.selectors.memories.memory_get": (
        lambda w: {**_space(w), "memory_id": w["memory"].pk},
        REFUSED,
    ),
    "memories.selectors.memories.memory_history": (
        lambda w: {**_space(w), "memory_id": w["memory"].pk},
        REFUSED,
    ),
    "memories.selectors.memories.memory_page_decrypt": (
        lambda w: {**_space(w), "memories": [w["memory"]]},
        REFUSED,
    ),
    "memories.selectors.memories.memory_search": (
        lambda w: {**_space(w), "query": "tea", "mode": "keyword"},
        REFUSED,
    ),
    "memories.selectors.audit.access_events_for": (lambda w: {}, NOTHING),
    "memories.services.imports.import_job_create": (
        lambda w: {**_space(w), "data": b'{"content": "x"}\n'},
        REFUSED,
    ),
    "memories.selectors.imports.import_jobs_of": (_space, REFUSED),
    "memories.selectors.imports.import_job_get": (
        lambda w: {**_space(w), "job_pk": 1},
        REFUSED,
    ),
    "memories.selectors.audit.team_activity": (
        lambda w: {"team": w["team"], "filters": {"action": "memory.add"}},
        NOTHING,
    ),
    "memories.selectors.audit.team_usage": (
        lambda w: {"team": w["team"], "since": now().replace(year=2000)},
        NOTHING,
    ),
    "memories.selectors.audit.memory_audit_trail": (
        lambda w: {**_space(w), "memory_id": w["memory"].pk},
        REFUSED,
    ),
    "memories.selectors.graph.graph_load": (
        lambda w: {**_space(w), "surface": "mcp"},
        REFUSED,
    ),
    "memories.selectors.graph.graph_search_nodes": (
        lambda w: {**_space(w), "query": "Ada", "surface": "mcp"},
        REFUSED,
    ),
    "memories.encryption.rotation.space_data_key_rotate": (_space, REFUSED),
    "routing.services.backend_create": (
        lambda w: {"name": "stolen", "kind": "local"},
        REFUSED,
    ),
    "routing.services.backend_delete": (lambda w: {"backend": w["backend"]}, REFUSED),
    "routing.services.backend_update": (
        lambda w: {"backend": w["backend"], "enabled": False},
        REFUSED,
    ),
    "routing.services.backend_validate": (
        lambda w: {"name": "stolen", "kind": "local"},
        REFUSED,
    ),
    "routing.services.require_operator": (lambda w: {}, REFUSED),
    "routing.services.rule_create": (lambda w: {"name": "stolen"}, REFUSED),
    "routing.services.rule_delete": (lambda w: {"rule": w["rule"]}, REFUSED),
    "routing.services.rule_update": (
        lambda w: {"rule": w["rule"], "enabled": False},
        REFUSED,
    ),
    "routing.selectors.space_backlog": (_space, REFUSED),
    "routing.selectors.backend_changes": (lambda w: {"backend": w["backend"]}, REFUSED),
    "routing.selectors.backends_serving": (_space, REFUSED),
    "routing.selectors.route_search": (
        lambda w: {**_space(w), "query": "tea", "top_k": 5, "filters": None},
        REFUSED,
    ),
    "routing.selectors.search_routed": (
        lambda w: {
            **_space(w),
            "query": "tea",
            "top_k": 5,
            "filters": None,
            "queryset": Memory.objects.all(),
            "surface": "api",
        },
        REFUSED,
    ),
    "routing.sync.services.sync_job_check": (lambda w: {"name": "x"}, REFUSED),
    "routing.sync.services.sync_job_create": (
        lambda w: {
            "name": "stolen",
            "space": w["space"],
            "backend": w["backend"],
            "direction": "pull",
        },
        REFUSED,
    ),
    "routing.sync.services.sync_job_update": (
        lambda w: {"job": w["job"], "enabled": False},
        REFUSED,
    ),
    "routing.sync.services.sync_job_delete": (lambda w: {"job": w["job"]}, REFUSED),
    "routing.sync.services.sync_job_run": (lambda w: {"job": w["job"]}, REFUSED),
    "routing.sync.services.sync_run_cancel": (lambda w: {"job": w["job"]}, REFUSED),
    "routing.sync.selectors.jobs_visible": (lambda w: {}, NOTHING),
    "routing.sync.selectors.job_visible": (
        lambda w: {"job_pk": w["job"].pk},
        REFUSED,
    ),
    "routing.sync.selectors.runs_of": (lambda w: {"job_pk": w["job"].pk}, REFUSED),
    "routing.sync.selectors.space_sync_status": (_space, REFUSED),
    "routing.webhooks.require_webhook_admin": (_space, REFUSED),
    "routing.webhooks.webhook_create": (
        lambda w: {**_space(w), "name": "x", "url": "http://93.184.215.14/x"},
        REFUSED,
    ),
    "routing.webhooks.webhooks_of": (_space, REFUSED),
    "routing.webhooks.webhook_get": (
        lambda w: {**_space(w), "webhook_pk": w["webhook"].pk},
        REFUSED,
    ),
    "routing.webhooks.webhook_update": (
        lambda w: {**_space(w), "webhook": w["webhook"], "enabled": False},
        REFUSED,
    ),
    "routing.webhooks.webhook_delete": (
        lambda w: {**_space(w), "webhook": w["webhook"]},
        REFUSED,
    ),
    "routing.webhooks.webhook_deliveries": (
        lambda w: {**_space(w), "webhook": w["webhook"]},
        REFUSED,
    ),
    "routing.webhooks.webhook_retry": (
        lambda w: {**_space(w), "webhook": w["webhook"]},
        REFUSED,
    ),
}


def _functions_taking_an_actor() -> dict[str, object]:
    found = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != name or attr.startswith("_"):
                continue
            if "actor" in inspect.signature(fn).parameters:
                found[f"{name}.{attr}"] = fn
    return found


def _snapshot() -> dict[str, int]:
    """Row counts (and versions) an anonymous call must leave as they were."""
    models = (
        Team,
        Membership,
        ApiKey,
        Space,
        SpaceKey,
        Memory,
        MemoryEvent,
        Backend,
        RoutingRule,
        OutboxEntry,
        AccessEvent,
        SyncJob,
        SyncRun,
        Webhook,
    )
    counts = {model.__name__: model.objects.count() for model in models}
    counts["memory versions"] = sum(Memory.objects.values_list("version", flat=True))
    counts["revoked keys"] = ApiKey.objects.filter(revoked_at__isnull=False).count()
    counts["enabled backends"] = Backend.objects.filter(enabled=True).count()
    counts["enabled rules"] = RoutingRule.objects.filter(enabled=True).count()
    return counts


def _empty(result) -> bool:
    if isinstance(result, QuerySet):
        return not result.exists()
    if isinstance(result, dict):  # a summary: every part empty (or zero)
        return not any(result.values())
    return not result


def test_every_service_taking_an_actor_is_covered():
    found = set(_functions_taking_an_actor())
    covered = set(CALLS)
    assert found - covered == set(), "add these to CALLS (or NOT_AUTHORIZING)"
    assert covered - found == set(), "stale CALLS entries"
    for name in NOT_AUTHORIZING:
        module, attr = name.rsplit(".", 1)
        assert (
            "actor"
            in inspect.signature(
                getattr(importlib.import_module(module), attr)
            ).parameters
        )


def test_the_anonymous_actor_holds_no_permission_and_is_no_operator():
    assert ANONYMOUS.is_anonymous and not ANONYMOUS.is_system
    assert not ANONYMOUS.is_operator and not ANONYMOUS.is_superuser
    assert ANONYMOUS.label == "anonymous" and SYSTEM.label == "system"
    assert SYSTEM.is_operator and not SYSTEM.is_anonymous


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(CALLS))
def test_an_anonymous_actor_can_do_nothing(name, world):
    fn = _functions_taking_an_actor()[name]
    build, expected = CALLS[name]
    before = _snapshot()
    if expected == REFUSED:
        with pytest.raises(DomainError) as caught:
            fn(actor=ANONYMOUS, **build(world))
        assert caught.value.status in (400, 403, 404), caught.value.message
    else:
        assert _empty(fn(actor=ANONYMOUS, **build(world)))
    assert _snapshot() == before
