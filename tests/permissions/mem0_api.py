"""Matrix entries of the mem0-compatible API (``/v1/``, ``/v2/``, ``/v3/``).

Only API keys authenticate here: signed-in users are 401 like anonymous. A
key works in its own space (its team's ``default``, or its only space), so a
list, search or add by another team's key succeeds *there* and never reaches
``acme/default``; naming an ``acme/default`` memory by id is a 404 for it.
"""

from memories.models import Memory, MemoryState
from tests.permission_matrix import key_lists, key_reads, key_writes
from tests.permissions.registry import MARKS, OWN_ROW, Case, endpoint

MEMORY = "v1/memories/<str:memory_id>/"
ENTITY = "entities/<str:entity_type>/<path:name>/"
# Keys of other spaces add, delete-by-filter and export in their own space.
IN_OWN_SPACE = {"other_team": 200, "no_object_perm": 200}


def _listed(w):
    """An ``after`` check: a successful list holds the caller's own row."""

    def check(who, response):
        if response.status_code == 200:
            w.shows_own_row(who, response.content.decode())

    return check


@endpoint("GET", "v1/ping/", "mem0api:ping", key_lists())
def ping(w):
    """Ping validates the key and names the space it works in, no other."""

    def names_own_space(who, response):
        if response.status_code == 200:
            assert response.json()["space"] == w.own_space_label(who), who

    return Case(w.call(), after=names_own_space)


@endpoint("POST", "v3/memories/add/", "mem0api:add", key_writes(**IN_OWN_SPACE))
@endpoint("POST", "v1/memories/", "mem0api:memories-v1", key_writes(**IN_OWN_SPACE))
def add(w):
    """Adding stores in the key's own space; a read-only key gets 403."""

    def stored_in_own_space(who, response):
        if response.status_code == 200:
            memory = Memory.objects.get(pk=response.json()["results"][0]["id"])
            label = f"{memory.space.team.slug}/{memory.space.slug}"
            assert label == w.own_space_label(who), who

    return Case(
        lambda who: w.call({"messages": f"added by {who}", "user_id": f"m-{who}"}),
        after=stored_in_own_space,
    )


@endpoint("GET", "v1/memories/", "mem0api:memories-v1", key_lists())
def list_v1(w):
    """Listing shows the key's own space only."""
    return Case(w.call(params={"page_size": 50}), after=_listed(w))


@endpoint("POST", "v2/memories/", "mem0api:list-v2", key_lists())
@endpoint("POST", "v3/memories/", "mem0api:list-v3", key_lists())
def list_v2_v3(w):
    """Listing with filters in the body shows the key's own space only."""
    return Case(w.call({"filters": {"user_id": "*"}}), after=_listed(w))


@endpoint("POST", "v1/memories/search/", "mem0api:search-v1", key_lists())
@endpoint("POST", "v2/memories/search/", "mem0api:search-v2", key_lists())
@endpoint("POST", "v3/memories/search/", "mem0api:search-v3", key_lists())
def search(w):
    """Search never returns another space's rows."""
    return Case(w.call({"query": "locker code", "mode": "keyword"}), after=_listed(w))


@endpoint("DELETE", "v1/memories/", "mem0api:memories-v1", key_writes(**IN_OWN_SPACE))
def delete_all(w):
    """Delete-all works in the key's own space: only acme's writer removes
    acme's rows; other keys find none there (200, nothing deleted)."""
    rows = {}

    def call(who):
        rows[who] = w.target(f"entity fact for {who}", user_id=f"u-{who}")
        return w.call(params={"user_id": f"u-{who}"})

    def removed_only_by_the_writer(who, response):
        state = Memory.objects.get(pk=rows[who].pk).state
        assert (state == MemoryState.DELETED) == (who == "writer"), who

    return Case(call, after=removed_only_by_the_writer)


@endpoint("GET", MEMORY, "mem0api:memory", key_reads())
@endpoint("GET", MEMORY + "history/", "mem0api:history", key_reads())
def read_one(w):
    """Reading a memory or its history: 404 for keys that cannot see the space."""
    memory = w.target("read by id")
    return Case(w.call(memory_id=memory.pk))


