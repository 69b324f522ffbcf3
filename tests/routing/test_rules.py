"""Backends and rules: validation, sealed secrets, cache invalidation, explain
(service and API), operator-only management and the teams' read-only view."""

import pytest

from accounts.actors import SYSTEM, actor_for_user
from memoryhub.errors import Conflict, Forbidden, InvalidInput
from routing import rules, selectors, services
from routing.models import Backend
from tests.conftest import client_for_key, client_for_user
from tests.factories import BackendFactory, UserFactory, make_key, make_member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing")]


@pytest.fixture
def backends(tmp_path):
    BackendFactory(name="graph", config={"memory_file": str(tmp_path / "g.jsonl")})
    BackendFactory(
        name="vault",
        kind="mem0_platform",
        allows_plaintext=False,
        config={"host": "http://127.0.0.1:9"},
        secrets={"api_key": "s3cret-value"},
    )


def test_secrets_are_sealed_and_only_adapters_read_them(backends):
    vault = Backend.objects.get(name="vault")
    assert b"s3cret-value" not in bytes(vault.secrets_sealed)
    assert services.backend_secrets(vault) == {"api_key": "s3cret-value"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "nope"}, "unknown backend kind 'nope'"),
        ({"kind": "mem0_platform", "config": {}}, "missing config key(s): host"),
        ({"kind": "mcp_memory", "config": {"memory_file": "rel.jsonl"}}, "absolute"),
        ({"kind": "mcp_memory", "config": {"url": "http://x", "bogus": 1}}, "bogus"),
    ],
)
def test_backend_settings_are_validated(db, fields, message):
    with pytest.raises(
        InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        services.backend_create(actor=SYSTEM, name="b", **fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"write_backends": ["ghost"]}, "unknown backend 'ghost'"),
        ({"write_backends": ["vault"]}, "may not receive plaintext"),
        ({"read_strategy": "fanout", "read_backends": ["vault", "graph"]}, "plaintext"),
        ({}, "routes nothing"),
        (
            {"read_strategy": "primary", "read_backends": ["graph", "local"]},
            "exactly 1",
        ),
        ({"read_strategy": "failover"}, "at least 1"),
        (
            {"read_strategy": "magic", "read_backends": ["graph"]},
            "unknown read strategy",
        ),
        (
            {"write_backends": ["graph"], "match": {"colour": "red"}},
            "unknown match key",
        ),
        ({"write_backends": ["graph", "graph"]}, "twice"),
    ],
)
def test_rules_are_validated_on_save(backends, fields, message):
    with pytest.raises(InvalidInput, match=message):
        services.rule_create(actor=SYSTEM, name="r", **fields)


def test_a_backend_rules_route_content_to_cannot_forbid_plaintext(backends):
    services.rule_create(actor=SYSTEM, name="r", write_backends=["graph"])
    graph = Backend.objects.get(name="graph")
    with pytest.raises(Conflict, match="route content"):
        services.backend_update(actor=SYSTEM, backend=graph, allows_plaintext=False)
    with pytest.raises(Conflict, match="used by rule"):
        services.backend_delete(actor=SYSTEM, backend=graph)


def test_only_operators_manage_routing(backends, team):
    member = actor_for_user(make_member(team, "owner"))
    with pytest.raises(Forbidden):
        services.rule_create(actor=member, name="r", write_backends=["graph"])


def test_rule_changes_invalidate_the_cache(backends):
    op = rules.Operation(op="add", space="acme/default")
    assert rules.rule_for(op)[0] is None
    rule = services.rule_create(actor=SYSTEM, name="r", write_backends=["graph"])
    assert rules.rule_for(op)[0].rule.name == "r"
    services.rule_update(actor=SYSTEM, rule=rule, enabled=False)
    assert rules.rule_for(op)[0] is None


