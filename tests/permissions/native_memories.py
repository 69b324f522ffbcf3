"""Matrix entries of the native memory endpoints: memories, search, transfer."""

import json

from memories.models import Memory, MemoryState
from tests.permission_matrix import CALLERS, reads, writes
from tests.permissions.registry import MARKS, Case, endpoint

MEMORIES = "api/v1/spaces/<slug:slug>/memories/"
MEMORY = MEMORIES + "<uuid:memory_id>/"
NDJSON = "application/x-ndjson"


@endpoint("GET", MEMORIES, "memory-list", reads())
def memory_list(w):
    """Listing: outsiders 404, everyone who sees the space 200 with exactly its
    rows, never another space's."""

    def sees_only_the_space(who, response):
        if response.status_code == 200:
            ids = [m["id"] for m in response.json()["results"]]
            assert ids == [str(w.mine.pk)], who

    return Case(
        w.space_call(), hidden=w.hidden_rows(also=["far"]), after=sees_only_the_space
    )


@endpoint("POST", MEMORIES, "memory-list", writes(201))
def memory_create(w):
    """Adding: read-only key and viewer 403, writers 201; nobody else stores."""

    def only_writers_stored(results):
        made = Memory.objects.filter(user_id__startswith="by-")
        assert sorted(made.values_list("user_id", flat=True)) == [
            "by-member",
            "by-owner",
            "by-writer",
        ]
        assert {m.space_id for m in made} == {w.space.pk}

    return Case(
        lambda who: w.space_call({"content": f"note by {who}", "user_id": f"by-{who}"}),
        then=only_writers_stored,
    )


@endpoint("POST", MEMORIES + "batch/", "memory-batch", writes())
def memory_batch(w):
    """Batch adding follows the add permission."""
    return Case(
        lambda who: w.space_call({"items": [{"content": f"batch by {who}"}]}),
    )


@endpoint("POST", MEMORIES + "query/", "memory-query", reads())
def memory_query(w):
    """Querying with a filter object is a read; it never reaches other spaces."""
    alice = w.add("for alice", user_id="alice")

    def finds_alice(who, response):
        if response.status_code == 200:
            ids = [m["id"] for m in response.json()["results"]]
            assert ids == [str(alice.pk)], who

    return Case(
        w.space_call({"filters": {"user_id": "alice"}}),
        hidden=w.hidden_rows(also=["far"]),
        after=finds_alice,
    )


@endpoint("POST", MEMORIES + "delete/", "memory-bulk-delete", writes())
def memory_bulk_delete(w):
    """Bulk deletion needs the delete permission; denied callers delete nothing."""
    for who in CALLERS:
        w.add(f"bulk {who}", user_id=f"bulk-{who}")

    def removed_only_if_allowed(who, response):
        gone = not Memory.objects.filter(
            user_id=f"bulk-{who}", state=MemoryState.ACTIVE
        ).exists()
        assert gone == (response.status_code == 200), who

    return Case(
        lambda who: w.space_call({"filters": {"user_id": f"bulk-{who}"}}),
        after=removed_only_if_allowed,
    )


@endpoint("GET", MEMORY, "memory-detail", reads())
def memory_retrieve(w):
    """Reading one memory: outsiders 404 (not 403), readers 200."""
    memory = w.target("a fact")

    def is_the_memory(who, response):
        if response.status_code == 200:
            assert response.json()["id"] == str(memory.pk), who

    return Case(w.space_call(memory_id=memory.pk), after=is_the_memory)


@endpoint("PATCH", MEMORY, "memory-detail", writes())
def memory_patch(w):
    """Changing a memory needs change_memory."""
    memory = w.target("changeable")

    def last_writer_won(results):
        memory.refresh_from_db()
        assert memory.metadata == {"by": "writer"}

    return Case(
        lambda who: w.space_call({"metadata": {"by": who}}, memory_id=memory.pk),
        then=last_writer_won,
    )


@endpoint("PUT", MEMORY, "memory-detail", writes())
def memory_put(w):
    """Replacing a memory needs change_memory."""
    memory = w.target("replaceable")

    def replaced(who, response):
        if response.status_code == 200:
            assert response.json()["content"] == f"replaced by {who}"

    return Case(
        lambda who: w.space_call(
            {"content": f"replaced by {who}"}, memory_id=memory.pk
        ),
        after=replaced,
    )


@endpoint("DELETE", MEMORY, "memory-detail", writes(204))
def memory_delete(w):
    """Deleting needs delete_memory; a denied caller leaves the memory alone."""
    targets = {}

    def call(who):
        targets[who] = w.target(f"doomed {who}")
        return w.space_call(memory_id=targets[who].pk)

    def state_matches(who, response):
        state = Memory.objects.get(pk=targets[who].pk).state
        expected = MemoryState.DELETED if response.status_code == 204 else "active"
        assert state == expected, who

    return Case(call, after=state_matches)


@endpoint("GET", MEMORY + "history/", "memory-history", reads())
def memory_history(w):
    """History is a read."""
    memory = w.target("with a past")
    return Case(w.space_call(memory_id=memory.pk))


@endpoint("POST", "api/v1/spaces/<slug:slug>/search/", "search", reads())
def search(w):
    """Search is a read; results never come from spaces the caller can't see."""
    w.add("we drink tea at four")
    return Case(
        w.space_call({"query": "locker code tea"}), hidden=w.hidden_rows(also=["far"])
    )


@endpoint("GET", "api/v1/spaces/<slug:slug>/export/", "export", reads())
def export(w):
    """Export is a read; it never carries other spaces' rows."""
    w.add("exported fact")

    def exported(results):
        text = results["read_only"][1]
        assert "exported fact" in text and MARKS["mine"] in text

    return Case(w.space_call(), hidden=w.hidden_rows(also=["far"]), then=exported)


@endpoint("POST", "api/v1/spaces/<slug:slug>/import/", "import", writes())
def import_lines(w):
    """Import needs add_memory."""
    return Case(
        lambda who: w.space_call(
            json.dumps({"content": f"imported by {who}"}) + "\n",
            content_type=NDJSON,
        ),
    )
