"""The mem0-compatible API, driven by the real ``mem0.MemoryClient`` and
``AsyncMemoryClient`` against a live server (its permission matrix:
``tests/permissions/mem0_api.py``).

mem0's clients only take a host and a key, so every test here is what an
unchanged mem0 user would see pointing them at MemoryHub.
"""

import asyncio
import json
import threading
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from mem0 import AsyncMemoryClient, MemoryClient
from mem0.exceptions import (
    AuthenticationError,
    MemoryNotFoundError,
    MemoryQuotaExceededError,
    RateLimitError,
    ValidationError,
)

from audit.models import AccessEvent
from memories.models import Memory
from tests.conftest import client_for_user
from tests.factories import make_key, make_member, make_space, make_team

# --- a live MemoryHub with keys of every kind -----------------------------------------


@dataclass
class Hub:
    """A live server, its team/space and API keys by role."""

    url: str
    team: object
    space: object
    secrets: dict

    def client(self, who: str = "writer") -> MemoryClient:
        """mem0's sync client for a key."""
        return MemoryClient(api_key=self.secrets[who], host=self.url)

    def http(self, who: str | None = "writer", **headers) -> httpx.Client:
        """A raw HTTP client sending the key like mem0 does (``Token``)."""
        if who is not None:
            headers["Authorization"] = f"Token {self.secrets[who]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture
def hub(live_server, transactional_db) -> Hub:
    """Team ``acme`` (spaces ``default`` and ``elsewhere``) and team ``other``."""
    team = make_team("acme")
    space = make_space(team, "default")
    elsewhere = make_space(team, "elsewhere")
    other = make_team("other")
    make_space(other, "default")
    secrets = {
        "writer": make_key(team)[1],
        "read_only": make_key(team, read_only=True)[1],
        "scoped": make_key(team, spaces=[elsewhere])[1],
        "other_team": make_key(other)[1],
    }
    return Hub(url=live_server.url, team=team, space=space, secrets=secrets)


@pytest.fixture
def client(hub) -> MemoryClient:
    """The writer key's ``MemoryClient``."""
    return hub.client()


def add(client, text: str, **kwargs) -> dict:
    """Add one message as-is and return its result item."""
    return client.add(text, infer=False, **kwargs)["results"][0]


# --- ping, auth, space ----------------------------------------------------------------


def test_ping_names_the_keys_team_and_space(hub, client):
    """MemoryClient pings at construction and keeps org/project ids from the key."""
    assert client.org_id == "acme"
    assert client.project_id == str(hub.space.uuid)


def test_bad_or_missing_key_is_rejected(hub):
    """A bad key fails the client's ping; no key is a 401 with mem0's detail."""
    with pytest.raises(ValueError, match="Invalid API key"):
        MemoryClient(api_key="mh_000000000000_nope", host=hub.url)
    with hub.http(None) as http:
        response = http.get("/v1/ping/")
    assert response.status_code == 401
    assert response.json()["detail"]
    with httpx.Client(
        base_url=hub.url, headers={"Authorization": "Token mh_bad"}
    ) as http:
        assert http.post("/v3/memories/search/", json={"query": "x"}).status_code == 401


def test_a_key_without_a_space_is_told_how_to_get_one(live_server, transactional_db):
    """No ``default`` space and no single-space scope: ping says what to do."""
    team = make_team("lonely")
    make_space(team, "notes")
    make_space(team, "drafts")
    _, secret, _ = make_key(team)
    with pytest.raises(ValueError, match="create a space named 'default'"):
        MemoryClient(api_key=secret, host=live_server.url)


def test_space_header_and_single_space_keys_choose_the_space(hub):
    """A key scoped to one space works there; X-MemoryHub-Space picks another."""
    scoped = hub.client("scoped")
    add(scoped, "Stored in elsewhere", user_id="u")
    assert hub.client().get_all(filters={"user_id": "u"})["count"] == 0
    picked = MemoryClient(
        api_key=hub.secrets["writer"],
        host=hub.url,
        client=httpx.Client(headers={"X-MemoryHub-Space": "elsewhere"}),
    )
    assert picked.get_all(filters={"user_id": "u"})["count"] == 1


# --- add ------------------------------------------------------------------------------


