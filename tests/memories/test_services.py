"""Memory services: encryption at rest, dedupe, history, expiry, erasure, keys."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from audit.models import AccessEvent
from memories import services
from memories.encryption import keyring, sealing
from memories.encryption.rotation import space_data_key_rotate, space_reencrypt_batch
from memories.models import Memory, MemoryEvent, MemoryState, SpaceKey
from memories.selectors import memory_get, memory_history, memory_search
from memories.services import erasure, spaces
from memoryhub.crypto import DecryptionError
from memoryhub.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from tests.factories import SYSTEM, make_key, make_member, make_space, make_team

SECRET = "Maya is allergic to peanuts and loves kayaking on Lake Zurich"

pytestmark = pytest.mark.django_db(transaction=False)


def add(space, content=SECRET, actor=SYSTEM, **fields):
    return services.memory_add(
        actor=actor, space=space, data={"content": content, **fields}
    )


def test_raw_database_holds_no_plaintext(space):
    memory, created = add(space, user_id="u1", metadata={"topic": "health"})
    assert created
    services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, content=SECRET + " every summer"
    )
    with connection.cursor() as cursor:
        for table in (
            "memories_memory",
            "memories_memoryevent",
            "memories_accessevent",
            "memories_space",
            "memories_spacekey",
        ):
            cursor.execute(f"SELECT t::text FROM {table} t")  # noqa: S608
            dump = "\n".join(row[0] for row in cursor.fetchall())
            for word in ("allergic", "peanuts", "kayaking", "Zurich", "summer"):
                assert word not in dump, f"{word!r} found in {table}"
    assert memory_get(
        actor=SYSTEM, space=space, memory_id=memory.pk
    ).plaintext.endswith("every summer")


def test_ciphertext_moved_to_another_row_fails_to_decrypt(space):
    first, _ = add(space, "first memory about tea")
    second, _ = add(space, "second memory about coffee")
    Memory.objects.filter(pk=second.pk).update(content=first.content)
    moved = Memory.objects.get(pk=second.pk)
    with pytest.raises(DecryptionError, match="does not belong to this row"):
        sealing.memory_content(moved, space)


def test_identical_content_in_same_scope_is_deduplicated(space):
    first, created = add(space, "Prefers window seats", user_id="u1")
    again, created_again = add(space, "  prefers WINDOW seats ", user_id="u1")
    assert created and not created_again and again.pk == first.pk
    other, created_other = add(space, "Prefers window seats", user_id="u2")
    assert created_other and other.pk != first.pk
    assert Memory.objects.filter(space=space).count() == 2


def test_batch_add_reports_per_item_and_dedupes_within_batch(space):
    results = services.memory_add_many(
        actor=SYSTEM,
        space=space,
        items=[
            {"content": "likes jazz"},
            {"content": "Likes jazz"},
            {"content": ""},
            {"content": "x", "metadata": "nope"},
            {"content": "owns a cat named Miso"},
        ],
    )
    assert [r.status for r in results] == [
        "created",
        "duplicate",
        "error",
        "error",
        "created",
    ]
    assert results[1].memory.pk == results[0].memory.pk
    assert "content must not be empty" in results[2].error
    assert results[3].field == "metadata"
    assert MemoryEvent.objects.filter(event="ADD").count() == 2


def test_a_batch_that_loses_an_insert_race_maps_the_loser_to_the_winner(
    space, monkeypatch
):
    """An identical memory committed by another writer after the duplicate
    check: the batch's COPY fails on the one-active-copy index, nothing of
    it stays, and it is written again item by item, that item a duplicate
    of the winner's row."""
    from memories.services import memories as module

    winner, _ = add(space, "likes jazz", user_id="u1")
    checks = []
    real = module._live_duplicates

    def unseen_once(*args, **kwargs):
        checks.append(1)
        return {} if len(checks) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(module, "_live_duplicates", unseen_once)
    results = services.memory_add_many(
        actor=SYSTEM,
        space=space,
        items=[
            {"content": "owns a cat named Miso", "user_id": "u1"},
            {"content": "likes jazz", "user_id": "u1"},
        ],
    )
    assert [r.status for r in results] == ["created", "duplicate"]
    assert results[1].memory.pk == winner.pk
    assert len(checks) == 3  # the batch's, then one per item
    assert Memory.objects.filter(space=space).count() == 2
    assert MemoryEvent.objects.filter(event="ADD").count() == 2


