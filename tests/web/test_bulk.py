"""Bulk archive / delete / erase from the browser, sorting and the
changed-date filter."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from memories import services
from memories.models import Memory, MemoryEvent, MemoryState
from tests.factories import SYSTEM
from tests.web.conftest import add, signed_in, space_url

pytestmark = pytest.mark.django_db


def bulk_url(space):
    return reverse(
        "web:space_bulk", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )


@pytest.fixture
def three(space):
    return [add(space, f"fact {n}", n, user_id="ada") for n in range(3)]


def _ids(memories):
    return [str(m.pk) for m in memories]


def test_the_browser_offers_selection_only_to_those_who_may_act(people, space, three):
    member = signed_in(people["member"]).get(space_url(space)).content.decode()
    assert 'name="ids"' in member and "Erase selected" in member
    assert "Select all on this page" in member and "web/bulk.js" in member
    viewer = signed_in(people["viewer"]).get(space_url(space)).content.decode()
    assert 'name="ids"' not in viewer and "selected…" not in viewer


def test_archive_asks_then_archives_each(people, space, three):
    client = signed_in(people["member"])
    data = {"action": "archive", "ids": _ids(three[:2])}
    confirm = client.post(bulk_url(space), data)
    assert confirm.status_code == 200 and b"Archive 2 memories?" in confirm.content
    assert Memory.objects.filter(state=MemoryState.ARCHIVED).count() == 0
    done = client.post(bulk_url(space), {**data, "confirm": "yes"})
    assert done.status_code == 302
    assert Memory.objects.filter(state=MemoryState.ARCHIVED).count() == 2
    assert "2 memories archived." in client.get(done["Location"]).content.decode()


def test_delete_reports_each_failure_and_does_the_rest(people, space, three):
    services.memory_delete(actor=SYSTEM, space=space, memory_id=three[0].pk, hard=True)
    client = signed_in(people["member"])
    done = client.post(
        bulk_url(space), {"action": "delete", "ids": _ids(three), "confirm": "yes"}
    )
    page = client.get(done["Location"]).content.decode()
    assert "2 memories deleted." in page and str(three[0].pk)[:8] in page
    assert Memory.objects.filter(state=MemoryState.DELETED).count() == 2


def test_erase_needs_the_word_erase(people, space, three):
    client = signed_in(people["member"])
    data = {"action": "erase", "ids": _ids(three)}
    page = client.post(bulk_url(space), data).content.decode()
    assert "Type <strong>erase</strong> to confirm" in page
    client.post(bulk_url(space), {**data, "confirm": "yes"})
    assert Memory.objects.count() == 3
    client.post(bulk_url(space), {**data, "confirm": "erase"})
    assert not Memory.objects.exists()
    assert not MemoryEvent.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "archive"},
        {"action": "archive", "ids": ["not-a-uuid"]},
        {"action": "explode", "ids": ["00000000-0000-0000-0000-000000000001"]},
    ],
)
def test_bad_selections_go_back_with_a_message(people, space, three, data):
    client = signed_in(people["member"])
    response = client.post(bulk_url(space), {**data, "confirm": "yes"})
    assert response.status_code == 302
    assert Memory.objects.filter(state=MemoryState.ACTIVE).count() == 3


def test_too_many_at_once_is_refused(people, space, three):
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(101)]
    client = signed_in(people["member"])
    response = client.post(bulk_url(space), {"action": "delete", "ids": ids})
    assert "at most 100" in client.get(response["Location"]).content.decode()


def test_viewer_other_team_anonymous_and_csrf(people, space, three):
    data = {"action": "delete", "ids": _ids(three), "confirm": "yes"}
    assert signed_in(people["viewer"]).post(bulk_url(space), data).status_code == 403
    assert signed_in(people["outsider"]).post(bulk_url(space), data).status_code == 404
    assert Client().post(bulk_url(space), data).status_code == 302
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    assert client.post(bulk_url(space), data).status_code == 403
    assert Memory.objects.filter(state=MemoryState.ACTIVE).count() == 3


def test_ids_of_another_space_are_not_touched(people, space, three):
    from tests.factories import make_space

    other = make_space(space.team, "second")
    theirs = add(other, "elsewhere", 9)
    client = signed_in(people["member"])
    client.post(
        bulk_url(space),
        {"action": "erase", "ids": [str(theirs.pk)], "confirm": "erase"},
    )
    assert Memory.objects.filter(pk=theirs.pk).exists()


def test_sorting_pages_through_every_memory_once(people, space):
    memories = [add(space, f"m{n}", n) for n in range(30)]
    same = timezone.now() - timedelta(days=1)
    Memory.objects.filter(pk__in=[m.pk for m in memories[:10]]).update(created_at=same)
    client = signed_in(people["viewer"])
    for sort in ("newest", "oldest", "updated"):
        seen, params = [], {"sort": sort, "state": "active"}
        for _ in range(5):
            response = client.get(space_url(space), params)
            seen += [str(m.pk) for m in response.context["results"]]
            cursor = response.context["next_cursor"]
            if cursor is None:
                break
            params = {**params, "cursor": cursor}
        assert sorted(seen) == sorted(str(m.pk) for m in memories), sort
    oldest = client.get(space_url(space), {"sort": "oldest"}).context["results"]
    assert oldest[0].created_at == same


def test_the_changed_date_filter(people, space):
    old = add(space, "old one", 1)
    add(space, "new one", 2)
    Memory.objects.filter(pk=old.pk).update(
        updated_at=timezone.now() - timedelta(days=10)
    )
    day = (timezone.now() - timedelta(days=2)).date().isoformat()
    client = signed_in(people["viewer"])
    body = client.get(space_url(space), {"updated_to": day}).content.decode()
    assert "old one" in body and "new one" not in body
    body = client.get(space_url(space), {"updated_from": day}).content.decode()
    assert "new one" in body and "old one" not in body
