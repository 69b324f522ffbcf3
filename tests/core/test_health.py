"""Health endpoints: liveness needs nothing, readiness names what is missing."""

import socket
import time

import pytest
from django.db import connections
from django.db.utils import OperationalError
from kombu import Connection

from memoryhub import health
from memoryhub.celery import app as celery_app


def fake_embedder_check() -> dict:
    """Stands in for ``memories.embedders.readiness_check``."""
    return {"name": "fake-384"}


@pytest.fixture
def embedder_ok(settings):
    """Readiness without loading the real model (its own tests cover it)."""
    settings.MEMORYHUB_READINESS_CHECKS = {
        "embedder": "tests.core.test_health.fake_embedder_check"
    }


def test_healthz_is_ok_without_touching_the_database(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_probes_answer_whatever_the_host_header(client):
    # Orchestrators probe with the container IP, which ALLOWED_HOSTS rejects.
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/admin/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400


def test_healthz_needs_no_authentication_and_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_readyz_reports_every_check_when_ready(client, embedder_ok):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "broker", "embedder"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["embedder"]["name"] == "fake-384"


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_unreachable(client, embedder_ok, monkeypatch):
    # A real kombu Redis connection to a port nothing listens on: refused.
    monkeypatch.setattr(
        celery_app,
        "connection_for_write",
        lambda **options: Connection("redis://127.0.0.1:1/0", **options),
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"]["ok"] is True
    assert "127.0.0.1:1" in body["checks"]["broker"]["error"] or "refused" in (
        body["checks"]["broker"]["error"].lower()
    )


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_fails(client, embedder_ok, monkeypatch):
    def broken():
        raise OperationalError("connection to server failed")

    monkeypatch.setattr(health, "check_database", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert (
        "connection to server failed" in response.json()["checks"]["database"]["error"]
    )


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers (a hung database)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_readyz_fails_fast_when_the_database_does_not_answer(
    client, embedder_ok, monkeypatch, silent_server
):
    """A database that hangs is reported within the check's own short timeout,
    well before the 10 s the connection pool would wait, naming the server."""
    settings_dict = connections["default"].settings_dict
    monkeypatch.setitem(settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(settings_dict, "PORT", str(silent_server))
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    error = body["checks"]["database"]["error"]
    assert error.startswith(f"DatabaseUnavailable: 127.0.0.1:{silent_server}/")
    assert "timeout" in error
    assert elapsed < 5, f"readiness took {elapsed:.1f} s with the database hung"


@pytest.mark.django_db
def test_readyz_is_503_when_the_embedder_cannot_load(client, monkeypatch, settings):
    from memories import embedders

    embedders.reset_embedder()
    settings.EMBEDDER = "openai"
    settings.OPENAI_EMBEDDER_URL = ""
    try:
        response = client.get("/readyz")
    finally:
        embedders.reset_embedder()
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["embedder"]
    assert "MEMORYHUB_OPENAI_EMBEDDER_URL" in body["checks"]["embedder"]["error"]


@pytest.mark.slow
@pytest.mark.django_db
def test_readyz_loads_the_real_embedder(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["embedder"]["ok"] is True