def test_a_batch_stores_every_embedding_element_exactly(space):
    """Batch rows go by COPY with 9-digit vector text: every float32 comes
    back bit for bit, tiny, huge and negative ones included."""
    import numpy as np

    rng = np.random.default_rng(7)
    vectors = [rng.standard_normal(384).astype(np.float32) for _ in range(3)]
    vectors[0][:4] = [1e-38, -3.4e38, 1.17549435e-38, 0.1]
    vectors[1] /= np.linalg.norm(vectors[1])
    results = services.memory_add_many(
        actor=SYSTEM,
        space=space,
        items=[{"content": f"fact number {i}"} for i in range(3)],
        embeddings=vectors,
    )
    for result, vector in zip(results, vectors, strict=True):
        stored = Memory.objects.get(pk=result.memory.pk).embedding
        assert np.asarray(stored, dtype=np.float32).tobytes() == vector.tobytes()


def test_a_large_batch_embeds_only_new_rows_in_chunks_and_keeps_order(space):
    """Chunks embedded ahead of the inserts land on the right rows, in order."""
    import numpy as np

    from memories.embedders import get_embedder, reset_embedder

    add(space, "already here 7")
    real = get_embedder()
    embedded: list[str] = []

    class Counting:
        dimensions, name = real.dimensions, real.name

        def embed(self, texts):
            embedded.extend(texts)
            return real.embed(texts)

    people = "Maya Leo Ines Tobias Ravi Anouk Kofi Freya Mateo Yuki".split()
    hobbies = (
        "bouldering", "sourdough baking", "film photography", "trail running",
        "woodworking", "birdwatching", "salsa dancing", "chess", "pottery",
    )  # fmt: skip
    texts = [f"{p} has taken up {h}" for p in people for h in hobbies]
    texts[40] = texts[3]  # a repeat within the batch
    texts[77] = "already here 7"  # a repeat of a stored memory
    reset_embedder(Counting())
    try:
        results = services.memory_add_many(
            actor=SYSTEM, space=space, items=[{"content": t} for t in texts]
        )
    finally:
        reset_embedder(real)
    statuses = [r.status for r in results]
    assert statuses.count("created") == 88
    assert statuses[40] == statuses[77] == "duplicate"
    assert results[40].memory.pk == results[3].memory.pk
    assert sorted(embedded) == sorted(set(texts) - {"already here 7"})
    assert len(embedded) == 88  # duplicates cost no embedding
    singles = real.embed(texts)
    for i in (0, 31, 32, 33, 63, 64, 89):  # around the chunk edges
        stored = Memory.objects.get(pk=results[i].memory.pk)
        sealing.memories_decrypt([stored], space)
        assert stored.plaintext == texts[i]
        # Its own text's embedding is the nearest (int8 activations are
        # quantized per call, so batch-mates shift vectors by ~0.01).
        cosines = singles @ np.asarray(stored.embedding, dtype=np.float32)
        assert int(np.argmax(cosines)) == i and cosines[i] > 0.98


def test_an_embedder_failure_mid_batch_writes_nothing(space):
    """A failing chunk rolls the whole batch back: no half-added batch."""
    from memories.embedders import EmbedderError, get_embedder, reset_embedder

    real = get_embedder()
    calls = []

    class FailsSecond:
        dimensions, name = real.dimensions, real.name

        def embed(self, texts):
            calls.append(len(texts))
            if len(calls) == 2:
                raise EmbedderError("embedding endpoint unavailable")
            return real.embed(texts)

    reset_embedder(FailsSecond())
    try:
        with pytest.raises(EmbedderError):
            services.memory_add_many(
                actor=SYSTEM,
                space=space,
                items=[{"content": f"note {i}"} for i in range(70)],
            )
    finally:
        reset_embedder(real)
    assert not Memory.objects.filter(space=space).exists()
    assert not MemoryEvent.objects.exists()


def test_history_records_add_update_delete_with_contents(space, owner_actor):
    memory, _ = add(space, "works as a nurse", actor=owner_actor)
    services.memory_update(
        actor=owner_actor, space=space, memory_id=memory.pk, content="works as a doctor"
    )
    erasure.memory_delete(actor=owner_actor, space=space, memory_id=memory.pk)
    history = memory_history(actor=SYSTEM, space=space, memory_id=memory.pk)
    assert [(h["event"], h["old_content"], h["new_content"]) for h in history] == [
        ("ADD", None, "works as a nurse"),
        ("UPDATE", "works as a nurse", "works as a doctor"),
        ("DELETE", "works as a doctor", None),
    ]
    assert history[0]["actor"] == owner_actor.label


