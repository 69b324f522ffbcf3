"""Extraction in the native REST API: ``memories/extract/``, ``extractions/``,
``extraction/`` (settings) and ``summary/`` (permission matrix:
tests/permissions/extraction_api.py). The model is the scripted test fixture
of tests/scripted_llm.py."""

import pytest

from memories.models import ExtractionEvent, Memory
from tests.conftest import client_for_key
from tests.factories import make_key

BASE = "/api/v1/spaces/default"


@pytest.fixture
def api(team, space):
    return client_for_key(make_key(team)[1])


def test_extract_and_wait_answers_with_the_results(llm, api, space):
    llm.on(
        "facts", answer={"facts": [{"text": "Likes jazz"}, {"text": "Lives in Porto"}]}
    )
    response = api.post(
        f"{BASE}/memories/extract/",
        {
            "messages": [{"role": "user", "content": "I like jazz and live in Porto"}],
            "user_id": "dana",
            "metadata": {"src": "chat"},
            "wait": True,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "SUCCEEDED" and body["model_calls"] == 1
    assert [(r["event"], r["memory"]) for r in body["results"]] == [
        ("ADD", "Likes jazz"),
        ("ADD", "Lives in Porto"),
    ]
    assert body["scope"] == {"user_id": "dana"}
    assert Memory.objects.filter(space=space, metadata={"src": "chat"}).count() == 2


def test_extract_queues_then_the_event_reports(
    llm, api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"{BASE}/memories/extract/",
            {"messages": [{"content": "Likes tea"}]},
            format="json",
        )
    assert response.status_code == 202
    assert response.json()["state"] == "PENDING" and "results" not in response.json()
    event_id = response.json()["id"]
    detail = api.get(f"{BASE}/extractions/{event_id}/").json()
    assert detail["state"] == "SUCCEEDED"
    assert detail["results"][0]["memory"] == "Likes tea"
    listed = api.get(f"{BASE}/extractions/").json()["results"]
    assert [e["id"] for e in listed] == [event_id]
    assert "Likes tea" not in str(listed)


def test_a_failed_model_is_a_503_naming_it(llm, api):
    llm.on("facts", status=502)
    response = api.post(
        f"{BASE}/memories/extract/",
        {"messages": [{"content": "Likes tea"}], "wait": True},
        format="json",
    )
    assert response.status_code == 503
    assert "answered HTTP 502" in response.json()["detail"]
    assert ExtractionEvent.objects.get().state == "FAILED"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user"}]}, "messages"),
        ({"messages": "hi", "wait": "soon"}, "messages"),
        ({"messages": [{"content": "x"}], "user_id": {"a": 1}}, "user_id"),
        ({"messages": [{"content": "x"}], "user_id": "x" * 300}, "user_id"),
        ({"messages": [{"content": "x"}], "metadata": [1]}, "metadata"),
        ({"messages": [{"content": "x"}], "expires_at": "yesterday"}, "expires_at"),
    ],
)
def test_bad_requests_are_400s_storing_nothing(llm, api, body, field):
    response = api.post(f"{BASE}/memories/extract/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.content.decode()
    assert not ExtractionEvent.objects.exists()


def test_settings_read_and_change(llm, api, owner):
    from tests.conftest import client_for_user

    assert api.get(f"{BASE}/extraction/").json() == {
        "infer_by_default": False,
        "instructions": "",
        "categories": [],
        "max_memories_per_subject": None,
    }
    manager = client_for_user(owner)
    changed = manager.patch(
        f"{BASE}/extraction/",
        {
            "infer_by_default": True,
            "categories": [{"name": "music", "description": "tastes"}],
            "max_memories_per_subject": 100,
        },
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["categories"] == [{"name": "music", "description": "tastes"}]
    bad = manager.patch(
        f"{BASE}/extraction/", {"max_memories_per_subject": 0}, format="json"
    )
    assert bad.status_code == 400
    assert api.patch(f"{BASE}/extraction/", {}, format="json").status_code == 403


def test_summary(llm, api, space):
    api.post(
        f"{BASE}/memories/", {"content": "Likes jazz", "user_id": "a"}, format="json"
    )
    api.post(
        f"{BASE}/memories/", {"content": "Hates rain", "user_id": "b"}, format="json"
    )
    response = api.post(
        f"{BASE}/summary/", {"filters": {"user_id": "a"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert response.json()["summary"] == "Known: Likes jazz"
