"""Every surface answers a database outage with a 503 that names the
database, with ``Retry-After``, and logs one line without a traceback (the
real outage, a killed server: tests/core/test_database_outage.py)."""

import logging

import pytest
from django.db import OperationalError

from memories import permissions
from memoryhub.outage import CODE
from tests.conftest import client_for_key, client_for_user
from tests.factories import make_key, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def outage(monkeypatch):
    """Every permission check meets a database that went away."""

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(permissions, "_space_perms", down)


def _no_traceback(caplog):
    assert all(record.exc_info is None for record in caplog.records)
    assert any("database unavailable" in r.getMessage() for r in caplog.records)


def test_the_native_and_mem0_apis_answer_503(team, space, outage, caplog):
    secret = make_key(team)[1]
    with caplog.at_level(logging.WARNING):
        for client, method, path, body in (
            (client_for_key(secret), "get", "/api/v1/spaces/default/memories/", None),
            (
                client_for_key(secret),
                "post",
                "/api/v1/spaces/default/memories/",
                {"content": "x"},
            ),
            (
                client_for_key(secret, "Token"),
                "post",
                "/v3/memories/search/",
                {"query": "x"},
            ),
        ):
            response = getattr(client, method)(path, body, format="json")
            assert response.status_code == 503, (path, response.content)
            assert response.json()["code"] == CODE
            assert "database is unavailable" in response.json()["detail"]
            assert response["Retry-After"] == "5"
    _no_traceback(caplog)


def test_the_team_app_answers_503(team, space, outage, caplog):
    client = client_for_user(make_member(team, "owner"))
    with caplog.at_level(logging.WARNING):
        response = client.get("/spaces/acme/default/")
    assert response.status_code == 503
    assert b"database is unavailable" in response.content
    assert response["Retry-After"] == "5"
    _no_traceback(caplog)