def test_add_accepts_string_dict_and_list_messages(client):
    """Each non-system message becomes a memory; ids top level or in filters."""
    assert add(client, "I drink oolong tea", user_id="alice")["event"] == "ADD"
    single = client.add(
        {"role": "user", "content": "I live in Lyon"},
        filters={"user_id": "alice"},
        infer=False,
    )
    assert single["status"] == "SUCCEEDED" and single["event_id"]
    many = client.add(
        [
            {"role": "system", "content": "You are a helpful assistant"},
            {"role": "user", "content": "My sister is called Ines"},
            {"role": "assistant", "content": "Noted: your sister is Ines"},
        ],
        user_id="alice",
        agent_id="helper",
        infer=False,
    )
    assert [r["memory"] for r in many["results"]] == [
        "My sister is called Ines",
        "Noted: your sister is Ines",
    ]
    page = client.get_all(filters={"user_id": "alice"})
    assert page["count"] == 4
    assert {m["memory"] for m in page["results"]} >= {"I live in Lyon"}
    again = add(client, "I drink oolong tea", user_id="alice")
    assert again["event"] == "NONE"  # a duplicate is not stored twice
    assert client.get_all(filters={"user_id": "alice"})["count"] == 4


def test_add_stores_metadata_categories_expiry_and_immutability(client):
    """Optional fields round-trip in mem0's memory shape."""
    day = (timezone.now() + timedelta(days=30)).date().isoformat()
    added = add(
        client,
        "Passport number ends in 42",
        user_id="bob",
        metadata={"source": "form", "priority": 3},
        categories=["documents"],
        expiration_date=day,
        immutable=True,
    )
    memory = client.get(added["id"])
    assert memory["memory"] == "Passport number ends in 42"
    assert memory["metadata"] == {"source": "form", "priority": 3}
    assert memory["categories"] == ["documents"]
    assert memory["expiration_date"] == day
    assert memory["immutable"] is True
    assert memory["user_id"] == "bob" and memory["agent_id"] is None
    assert len(memory["hash"]) == 64 and memory["created_at"] and memory["updated_at"]
    with pytest.raises(ValidationError, match="immutable"):
        client.update(added["id"], text="changed")


def test_infer_true_needs_an_llm(client):
    """Without a model, extraction is a 400 that says what to configure
    (with one: tests/mem0api/test_extraction.py)."""
    with pytest.raises(ValidationError, match="needs a model and none is configured"):
        client.add("I like jazz", user_id="carol", infer=True)
    with pytest.raises(ValidationError, match="messages hold no user"):
        client.add([{"role": "system", "content": "x"}], user_id="c", infer=False)


def test_a_bad_message_stores_nothing(client, settings):
    """Every message is validated before any is stored; the error names it."""
    settings.MEMORY_MAX_CONTENT_CHARS = 50
    with pytest.raises(MemoryQuotaExceededError, match=r"messages\[1\]: content is"):
        client.add(["short and fine", "x" * 60], user_id="zed", infer=False)
    assert client.get_all(filters={"user_id": "zed"})["count"] == 0


# --- get all and search ---------------------------------------------------------------


@pytest.fixture
def seeded(client):
    """Five memories over two users, with categories and metadata."""
    rows = [
        ("Alice runs marathons", "alice", ["sport"], {"level": 3}),
        ("Alice collects vinyl records", "alice", ["music"], {"level": 1}),
        ("Alice plays the cello", "alice", ["music", "hobby"], {"level": 5}),
        ("Bob cooks ramen on Sundays", "bob", ["food"], {"level": 2}),
        ("Bob is allergic to peanuts", "bob", ["health"], {"level": 4}),
    ]
    for text, user, categories, metadata in rows:
        add(client, text, user_id=user, categories=categories, metadata=metadata)
    return rows


def texts(page) -> set[str]:
    """The memory texts of a page or search result."""
    return {m["memory"] for m in page["results"]}


