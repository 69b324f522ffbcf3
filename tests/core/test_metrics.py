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


@pytest.mark.celery_worker
def test_a_worker_serves_its_task_metrics_on_its_own_port(real_broker, tmp_path):
    """A Celery worker apart from the web (its own pod) answers scrapes on
    MEMORYHUB_WORKER_METRICS_PORT behind the same token, with its tasks and
    without the database-wide gauges the web already reports."""
    import httpx

    from memoryhub.celery import app as celery_app
    from tests.celery_support import start_worker, stop_worker, wait_for
    from tests.mcp_support import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    log = tmp_path / "worker.log"
    proc = start_worker(
        real_broker,
        log,
        MEMORYHUB_WORKER_METRICS_PORT=str(port),
        MEMORYHUB_METRICS_TOKEN=TOKEN,
        # Its container's own directory, not there yet (an empty volume).
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "worker-metrics"),
    )
    try:
        wait_for(lambda: b"ready." in log.read_bytes(), proc, log, timeout=60)
        celery_app.send_task("memories.tasks.space_purge", args=[987654321])
        wait_for(lambda: b"succeeded" in log.read_bytes(), proc, log, timeout=30)
        assert httpx.get(url).status_code == 401
        assert (
            httpx.get(url, headers={"Authorization": "Bearer guess"}).status_code == 401
        )
        response = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        stop_worker(proc)
    assert response.status_code == 200, response.text
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    tasks = {
        s.labels.get("task")
        for s in families["memoryhub_celery_task_duration_seconds"].samples
    }
    assert "memories.tasks.space_purge" in tasks
    assert "memoryhub_outbox_pending" not in families  # the web's to report


def test_a_worker_metrics_port_without_a_token_stays_closed(settings, caplog):
    from memoryhub.metrics import serve_worker_metrics

    settings.METRICS_TOKEN = ""
    assert serve_worker_metrics(0, "127.0.0.1") is None
    assert "stays closed" in caplog.text


def test_a_process_starting_before_its_metrics_directory_exists_records(tmp_path):
    """An MCP or worker container whose volume is empty: the first sample
    creates the multiprocess directory instead of failing."""
    import subprocess
    import sys

    from tests.subprocess_env import child_env

    directory = tmp_path / "not-yet" / "prometheus"
    script = (
        "import django; django.setup()\n"
        "from memoryhub.metrics import EMBEDDER_CALLS, record_pool\n"
        "EMBEDDER_CALLS.labels('query').inc(); record_pool()\n"
    )
    subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, "-c", script],
        env=child_env(PROMETHEUS_MULTIPROC_DIR=str(directory)),
        check=True,
        timeout=120,
    )
    assert any(directory.glob("counter_*.db"))