def test_immutable_memory_refuses_updates(space):
    memory, _ = add(space, "signed contract on May 2", immutable=True)
    with pytest.raises(Conflict, match="immutable"):
        services.memory_update(
            actor=SYSTEM, space=space, memory_id=memory.pk, content="changed"
        )


def test_version_check_detects_lost_updates(space):
    memory, _ = add(space, "v1 text")
    services.memory_update(
        actor=SYSTEM,
        space=space,
        memory_id=memory.pk,
        metadata={"a": 1},
        expected_version=1,
    )
    with pytest.raises(Conflict, match="version 2"):
        services.memory_update(
            actor=SYSTEM,
            space=space,
            memory_id=memory.pk,
            metadata={"a": 2},
            expected_version=1,
        )


def test_expired_memories_are_hidden_from_reads(space):
    memory, _ = add(
        space,
        "temporary door code 4321",
        expires_at=(timezone.now() + timedelta(hours=1)).isoformat(),
    )
    Memory.objects.filter(pk=memory.pk).update(expires_at=timezone.now() - timedelta(1))
    with pytest.raises(NotFound):
        memory_get(actor=SYSTEM, space=space, memory_id=memory.pk)
    assert memory_search(actor=SYSTEM, space=space, query="door code") == []
    # Adding the same content again creates a fresh memory.
    fresh, created = add(space, "temporary door code 4321")
    assert created and fresh.pk != memory.pk


def test_an_expired_duplicate_is_archived_like_any_state_change(space):
    """Re-adding an expired memory's content archives the old row as
    ``memory_update`` would: new version and ``updated_at`` (so change feeds
    see it), an UPDATE history event and an audit row, by the system."""
    old, _ = add(
        space,
        "temporary door code 4321",
        expires_at=(timezone.now() + timedelta(hours=1)).isoformat(),
    )
    Memory.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(1))
    before = Memory.objects.get(pk=old.pk)
    fresh, created = add(space, "temporary door code 4321")
    assert created and fresh.pk != old.pk
    archived = Memory.objects.get(pk=old.pk)
    assert archived.state == MemoryState.ARCHIVED
    assert archived.version == before.version + 1
    assert before.updated_at < archived.updated_at <= fresh.updated_at
    event = MemoryEvent.objects.filter(memory_id=old.pk).order_by("at").last()
    assert (event.event, event.actor, event.surface) == ("UPDATE", "system", "api")
    assert event.old_content is None and event.new_content is None
    audit = AccessEvent.objects.get(action="memory.update", memory_ids=[old.pk])
    assert audit.actor == "system"
    assert audit.detail == {"fields": ["state", "version"], "expired": True}


def test_expiry_in_the_past_and_bad_dates_are_rejected(space):
    with pytest.raises(InvalidInput, match="future"):
        add(space, "x", expires_at="2001-01-01T00:00:00Z")
    with pytest.raises(InvalidInput, match="ISO 8601"):
        add(space, "x", expires_at="tomorrow")


def test_retention_sets_default_expiry(team):
    space = make_space(team, "short", retention_days=7)
    memory, _ = add(space, "ephemeral")
    assert memory.expires_at - timezone.now() > timedelta(days=6)


def test_oversize_and_bad_values_are_refused(space, settings):
    settings.MEMORY_MAX_CONTENT_CHARS = 10
    with pytest.raises(TooLarge, match="limit is 10"):
        add(space, "x" * 11)
    with pytest.raises(InvalidInput, match="categories"):
        add(space, "ok", categories="food")


def test_hard_delete_and_user_erasure_remove_rows_and_history(space):
    a, _ = add(space, "alpha", user_id="erase-me")
    add(space, "beta", user_id="erase-me")
    keep, _ = add(space, "gamma", user_id="keep")
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=a.pk, hard=True)
    assert not Memory.objects.filter(pk=a.pk).exists()
    assert not MemoryEvent.objects.filter(memory_id=a.pk).exists()
    assert erasure.memory_erase_user(actor=SYSTEM, space=space, user_id="erase-me") == 1
    assert list(Memory.objects.filter(space=space).values_list("pk", flat=True)) == [
        keep.pk
    ]


