"""``/metrics``: closed without a token, Prometheus text with one; labels
are only ever bounded values (route templates, methods, statuses, task and
backend names, phases) — never ids, content, queries or keys."""

import re

import pytest
from django.urls import URLResolver, get_resolver
from prometheus_client.parser import text_string_to_metric_families

from accounts.actors import SYSTEM
from routing import services as routing_services
from tests.conftest import client_for_key
from tests.factories import BackendFactory, make_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing")]
MARKER = "zqmetricsmarker"
TOKEN = "metrics-test-token"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


def _routes(patterns, prefix=""):
    """Every route template Django knows (what the route label may hold)."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


def scrape(client, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers)


def test_closed_without_a_token_and_refused_with_a_wrong_one(client, settings):
    settings.METRICS_TOKEN = ""
    assert scrape(client).status_code == 404
    settings.METRICS_TOKEN = TOKEN
    wrong = scrape(client, token="guess")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"]
    assert scrape(client, token=None).status_code == 401
    assert scrape(client).status_code == 200


def test_labels_are_bounded_and_never_carry_content(client, settings, team, space):
    settings.METRICS_TOKEN = TOKEN
    BackendFactory(name="graph")
    routing_services.rule_create(
        actor=SYSTEM, name="r", match={"spaces": ["acme/*"]}, write_backends=["graph"]
    )
    api = client_for_key(make_key(team)[1])
    added = api.post(
        "/api/v1/spaces/default/memories/",
        {"content": f"{MARKER} secret content", "user_id": MARKER},
        format="json",
    ).json()
    api.get(f"/api/v1/spaces/default/memories/{added['id']}/")
    api.post("/api/v1/spaces/default/search/", {"query": MARKER}, format="json")
    api.get(f"/api/v1/spaces/{MARKER}/memories/")  # a 404
    api.get(f"/spaces/acme/default/?q={MARKER}")  # the team app's search
    from memories.tasks import extraction_sweep

    extraction_sweep.delay()  # eager: the task signals still fire
    response = scrape(client)
    text = response.content.decode()
    assert response.status_code == 200
    assert MARKER not in text and "secret" not in text
    assert not UUID.search(text)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    routes = {
        s.labels["route"]
        for s in families["memoryhub_http_requests"].samples
        if "route" in s.labels
    }
    assert "api/v1/spaces/<slug:slug>/memories/<uuid:memory_id>/" in routes
    assert "api/v1/spaces/<slug:slug>/search/" in routes
    known = set(_routes(get_resolver().url_patterns)) | {"unmatched"}
    assert routes <= known, routes - known
    statuses = {s.labels["status"] for s in families["memoryhub_http_requests"].samples}
    assert {"201", "200", "404"} <= statuses
    phases = {
        s.labels["phase"] for s in families["memoryhub_search_phase_seconds"].samples
    }
    assert phases == {"embedding", "index", "rest"}
    pending = {
        s.labels["backend"]: s.value
        for s in families["memoryhub_outbox_pending"].samples
    }
    assert pending == {"graph": 1.0}
    assert any(
        s.labels.get("task") == "memories.tasks.extraction_sweep"
        for s in families["memoryhub_celery_task_duration_seconds"].samples
    )
    assert "memoryhub_backend_circuit_state" in families
    assert "memoryhub_extractions" in families
    assert "memoryhub_embedder_calls" in families
