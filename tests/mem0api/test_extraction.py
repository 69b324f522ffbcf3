"""Extraction through the mem0-compatible API, driven by the real
``mem0.MemoryClient`` (``add(messages, infer=True)``) against a live server.

The model is the scripted OpenAI-compatible server of
``tests/scripted_llm.py`` — a test fixture, since no LLM runs here;
everything else is real.
"""

import asyncio

import httpx
import pytest
from mem0 import AsyncMemoryClient
from mem0.exceptions import MemoryError as Mem0Error

from accounts.actors import SYSTEM
from memories import services
from memories.models import ExtractionEvent
from tests.mem0api.test_compat import Hub, hub  # noqa: F401 (fixture)

CHAT = [
    {"role": "user", "content": "Hi, I'm Alice and I live in Lisbon"},
    {"role": "assistant", "content": "Nice to meet you, Alice!"},
]


@pytest.fixture
def client(hub):  # noqa: F811
    return hub.client()


def facts(llm, *texts, needle=None):
    llm.on("facts", needle, answer={"facts": [{"text": text} for text in texts]})


def test_sync_add_extracts_and_get_all_shows_the_memories(llm, client):
    facts(llm, "Name is Alice", "Lives in Lisbon")
    added = client.add(CHAT, user_id="alice", infer=True, async_mode=False)
    assert added["status"] == "SUCCEEDED"
    assert [(r["event"], r["memory"]) for r in added["results"]] == [
        ("ADD", "Name is Alice"),
        ("ADD", "Lives in Lisbon"),
    ]
    assert all(r["user_id"] == "alice" for r in added["results"])
    listed = client.get_all(filters={"user_id": "alice"})
    assert sorted(m["memory"] for m in listed["results"]) == [
        "Lives in Lisbon",
        "Name is Alice",
    ]
    # The event of the add reports the same results.
    event = client.client.get(f"/v1/event/{added['event_id']}/").json()
    assert event["status"] == "SUCCEEDED"
    assert len(event["results"]) == 2 and event["completed_at"]


def test_async_add_is_pending_then_the_event_reports_success(llm, client, hub):  # noqa: F811
    facts(llm, "Lives in Lisbon")
    added = client.add(CHAT, user_id="alice", infer=True)
    assert added["status"] == "PENDING"
    assert added["results"][0]["event_id"] == added["event_id"]
    event = client.client.get(f"/v1/event/{added['event_id']}/").json()
    # Celery runs eagerly here (a real worker: tests/memories/test_celery_worker.py).
    assert event["status"] == "SUCCEEDED"
    assert event["results"][0]["memory"] == "Lives in Lisbon"
    assert event["metadata"]["model"] == "scripted-test-model"
    assert client.get_all(filters={"user_id": "alice"})["count"] == 1


def test_update_replaces_the_old_fact_and_history_shows_both(llm, client):
    old = client.add("Lives in Lisbon", user_id="alice", infer=False)["results"][0]
    facts(llm, "Moved to Porto")
    llm.on(
        "decisions",
        answer={
            "decisions": [
                {"fact": 0, "event": "UPDATE", "memory": "m1", "text": "Lives in Porto"}
            ]
        },
    )
    added = client.add(
        "I moved to Porto", user_id="alice", infer=True, async_mode=False
    )
    (result,) = added["results"]
    assert result == {
        **result,
        "id": old["id"],
        "event": "UPDATE",
        "memory": "Lives in Porto",
        "previous_memory": "Lives in Lisbon",
    }
    history = client.history(old["id"])
    assert [(h["event"], h["old_memory"], h["new_memory"]) for h in history] == [
        ("ADD", None, "Lives in Lisbon"),
        ("UPDATE", "Lives in Lisbon", "Lives in Porto"),
    ]
    assert history[1]["actor"].startswith(f"extraction {added['event_id']} (key:")


def test_delete_and_none(llm, client):
    cat = client.add("Has a cat", user_id="alice", infer=False)["results"][0]
    jazz = client.add("Likes jazz", user_id="alice", infer=False)["results"][0]
    facts(llm, "No longer has a cat", "Likes jazz")
    llm.on(
        "decisions",
        answer={
            "decisions": [
                {"fact": 0, "event": "DELETE", "memory": "m1"},
                {"fact": 1, "event": "NONE", "memory": "m2"},
            ]
        },
    )
    # m1/m2 follow the order the memories were found in: make it explicit.
    added = client.add(
        "The cat is gone; I still like jazz",
        user_id="alice",
        infer=True,
        async_mode=False,
    )
    events = {r["id"]: r["event"] for r in added["results"]}
    assert sorted(events.values()) == ["DELETE", "NONE"]
    assert set(events) == {cat["id"], jazz["id"]}
    remaining = client.get_all(filters={"user_id": "alice"})["results"]
    kept = [m["id"] for m in remaining]
    deleted = next(i for i, e in events.items() if e == "DELETE")
    assert deleted not in kept and len(kept) == 1