def test_get_all_speaks_the_filter_language(client, seeded):
    """AND/OR/NOT, in, gte/lte, contains and ``*`` all reach the filter language."""
    today = timezone.now().date().isoformat()
    assert len(texts(client.get_all(filters={"user_id": "alice"}))) == 3
    music_or_food = client.get_all(
        filters={
            "OR": [
                {"categories": {"contains": "music"}},
                {"categories": {"in": ["food"]}},
            ]
        }
    )
    assert texts(music_or_food) == {
        "Alice collects vinyl records",
        "Alice plays the cello",
        "Bob cooks ramen on Sundays",
    }
    ranged = client.get_all(
        filters={
            "AND": [
                {"user_id": "*"},
                {"level": {"gte": 2, "lte": 4}},
                {"NOT": {"user_id": "bob"}},
                {"created_at": {"gte": today, "lte": today}},
            ]
        }
    )
    assert texts(ranged) == {"Alice runs marathons"}


def test_get_all_paginates_in_the_drf_shape(client, seeded):
    """``page``/``page_size`` give ``{count, next, previous, results}``."""
    first = client.get_all(filters={"user_id": "*"}, page=1, page_size=2)
    assert first["count"] == 5 and len(first["results"]) == 2
    assert "page=2" in first["next"] and first["previous"] is None
    last = client.get_all(filters={"user_id": "*"}, page=3, page_size=2)
    assert len(last["results"]) == 1 and last["next"] is None
    assert "page=2" in last["previous"]
    seen = texts(first) | texts(last)
    seen |= texts(client.get_all(filters={"user_id": "*"}, page=2, page_size=2))
    assert len(seen) == 5


def test_older_clients_paths_list_and_search(hub, seeded):
    """/v1 (GET with ids as parameters) and /v2 paths answer like /v3."""
    with hub.http() as http:
        v1 = http.get("/v1/memories/", params={"user_id": "bob"}).json()
        v2 = http.post("/v2/memories/", json={"filters": {"user_id": "bob"}}).json()
        old = http.post("/v1/memories/", json={"messages": "Bob owns a cat"})
        assert old.status_code == 200
        for path in ("/v1/memories/search/", "/v2/memories/search/"):
            found = http.post(path, json={"query": "allergy", "user_id": "bob"})
            assert found.json()["results"][0]["memory"] == "Bob is allergic to peanuts"
        listed = http.get("/v1/memories/", params={"output_format": "v1.0"}).json()
    assert (
        texts(v1)
        == texts(v2)
        == {
            "Bob cooks ramen on Sundays",
            "Bob is allergic to peanuts",
        }
    )
    assert isinstance(listed, list) and len(listed) == 6


def test_search_scores_and_respects_filters_top_k_and_threshold(client, seeded):
    """Results carry ``score``, best first; filters narrow, top_k caps."""
    found = client.search(
        "Which instrument does she play?", filters={"user_id": "alice"}
    )
    results = found["results"]
    assert results[0]["memory"] == "Alice plays the cello"
    assert all("score" in r for r in results)
    assert {r["user_id"] for r in results} == {"alice"}
    assert (
        len(client.search("hobbies", filters={"user_id": "*"}, top_k=2)["results"]) == 2
    )
    strict = client.search("cello", filters={"user_id": "*"}, threshold=0.99)
    assert strict["results"] == []


def test_search_embeds_the_query_while_the_keys_space_is_looked_up(
    client, seeded, monkeypatch
):
    """As on the native API: the query is embedded once, on a thread of its
    own, started before the space lookup."""
    from memories import embedding

    threads = []
    real = embedding.embed_texts

    def embed_texts(texts):
        threads.append(threading.current_thread().name)
        return real(texts)

    monkeypatch.setattr(embedding, "embed_texts", embed_texts)
    found = client.search(
        "Which instrument does she play?", filters={"user_id": "alice"}
    )
    assert found["results"][0]["memory"] == "Alice plays the cello"
    assert len(threads) == 1 and threads[0].startswith("query-embed")


# --- one memory: get, update, history, delete -----------------------------------------


