"""Structured logs: a request id in and out of every request and in every
line logged meanwhile, one JSON ``request`` line per request by route
template — and no memory content, query or secret anywhere in the logs."""

import io
import json
import logging
from types import SimpleNamespace

import pytest

from memoryhub import logs
from tests.conftest import client_for_key, client_for_user
from tests.factories import make_key, make_member
from tests.plugin import LOG_MARKER

pytestmark = pytest.mark.django_db
MARKER = LOG_MARKER  # also what the whole run's logs are scanned for


@pytest.fixture
def captured():
    """Everything logged during the test, rendered as production renders it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    handler.addFilter(logs.RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_each_request_gets_an_id_and_one_json_line(team, space, captured):
    api = client_for_key(make_key(team)[1])
    response = api.get("/api/v1/spaces/default/memories/")
    rid = response["X-Request-ID"]
    assert len(rid) == 32
    echoed = api.get("/api/v1/spaces/default/memories/", HTTP_X_REQUEST_ID="abc-123")
    assert echoed["X-Request-ID"] == "abc-123"
    refused = api.get("/api/v1/spaces/", HTTP_X_REQUEST_ID="bad id; drop")
    assert refused["X-Request-ID"] != "bad id; drop"
    requests = [line for line in lines(captured) if line["event"] == "request"]
    assert requests[0] == {
        **requests[0],
        "route": "api/v1/spaces/<slug:slug>/memories/",
        "method": "GET",
        "status": 200,
        "request_id": rid,
        "level": "info",
        "logger": "memoryhub.request",
    }
    assert requests[0]["actor"].startswith("key:")
    assert isinstance(requests[0]["duration_ms"], float)
    assert requests[1]["request_id"] == "abc-123"


def test_nothing_planted_in_content_or_queries_reaches_the_logs(
    team, space, captured, llm
):
    """Writes, searches (API, mem0, team app), a failed and a good extraction,
    errors and 404s — then the whole log is scanned for the marker."""
    secret = make_key(team)[1]
    api = client_for_key(secret)
    api.post(
        "/api/v1/spaces/default/memories/",
        {"content": f"{MARKER} content", "metadata": {"k": MARKER}},
        format="json",
    )
    api.post("/api/v1/spaces/default/search/", {"query": MARKER}, format="json")
    api.post("/api/v1/spaces/default/memories/", {"content": ""}, format="json")
    api.get(f"/api/v1/spaces/{MARKER}/memories/")
    mem0 = client_for_key(secret, "Token")
    mem0.post("/v3/memories/search/", {"query": MARKER}, format="json")
    llm.on("facts", status=500)
    mem0.post(
        "/v3/memories/add/",
        {"messages": f"{MARKER} said hi", "infer": True, "async_mode": False},
        format="json",
    )
    llm.reset()
    mem0.post(
        "/v3/memories/add/",
        {"messages": f"{MARKER} likes tea", "infer": True, "async_mode": False},
        format="json",
    )
    person = client_for_user(make_member(team, "owner"))
    person.get(f"/spaces/acme/default/?q={MARKER}")
    text = captured.getvalue()
    assert text.count('"event": "request"') >= 8
    assert MARKER not in text
    assert secret not in text


def test_the_request_id_travels_into_celery_tasks():
    headers = {}
    token = logs.request_id.set("req-42")
    try:
        logs.celery_publish(headers=headers)
    finally:
        logs.request_id.reset(token)
    assert headers == {logs.CELERY_HEADER: "req-42"}
    task = SimpleNamespace(request=SimpleNamespace(**headers))
    logs.celery_prerun(task=task)
    assert logs.current() == "req-42"
    record = logging.LogRecord("x", logging.INFO, "", 0, "hi", (), None)
    logs.RequestIdFilter().filter(record)
    assert record.request_id == "req-42"
    logs.request_id.set(None)
