"""Adding, editing, archiving and deleting memories from the team app: the
services do it (history and audit say ``ui``), and a version conflict is shown
with the person's text kept."""

import pytest

from memories import services
from memories.models import Memory, MemoryEvent, MemoryState
from tests.factories import SYSTEM
from tests.web.conftest import add, memory_url, signed_in, space_url

pytestmark = pytest.mark.django_db


def test_a_member_adds_a_memory_and_lands_on_it(people, space):
    client = signed_in(people["member"])
    response = client.post(
        space_url(space),
        {
            "content": "Ada moved to Lisbon",
            "user_id": "ada",
            "categories": "travel, home",
            "metadata": '{"source": "chat"}',
        },
    )
    memory = Memory.objects.get(space=space)
    assert response.status_code == 302
    assert response["Location"] == memory_url(space, memory.pk)
    assert (memory.user_id, memory.categories, memory.metadata) == (
        "ada",
        ["travel", "home"],
        {"source": "chat"},
    )
    assert MemoryEvent.objects.get(memory=memory).surface == "ui"
    page = client.get(response["Location"])
    assert b"Memory added." in page.content and b"Ada moved to Lisbon" in page.content


def test_adding_the_same_memory_twice_says_so(people, space, memory):
    client = signed_in(people["member"])
    response = client.post(
        space_url(space),
        {"content": "Ada likes green tea", "user_id": "ada"},
        follow=True,
    )
    assert b"already exists" in response.content
    assert Memory.objects.filter(space=space).count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"content": "  "}, b"content must not be empty"),
        ({"content": "x", "metadata": "[1, 2]"}, b"metadata must be a JSON object"),
        ({"content": "x", "metadata": "{not json"}, b"Enter a valid JSON"),
        ({"content": "x", "expires_at": "2001-01-01T00:00"}, b"must be in the future"),
    ],
)
def test_a_bad_add_shows_the_error_and_keeps_the_form(people, space, data, message):
    response = signed_in(people["member"]).post(space_url(space), data)
    assert response.status_code == 400
    assert message in response.content
    assert Memory.objects.filter(space=space).count() == 0


def test_a_member_edits_a_memory(people, space, memory):
    client = signed_in(people["member"])
    response = client.post(
        memory_url(space, memory.pk),
        {
            "content": "Ada likes jasmine tea",
            "categories": "drinks",
            "metadata": '{"mood": "calm"}',
            "expires_at": "",
            "version": 1,
        },
    )
    assert response.status_code == 302
    memory.refresh_from_db()
    assert memory.version == 2 and memory.metadata == {"mood": "calm"}
    page = client.get(memory_url(space, memory.pk)).content.decode()
    assert "Ada likes jasmine tea" in page and "Memory saved." in page
    update = MemoryEvent.objects.get(memory=memory, event="UPDATE")
    assert update.surface == "ui"


def test_an_unchanged_save_changes_nothing(people, space, memory):
    client = signed_in(people["member"])
    client.post(
        memory_url(space, memory.pk),
        {
            "content": "Ada likes green tea",
            "categories": "drinks",
            "metadata": "{}",
            "version": 1,
        },
    )
    memory.refresh_from_db()
    assert memory.version == 1


def test_a_version_conflict_is_shown_and_the_edit_is_not_lost(people, space, memory):
    # Someone else changes the memory after the page was loaded at version 1.
    services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, metadata={"by": "agent"}
    )
    client = signed_in(people["member"])
    mine = {"content": "My careful rewrite", "categories": "drinks", "version": 1}
    response = client.post(memory_url(space, memory.pk), mine)
    body = response.content.decode()
    assert response.status_code == 409
    assert "changed while you were editing" in body
    assert "My careful rewrite" in body  # the person's text, kept in the form
    assert 'name="version" value="2"' in body
    memory.refresh_from_db()
    assert memory.version == 2 and memory.metadata == {"by": "agent"}
    # Saving again, knowingly, replaces the current version.
    again = client.post(memory_url(space, memory.pk), {**mine, "version": 2})
    assert again.status_code == 302
    memory.refresh_from_db()
    assert memory.version == 3