def test_update_history_and_delete(client):
    """Update keeps history (old/new/event); delete leaves history readable."""
    memory_id = add(client, "Favourite colour is green", user_id="dan")["id"]
    day = (timezone.now() + timedelta(days=3)).date().isoformat()
    updated = client.update(
        memory_id, text="Favourite colour is blue", metadata={"v": 2}
    )
    assert updated["memory"] == "Favourite colour is blue"
    assert updated["metadata"] == {"v": 2}
    assert client.update(memory_id, expiration_date=day)["expiration_date"] == day
    assert client.update(memory_id, expiration_date=None)["expiration_date"] is None
    assert client.delete(memory_id) == {"message": "Memory deleted successfully!"}
    with pytest.raises(MemoryNotFoundError):
        client.get(memory_id)
    history = client.history(memory_id)
    assert [h["event"] for h in history] == ["ADD", *["UPDATE"] * 3, "DELETE"]
    assert history[0]["old_memory"] is None
    assert history[0]["new_memory"] == "Favourite colour is green"
    assert history[1]["old_memory"] == "Favourite colour is green"
    assert history[1]["new_memory"] == "Favourite colour is blue"
    assert history[-1]["event"] == "DELETE"
    assert history[-1]["old_memory"] == "Favourite colour is blue"


def test_unknown_and_malformed_ids_are_not_found(client):
    """An unknown UUID and a non-UUID are the same typed 404."""
    for memory_id in ("8a4b8c2e-0000-4000-8000-000000000000", "not-a-uuid"):
        with pytest.raises(MemoryNotFoundError):
            client.get(memory_id)
        with pytest.raises(MemoryNotFoundError):
            client.update(memory_id, text="x")
        with pytest.raises(MemoryNotFoundError):
            client.delete(memory_id)
        with pytest.raises(MemoryNotFoundError):
            client.history(memory_id)


def test_malformed_filters_are_a_400_naming_the_path(client):
    """A bad filter is a ValidationError whose message points at the mistake."""
    with pytest.raises(ValidationError, match=r"filters\.user_id: unknown operator"):
        client.get_all(filters={"user_id": {"like": "a%"}})
    with pytest.raises(ValidationError, match="logical operators are upper-case"):
        client.search("x", filters={"or": [{"user_id": "a"}]})


# --- many memories: delete all, entities, batch ---------------------------------------


def test_delete_all_entities_and_reset(client, seeded):
    """users() lists entities; delete_all and delete_users remove their memories."""
    entities = client.users()["results"]
    assert {(e["type"], e["name"], e["total_memories"]) for e in entities} == {
        ("user", "alice", 3),
        ("user", "bob", 2),
    }
    client.delete_all(user_id="bob")
    assert client.get_all(filters={"user_id": "bob"})["count"] == 0
    add(client, "Eve likes chess", user_id="eve", agent_id="coach")
    assert client.delete_users(user_id="eve") == {
        "message": "Entity deleted successfully."
    }
    assert not Memory.objects.filter(user_id="eve").exists()  # erased, not hidden
    with pytest.raises(MemoryNotFoundError):
        client.delete_users(user_id="nobody")
    client.reset()
    assert client.get_all(filters={"user_id": "*"})["count"] == 0
    with pytest.raises(ValidationError, match="at least one of user_id"):
        client.delete_all()


def test_delete_all_reads_filters_sent_by_the_typed_options(client, seeded):
    """``delete_all(filters=...)`` reaches the server as a query parameter."""
    client.delete_all(filters={"user_id": "alice"})
    assert client.get_all(filters={"user_id": "alice"})["count"] == 0
    assert client.get_all(filters={"user_id": "bob"})["count"] == 2


def test_batch_update_and_delete_are_all_or_nothing(client):
    """A batch with an unknown id changes nothing."""
    ids = [add(client, f"Batch fact {n}", user_id="fay")["id"] for n in range(3)]
    result = client.batch_update(
        [
            {"memory_id": ids[0], "text": "Batch fact zero"},
            {"memory_id": ids[1], "metadata": {"x": 1}},
        ]
    )
    assert result["message"] == "Successfully updated 2 memories"
    assert client.get(ids[0])["memory"] == "Batch fact zero"
    missing = "8a4b8c2e-0000-4000-8000-000000000000"
    with pytest.raises(MemoryNotFoundError):
        client.batch_update(
            [
                {"memory_id": ids[2], "text": "never"},
                {"memory_id": missing, "text": "x"},
            ]
        )
    assert client.get(ids[2])["memory"] == "Batch fact 2"
    with pytest.raises(MemoryNotFoundError):
        client.batch_delete([{"memory_id": ids[2]}, {"memory_id": missing}])
    assert client.get(ids[2])
    assert client.batch_delete([{"memory_id": i} for i in ids]) == {
        "message": "Successfully deleted 3 memories"
    }
    assert client.get_all(filters={"user_id": "fay"})["count"] == 0