def test_first_matching_rule_by_priority_wins_and_explain_says_why(backends):
    services.rule_create(
        actor=SYSTEM,
        name="gold",
        priority=10,
        match={"metadata": {"tier": "gold"}, "operations": ["add", "search"]},
        write_backends=["graph"],
        read_strategy="failover",
        read_backends=["graph", "local"],
    )
    services.rule_create(
        actor=SYSTEM,
        name="support",
        priority=20,
        match={"spaces": ["acme/support"], "user_id": "cust-*"},
        write_backends=["graph"],
        write_mode="sync",
    )
    plain = selectors.route_explain(
        op=rules.Operation(op="add", space="acme/support", user_id="cust-7")
    )
    assert plain["rule"] == "support"
    assert plain["skipped_rules"] == [
        {"rule": "gold", "reason": "metadata 'tier' does not match"}
    ]
    assert [w["backend"] for w in plain["write_backends"]] == ["local", "graph"]
    assert plain["write_backends"][1]["mode"] == "sync"
    gold = selectors.route_explain(
        op=rules.Operation(op="search", space="x/y", metadata={"tier": "gold"})
    )
    assert gold["rule"] == "gold" and gold["read_strategy"] == "failover"
    assert [r["backend"] for r in gold["read_backends"]] == ["graph", "local"]
    nothing = selectors.route_explain(op=rules.Operation(op="get", space="x/y"))
    assert nothing["rule"] is None
    assert nothing["matched_because"] == ["no rule matches: everything is local"]


def test_explain_api_answers_operators_and_refuses_bad_bodies(backends, db):
    """Who may ask: tests/permissions/routing_api.py (operators only)."""
    services.rule_create(actor=SYSTEM, name="r", write_backends=["graph"])
    body = {"operation": "add", "space": "acme/default", "user_id": "u1"}
    staff = client_for_user(UserFactory(is_staff=True))
    response = staff.post("/api/v1/routing/explain/", body, format="json")
    assert response.status_code == 200
    assert response.json()["rule"] == "r"
    bad = staff.post("/api/v1/routing/explain/", {"operation": "add"}, format="json")
    assert bad.status_code == 400


def test_operators_manage_backends_and_rules_over_the_api(db, tmp_path):
    staff = client_for_user(UserFactory(is_staff=True))
    created = staff.post(
        "/api/v1/routing/backends/",
        {
            "name": "peer",
            "kind": "mem0_platform",
            "allows_plaintext": True,
            "config": {"host": "http://127.0.0.1:9"},
            "secrets": {"api_key": "k"},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["has_secrets"] is True
    assert "k" not in str(created.json().get("config"))
    refused = staff.post(
        "/api/v1/routing/rules/",
        {"name": "r", "write_backends": ["ghost"]},
        format="json",
    )
    assert refused.status_code == 400
    assert "unknown backend 'ghost'" in refused.json()["detail"]
    rule = staff.post(
        "/api/v1/routing/rules/",
        {"name": "r", "write_backends": ["peer"]},
        format="json",
    )
    assert rule.status_code == 201
    listed = staff.get("/api/v1/routing/rules/").json()["results"]
    assert [r["name"] for r in listed] == ["r"]
    assert staff.delete("/api/v1/routing/backends/peer/").status_code == 409
    assert staff.delete("/api/v1/routing/rules/r/").status_code == 204
    assert staff.delete("/api/v1/routing/backends/peer/").status_code == 204
    assert staff.get("/api/v1/routing/outbox/?state=dead").status_code == 200


def test_teams_see_read_only_which_backends_serve_their_space(backends, cast):
    services.rule_create(
        actor=SYSTEM,
        name="r",
        match={"spaces": ["acme/default"]},
        write_backends=["graph"],
    )
    response = cast.clients["viewer"].get("/api/v1/routing/spaces/default/backends/")
    assert response.status_code == 200
    names = {b["name"]: b["operations"] for b in response.json()["results"]}
    assert names["graph"] == ["add", "delete", "update"]
    assert "local" in names
    assert (
        cast.clients["other_team"]
        .get("/api/v1/routing/spaces/default/backends/?team=acme")
        .status_code
        == 404
    )
    assert cast.clients["member"].get("/api/v1/routing/backends/").status_code == 403
    _, secret, _ = make_key(cast.team)
    assert client_for_key(secret).get("/api/v1/routing/rules/").status_code == 403