def _fresh_targets(w, verb: str, body=None):
    """A call on a fresh ``acme/default`` memory per caller, and a check that
    only the writer's call changed it."""
    targets = {}

    def call(who):
        targets[who] = w.target(f"{verb} by {who}")
        return w.call(body, memory_id=targets[who].pk)

    def only_the_writer(who, response):
        memory = Memory.objects.get(pk=targets[who].pk)
        changed = memory.state == MemoryState.DELETED or memory.version > 1
        assert changed == (who == "writer"), who

    return Case(call, after=only_the_writer)


@endpoint("PUT", MEMORY, "mem0api:memory", key_writes())
def update(w):
    """Updating needs change_memory in a visible space."""
    return _fresh_targets(w, "updated", {"text": "changed"})


@endpoint("DELETE", MEMORY, "mem0api:memory", key_writes())
def delete(w):
    """Deleting needs delete_memory in a visible space."""
    return _fresh_targets(w, "deleted")


@endpoint("DELETE", "v1/" + ENTITY, "mem0api:entity-v1", key_writes())
@endpoint("DELETE", "v2/" + ENTITY, "mem0api:entity", key_writes())
def entity_delete(w):
    """Erasing an entity: the read-only key 403; other spaces hold no such
    entity (404); only the writer erases acme's rows."""
    rows = {}

    def call(who):
        rows[who] = w.target(f"entity fact for {who}", user_id=f"u-{who}")
        return w.call(entity_type="user", name=f"u-{who}")

    def erased_only_by_the_writer(who, response):
        exists = Memory.objects.filter(pk=rows[who].pk).exists()
        assert exists == (who != "writer"), who

    return Case(call, after=erased_only_by_the_writer)


@endpoint("PUT", "v1/batch/", "mem0api:batch", key_writes())
@endpoint("DELETE", "v1/batch/", "mem0api:batch", key_writes())
def batch(w):
    """Batch update and delete: all or nothing, 404 for another space's ids."""
    targets = {}

    def call(who):
        targets[who] = w.target(f"batch for {who}")
        item = {"memory_id": str(targets[who].pk), "text": "batched"}
        return w.call({"memories": [item]})

    def only_the_writer(who, response):
        memory = Memory.objects.get(pk=targets[who].pk)
        changed = memory.state == MemoryState.DELETED or memory.version > 1
        assert changed == (who == "writer"), who

    return Case(call, after=only_the_writer)


@endpoint("GET", "v1/entities/", "mem0api:entities", key_lists())
def entities(w):
    """Entities are those of the key's own space only."""

    def own_entities(who, response):
        if response.status_code == 200:
            names = {e["name"] for e in response.json()["results"]}
            assert MARKS[OWN_ROW[who]] in names, who

    return Case(w.call(), after=own_entities)


@endpoint("POST", "v1/exports/", "mem0api:export", key_lists(201))
def export_create(w):
    """Asking for an export is a read of the key's own space."""
    return Case(w.call({"schema": {"type": "object"}}))


@endpoint("POST", "v1/exports/get/", "mem0api:export-get", key_lists())
def export_get(w):
    """An export holds the key's own space's rows only."""
    return Case(w.call({"filters": {"user_id": "*"}}), after=_listed(w))


@endpoint("POST", "v1/feedback/", "mem0api:feedback", key_reads())
def feedback(w):
    """Feedback is a read-level action on a memory the key can see."""
    memory = w.target("worth feedback")
    return Case(w.call({"memory_id": str(memory.pk), "feedback": "POSITIVE"}))


@endpoint("GET", "v1/event/<str:event_id>/", "mem0api:event", key_reads())
def event(w):
    """An add's event is readable in its space only (404 elsewhere)."""
    response = w.cast.clients["writer"].post(
        "/v3/memories/add/",
        {"messages": f"{MARKS['mine']} via an event", "user_id": "ev"},
        format="json",
    )
    assert response.status_code == 200, response.content
    event_id = response.json()["event_id"]

    def shows_the_add(who, response):
        if response.status_code == 200:
            assert response.json()["status"] == "SUCCEEDED"
            assert len(response.json()["results"]) == 1

    def unknown_events_are_not_found(results):
        unknown = "/v1/event/01900000-0000-7000-8000-000000000000/"
        assert w.cast.clients["writer"].get(unknown).status_code == 404

    return Case(
        w.call(event_id=event_id),
        after=shows_the_add,
        then=unknown_events_are_not_found,
    )