def test_an_immutable_memory_has_no_edit_form(people, space):
    frozen = add(space, "Carved in stone", 5, immutable=True)
    client = signed_in(people["owner"])
    page = client.get(memory_url(space, frozen.pk)).content.decode()
    assert 'name="content"' not in page and "it can never be edited" in page
    response = client.post(
        memory_url(space, frozen.pk), {"content": "changed", "version": 1}
    )
    assert response.status_code == 409
    assert Memory.objects.get(pk=frozen.pk).version == 1


def test_delete_asks_to_confirm_then_deletes(people, space, memory):
    client = signed_in(people["member"])
    confirm = client.get(memory_url(space, memory.pk, "delete"))
    assert confirm.status_code == 200
    assert b"Delete this memory?" in confirm.content
    assert Memory.objects.get(pk=memory.pk).state == MemoryState.ACTIVE
    response = client.post(memory_url(space, memory.pk, "delete"))
    assert response.status_code == 302 and response["Location"] == space_url(space)
    assert Memory.objects.get(pk=memory.pk).state == MemoryState.DELETED
    assert MemoryEvent.objects.get(memory=memory, event="DELETE").surface == "ui"
    # Deleted memories stay readable (with their history), without controls.
    page = client.get(memory_url(space, memory.pk)).content
    assert b"deleted" in page and b"Delete\xe2\x80\xa6" not in page


def test_archive_and_restore(people, space, memory):
    client = signed_in(people["member"])
    assert (
        b"Archive this memory?"
        in client.get(memory_url(space, memory.pk, "archive")).content
    )
    client.post(memory_url(space, memory.pk, "archive"), {"version": 1})
    memory.refresh_from_db()
    assert memory.state == MemoryState.ARCHIVED
    page = client.get(memory_url(space, memory.pk)).content
    assert b"Restore\xe2\x80\xa6" in page
    client.post(memory_url(space, memory.pk, "restore"), {"version": 2})
    memory.refresh_from_db()
    assert memory.state == MemoryState.ACTIVE and memory.version == 3


def test_archiving_a_memory_that_changed_meanwhile_says_so(people, space, memory):
    services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, metadata={"x": 1}
    )
    client = signed_in(people["member"])
    response = client.post(
        memory_url(space, memory.pk, "archive"), {"version": 1}, follow=True
    )
    assert b"reload it and retry" in response.content
    assert Memory.objects.get(pk=memory.pk).state == MemoryState.ACTIVE


def test_erase_needs_the_start_of_the_id_and_removes_history(people, space, memory):
    from memories.models import MemoryEvent

    client = signed_in(people["member"])
    confirm = client.get(memory_url(space, memory.pk, "erase"))
    assert confirm.status_code == 200 and b"the start of the id" in confirm.content
    wrong = client.post(memory_url(space, memory.pk, "erase"), {"confirm": "nope"})
    assert wrong.status_code == 302 and Memory.objects.filter(pk=memory.pk).exists()
    done = client.post(
        memory_url(space, memory.pk, "erase"), {"confirm": str(memory.pk)[:8]}
    )
    assert done["Location"] == space_url(space)
    assert not Memory.objects.filter(pk=memory.pk).exists()
    assert not MemoryEvent.objects.filter(memory_id=memory.pk).exists()


def test_a_viewer_cannot_erase(people, space, memory):
    client = signed_in(people["viewer"])
    assert b"Erase" not in client.get(memory_url(space, memory.pk)).content
    response = client.post(
        memory_url(space, memory.pk, "erase"), {"confirm": str(memory.pk)[:8]}
    )
    assert response.status_code == 403
    assert Memory.objects.filter(pk=memory.pk).exists()