def test_shredded_space_is_unreadable_and_purged(
    team, django_capture_on_commit_callbacks
):
    space = make_space(team, "doomed")
    memory, _ = add(space, "shred me")
    blob = bytes(Memory.objects.get(pk=memory.pk).content)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        spaces.space_shred(actor=SYSTEM, space=space)
    assert not SpaceKey.objects.filter(space=space).exists()
    keyring.forget_space(space.pk)
    space.refresh_from_db()
    # Keys are gone: the ciphertext still in the table can no longer be opened.
    stale = Memory.objects.get(pk=memory.pk)
    assert bytes(stale.content) == blob
    with pytest.raises(Conflict, match="shredded"):
        sealing.memory_content(stale, space)
    for callback in callbacks:
        callback()  # eager Celery: purge runs now
    assert not Memory.objects.filter(pk=memory.pk).exists()


def test_data_key_rotation_keeps_everything_readable(space):
    memories = [add(space, f"memory number {i}")[0] for i in range(5)]
    services.memory_update(
        actor=SYSTEM,
        space=space,
        memory_id=memories[0].pk,
        content="memory number zero",
    )
    new_key = space_data_key_rotate(actor=SYSTEM, space=space)
    assert new_key.version == 2
    # Reads work mid-rotation (rows still on v1).
    assert memory_get(actor=SYSTEM, space=space, memory_id=memories[1].pk).plaintext
    while space_reencrypt_batch(space_pk=space.pk, batch=2):
        pass
    assert set(
        Memory.objects.filter(space=space).values_list("key_version", flat=True)
    ) == {2}
    assert set(MemoryEvent.objects.values_list("key_version", flat=True)) == {2}
    assert list(
        SpaceKey.objects.filter(space=space).values_list("version", flat=True)
    ) == [2]
    keyring.forget_space(space.pk)
    texts = {
        memory_get(actor=SYSTEM, space=space, memory_id=m.pk).plaintext
        for m in memories
    }
    assert "memory number zero" in texts and len(texts) == 5
    history = memory_history(actor=SYSTEM, space=space, memory_id=memories[0].pk)
    assert history[1]["old_content"] == "memory number 0"


def test_master_key_rotation_rewraps_only_keys(space, settings):
    import base64

    from memoryhub.crypto.keys import master_keyring

    memory, _ = add(space, "kek rotation survivor")
    before = bytes(Memory.objects.get(pk=memory.pk).content)
    new_entry = "test2:" + base64.urlsafe_b64encode(b"\x02" * 32).decode()
    settings.MASTER_KEYS = f"{new_entry},{settings.MASTER_KEYS}"
    master_keyring.cache_clear()
    keyring.forget_space(space.pk)
    try:
        assert keyring.master_key_rewrap() == 2  # one data key + one index key
        assert keyring.master_key_rewrap() == 0
        assert set(SpaceKey.objects.values_list("master_key_id", flat=True)) == {
            "test2"
        }
        # Only the new key is needed from now on.
        settings.MASTER_KEYS = new_entry
        master_keyring.cache_clear()
        keyring.forget_space(space.pk)
        space.refresh_from_db()
        assert bytes(Memory.objects.get(pk=memory.pk).content) == before
        got = memory_get(actor=SYSTEM, space=space, memory_id=memory.pk)
        assert got.plaintext == "kek rotation survivor"
    finally:
        master_keyring.cache_clear()
        keyring.forget_space(space.pk)


def test_audit_is_append_only(space):
    add(space, "audited")
    event = AccessEvent.objects.latest("id")
    assert event.action == "memory.add" and event.surface == "api"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).delete()