# --- exports, feedback, events --------------------------------------------------------


def test_export_returns_the_matching_memories(client, seeded):
    """create_memory_export remembers the request; get returns the memories."""
    schema = {"type": "object", "properties": {"facts": {"type": "array"}}}
    created = client.create_memory_export(schema, filters={"user_id": "bob"})
    export = client.get_memory_export(memory_export_id=created["id"])
    assert export["schema"] == schema and export["count"] == 2
    assert {m["memory"] for m in export["memories"]} == {
        "Bob cooks ramen on Sundays",
        "Bob is allergic to peanuts",
    }
    direct = client.get_memory_export(filters={"user_id": "alice"})
    assert direct["count"] == 3
    with pytest.raises(MemoryNotFoundError):
        client.get_memory_export(memory_export_id="8a4b8c2e-0000-4000-8000-0000")


def test_a_mem0_export_moves_into_a_space_and_a_space_leaves_in_its_shape(
    hub, client, seeded
):
    """What the real client's get_memory_export hands a mem0 user is a file
    the native import reads (docs/migrations.md); a space exported with
    ``?format=mem0`` has the same memory objects, so the trip back is the same."""
    export = client.get_memory_export(filters={"user_id": "alice"})
    owner = make_member(hub.team, "owner")
    make_space(hub.team, "moved-in")
    native = client_for_user(owner)
    url = "/api/v1/spaces/moved-in/import/?format=auto"
    result = native.generic(
        "POST", url, json.dumps(export), content_type="application/json"
    ).json()
    assert (result["format"], result["created"], result["errors"]) == ("mem0", 3, 0)
    again = native.generic(
        "POST", url, json.dumps(export), content_type="application/json"
    ).json()
    assert (again["created"], again["duplicates"]) == (0, 3)

    out = native.get("/api/v1/spaces/moved-in/export/", {"format": "mem0"})
    document = json.loads(b"".join(out.streaming_content))
    assert {m["memory"] for m in document["memories"]} == {
        m["memory"] for m in export["memories"]
    }
    theirs = {k for m in export["memories"] for k in m} - {"hash"}
    assert {k for m in document["memories"] for k in m} == theirs
    by_text = {m["memory"]: m for m in document["memories"]}
    for memory in export["memories"]:
        ours = by_text[memory["memory"]]
        assert ours["metadata"]["mem0_id"] == memory["id"]
        assert (ours["user_id"], ours["categories"]) == (
            memory["user_id"],
            memory["categories"],
        )


def test_feedback_is_audited_without_the_reason(hub, client):
    """Feedback on a visible memory is recorded; the free-text reason is not."""
    memory_id = add(client, "Gus drives a red van", user_id="gus")["id"]
    answer = client.feedback(memory_id, "negative", "wrong colour: it is blue")
    assert answer["feedback"] == "NEGATIVE" and answer["memory_id"] == memory_id
    event = AccessEvent.objects.get(action="memory.feedback")
    assert event.detail == {"feedback": "NEGATIVE", "with_reason": True}
    assert "blue" not in str(event.detail)
    with pytest.raises(MemoryNotFoundError):
        client.feedback("8a4b8c2e-0000-4000-8000-000000000000", "POSITIVE")


def test_add_event_can_be_fetched(hub, client):
    """The add's ``event_id`` resolves at /v1/event/<id>/ to its memories."""
    added = client.add(
        [{"role": "user", "content": "Hana speaks Japanese"}, "Hana lives in Kyoto"],
        user_id="hana",
        infer=False,
    )
    with hub.http() as http:
        event = http.get(f"/v1/event/{added['event_id']}/").json()
        assert event["status"] == "SUCCEEDED" and event["event_type"] == "ADD"
        assert [r["memory"] for r in event["results"]] == [
            "Hana speaks Japanese",
            "Hana lives in Kyoto",
        ]
        assert http.get("/v1/event/not-an-id/").status_code == 404
    with hub.http("other_team") as http:
        assert http.get(f"/v1/event/{added['event_id']}/").status_code == 404


# --- isolation and limits -------------------------------------------------------------