def test_a_duplicate_is_none_with_the_default_model(llm, client):
    first = client.add("Likes jazz", user_id="alice", infer=False)["results"][0]
    added = client.add("Likes jazz", user_id="alice", infer=True, async_mode=False)
    assert [(r["event"], r["id"]) for r in added["results"]] == [("NONE", first["id"])]


def test_malformed_output_and_timeouts_are_clear_503s(llm, client, settings):
    llm.on("facts", raw="not json at all")
    with pytest.raises(Mem0Error) as caught:
        client.add("Likes jazz", user_id="alice", infer=True, async_mode=False)
    assert "unusable answer twice" in str(caught.value)
    event = ExtractionEvent.objects.get()
    assert event.state == "FAILED" and event.payload is None
    llm.reset()
    settings.LLM_TIMEOUT_SECONDS = 0.3
    llm.on("facts", delay=1.0)
    response = client.client.post(
        "/v3/memories/add/",
        json={
            "messages": "Likes jazz",
            "user_id": "alice",
            "infer": True,
            "async_mode": False,
        },
    )
    assert response.status_code == 503
    assert "did not answer within 0.3 s" in response.json()["detail"]
    assert client.get_all(filters={"user_id": "alice"})["count"] == 0
    # Asynchronous: the event is FAILED with the reason.
    added = client.add("Likes jazz", user_id="alice", infer=True)
    event = client.client.get(f"/v1/event/{added['event_id']}/").json()
    assert event["status"] == "FAILED"
    assert "did not answer within" in event["error"]


def test_a_read_only_key_cannot_extract(llm, hub):  # noqa: F811
    with pytest.raises(Mem0Error) as caught:
        hub.client("read_only").add("Likes jazz", user_id="a", infer=True)
    assert "may not add memory" in str(caught.value)
    assert not ExtractionEvent.objects.exists() and llm.requests == []


def test_the_space_can_extract_by_default(llm, client, hub):  # noqa: F811
    """A client that leaves ``infer`` out stores verbatim, unless the space's
    managers turned extraction on by default."""
    facts(llm, "Likes jazz")
    verbatim = client.add("I really like jazz, you know", user_id="alice")
    assert verbatim["results"][0]["memory"] == "I really like jazz, you know"
    assert llm.requests == []
    services.extraction_settings_update(
        actor=SYSTEM, space=hub.space, infer_by_default=True
    )
    queued = client.add("I really like jazz, you know", user_id="bob")
    assert queued["status"] == "PENDING"
    assert client.get_all(filters={"user_id": "bob"})["results"][0]["memory"] == (
        "Likes jazz"
    )


def test_bad_infer_values_are_400s(llm, hub):  # noqa: F811
    with hub.http() as http:
        for body, field in (
            ({"messages": "x", "infer": "yes"}, "infer"),
            ({"messages": "x", "infer": True, "async_mode": "no"}, "async_mode"),
            ({"messages": [], "infer": True}, "messages"),
            ({"messages": "x", "infer": True, "custom_categories": "x"}, "categories"),
            ({"messages": "x", "infer": True, "includes": 5}, "includes"),
        ):
            response = http.post("/v3/memories/add/", json=body)
            assert response.status_code == 400, body
            assert field in response.json()["detail"], response.json()
    assert not ExtractionEvent.objects.exists()


def test_summary_by_the_model(llm, client):
    client.add("Likes jazz", user_id="alice", infer=False)
    client.add("Lives in Porto", user_id="alice", infer=False)
    client.add("Bob's secret", user_id="bob", infer=False)
    summary = client.get_summary(filters={"user_id": "alice"})
    assert summary["count"] == 2
    assert summary["summary"].startswith("Known: ")
    assert "Bob" not in summary["summary"]
    assert "Likes jazz" in summary["summary"]


def test_the_async_client_extracts_too(llm, hub):  # noqa: F811
    facts(llm, "Plays go")

    async def scenario():
        client = AsyncMemoryClient(api_key=hub.secrets["writer"], host=hub.url)
        async with client:
            added = await client.add(
                "I play go on weekends", user_id="kim", infer=True, async_mode=False
            )
            assert added["results"][0]["memory"] == "Plays go"

    asyncio.run(scenario())
    with httpx.Client(base_url=hub.url) as anonymous:
        assert anonymous.post("/v1/summary/", json={}).status_code == 401