def test_reads_and_searches_are_audited_without_content(space):
    memory, _ = add(space, "audit trail secret word")
    memory_get(actor=SYSTEM, space=space, memory_id=memory.pk)
    memory_search(actor=SYSTEM, space=space, query="secret word")
    actions = list(AccessEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["memory.read", "memory.search"]
    dump = str(list(AccessEvent.objects.values()))
    assert "secret" not in dump


def test_roles_keys_and_shares_decide_access(team, space):
    viewer = make_member(team, "viewer")
    from accounts.actors import actor_for_user

    with pytest.raises(Forbidden):
        add(space, "viewer cannot write", actor=actor_for_user(viewer))
    _, _, ro_actor = make_key(team, read_only=True)
    with pytest.raises(Forbidden):
        add(space, "read-only key cannot write", actor=ro_actor)
    other = make_team("rival")
    _, _, rival_key = make_key(other)
    with pytest.raises(NotFound):
        add(space, "other team cannot even see it", actor=rival_key)
    elsewhere = make_space(team, "elsewhere")
    _, _, scoped = make_key(team, spaces=[elsewhere])
    with pytest.raises(NotFound):
        add(space, "scoped key sees only its spaces", actor=scoped)
    assert add(elsewhere, "scoped key writes here", actor=scoped)[1]


def test_search_ranks_the_relevant_memory_first(space):
    for text in (
        "Has a golden retriever called Biscuit",
        "Allergic to shellfish, especially shrimp",
        "Commutes by bike to the office in Utrecht",
        "Plays the cello in a community orchestra",
    ):
        add(space, text, user_id="u1")
    for mode in ("vector", "hybrid"):
        results = memory_search(
            actor=SYSTEM,
            space=space,
            query="what seafood can't they eat?",
            mode=mode,
            top_k=2,
        )
        assert results[0].plaintext.startswith("Allergic to shellfish")
        assert 0 < results[0].score <= 1.0
    keyword = memory_search(actor=SYSTEM, space=space, query="Biscuit", mode="keyword")
    assert [m.plaintext for m in keyword] == ["Has a golden retriever called Biscuit"]
    filtered = memory_search(
        actor=SYSTEM, space=space, query="dog", filters={"user_id": "someone-else"}
    )
    assert filtered == []


def test_search_validates_its_arguments(space):
    for kwargs, message in (
        ({"query": ""}, "query"),
        ({"query": "x", "top_k": 0}, "top_k"),
        ({"query": "x", "mode": "magic"}, "mode"),
        ({"query": "x", "threshold": "high"}, "threshold"),
    ):
        with pytest.raises(InvalidInput, match=message):
            memory_search(actor=SYSTEM, space=space, **kwargs)


def test_state_archive_is_hidden_from_search_but_readable(space):
    memory, _ = add(space, "archived fact about Lisbon")
    services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, state="archived"
    )
    assert (
        memory_get(actor=SYSTEM, space=space, memory_id=memory.pk).state
        == MemoryState.ARCHIVED
    )
    assert memory_search(actor=SYSTEM, space=space, query="Lisbon") == []


def test_expiry_sweep_erases_after_the_grace_period(space, settings):
    settings.EXPIRED_RETENTION_DAYS = 2
    old, _ = add(space, "long expired")
    recent, _ = add(space, "recently expired")
    live, _ = add(space, "still valid")
    now = timezone.now()
    Memory.objects.filter(pk=old.pk).update(expires_at=now - timedelta(days=3))
    Memory.objects.filter(pk=recent.pk).update(expires_at=now - timedelta(days=1))
    assert erasure.memories_expire_sweep() == 1
    remaining = set(Memory.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, live.pk}
    assert AccessEvent.objects.filter(action="memory.erase", surface="task").exists()


@pytest.mark.django_db(transaction=True)
def test_rotation_waits_for_writers_holding_the_active_key():
    """A writer's key version stays valid until it commits: rotation waits."""
    import threading

    from django.db import connections

    space = make_space(make_team("rot"), "default")
    order: list[str] = []
    writer_has_key = threading.Event()
    release_writer = threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                assert keyring.active_version(space) == 1
                writer_has_key.set()
                release_writer.wait(10)
                order.append("writer committed")
        finally:
            connections.close_all()

    def rotator() -> None:
        try:
            keyring.data_key_rotate(space=space)
            order.append("rotated")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer), threading.Thread(target=rotator)]
    threads[0].start()
    assert writer_has_key.wait(10)
    threads[1].start()
    threads[1].join(1.0)
    assert order == []  # the rotation is blocked by the writer's share lock
    release_writer.set()
    for thread in threads:
        thread.join(10)
    assert order == ["writer committed", "rotated"]
    assert keyring.active_version(space) == 2


def test_a_memory_row_keeps_its_embedding_inline(space):
    """Rows stay in their heap page: an embedding is read without TOAST lookups."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltoastrelid::regclass::text FROM pg_class "
            "WHERE oid = 'memories_memory'::regclass"
        )
        toast = cursor.fetchone()[0]

        def chunks() -> int:
            cursor.execute(f"SELECT count(*) FROM {toast}")  # noqa: S608 (catalog name)
            return cursor.fetchone()[0]

        before = chunks()
        # ~600 characters: with its 1.5 KB embedding the row passes the 2 KB
        # point where PostgreSQL would otherwise move the embedding out.
        add(space, " ".join(f"fact {n} about the garden shed" for n in range(20)))
        assert chunks() == before
        # Content too long for a page still goes to TOAST.
        add(space, "long " * 3000)
        assert chunks() > before