def test_other_teams_key_never_reaches_these_memories(hub, client):
    """Ids in the path or the body cannot cross teams; lists stay separate."""
    memory_id = add(client, "Ivy's bank PIN hint: birthday", user_id="ivy")["id"]
    intruder = hub.client("other_team")
    for attempt in (
        lambda: intruder.get(memory_id),
        lambda: intruder.update(memory_id, text="pwned"),
        lambda: intruder.delete(memory_id),
        lambda: intruder.history(memory_id),
        lambda: intruder.batch_delete([{"memory_id": memory_id}]),
        lambda: intruder.feedback(memory_id, "POSITIVE"),
    ):
        with pytest.raises(MemoryNotFoundError):
            attempt()
    assert intruder.get_all(filters={"user_id": "ivy"})["count"] == 0
    assert intruder.search("PIN", filters={"user_id": "ivy"})["results"] == []
    intruder.add("Other team note", user_id="ivy", org_id="acme", infer=False)
    assert client.get(memory_id)["memory"] == "Ivy's bank PIN hint: birthday"
    assert client.get_all(filters={"user_id": "ivy"})["count"] == 1


def test_read_only_key_reads_but_cannot_write(hub, client):
    """Reads work; every write is a 403 the client raises as AuthenticationError."""
    memory_id = add(client, "Jon takes the 8:15 train", user_id="jon")["id"]
    reader = hub.client("read_only")
    assert reader.get(memory_id)["memory"] == "Jon takes the 8:15 train"
    assert reader.search("train", filters={"user_id": "jon"})["results"]
    for attempt in (
        lambda: reader.add("x", user_id="jon", infer=False),
        lambda: reader.update(memory_id, text="y"),
        lambda: reader.delete(memory_id),
        lambda: reader.delete_all(user_id="jon"),
        lambda: reader.delete_users(user_id="jon"),
        lambda: reader.batch_update([{"memory_id": memory_id, "text": "z"}]),
    ):
        with pytest.raises(AuthenticationError):
            attempt()


def test_rate_limit_is_a_429_with_retry_after(hub, settings):
    """Over the key's rate the answer is 429 + Retry-After (RateLimitError)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"},
    }
    client = hub.client()  # its ping is the first request of three
    with hub.http() as http:
        statuses = [http.get("/v1/entities/") for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert int(statuses[-1].headers["Retry-After"]) > 0
    assert statuses[-1].json()["detail"]
    with pytest.raises(RateLimitError):
        client.users()
    assert hub.client("read_only").users()["results"] == []  # other keys unaffected


# --- the async client -----------------------------------------------------------------


def test_async_client_covers_the_same_methods(hub):
    """AsyncMemoryClient: add, get_all, search, get, update, history, users,
    batch, export, feedback, delete, delete_all, delete_users."""

    async def scenario():
        client = AsyncMemoryClient(api_key=hub.secrets["writer"], host=hub.url)
        async with client:
            added = await client.add("Kim plays go", user_id="kim", infer=False)
            memory_id = added["results"][0]["id"]
            await client.add("Kim studies physics", user_id="kim", infer=False)
            assert (await client.get_all(filters={"user_id": "kim"}))["count"] == 2
            found = await client.search("board game", filters={"user_id": "kim"})
            assert found["results"][0]["id"] == memory_id
            assert (await client.get(memory_id))["memory"] == "Kim plays go"
            await client.update(memory_id, text="Kim plays go and chess")
            history = await client.history(memory_id)
            assert [h["event"] for h in history] == ["ADD", "UPDATE"]
            assert (await client.users())["results"][0]["name"] == "kim"
            await client.batch_update([{"memory_id": memory_id, "metadata": {"a": 1}}])
            export = await client.get_memory_export(filters={"user_id": "kim"})
            assert export["count"] == 2
            await client.feedback(memory_id, "POSITIVE")
            await client.delete(memory_id)
            with pytest.raises(MemoryNotFoundError):
                await client.get(memory_id)
            await client.delete_all(user_id="kim")
            await client.add("Kim again", user_id="kim", infer=False)
            await client.delete_users(user_id="kim")
            assert (await client.get_all(filters={"user_id": "kim"}))["count"] == 0
            with pytest.raises(ValidationError, match="needs a model"):
                await client.add("x", user_id="kim", infer=True)

    asyncio.run(scenario())
