"""The entities page and erasure of everything of one id."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from audit.models import AccessEvent
from memories.models import Memory, MemoryEvent
from tests.web.conftest import XSS, add, signed_in

pytestmark = pytest.mark.django_db


def url(space, name="web:space_entities"):
    return reverse(name, kwargs={"team_slug": space.team.slug, "slug": space.slug})


@pytest.fixture
def planted(space):
    return [
        add(space, "Ada likes tea", 1, user_id="ada", agent_id="helper"),
        add(space, "Ada rides a bike", 2, user_id="ada"),
        add(space, "Bob likes coffee", 3, user_id="bob", run_id="run-1"),
    ]


def test_entities_lists_every_id_with_counts_and_audits_as_ui(people, space, planted):
    page = signed_in(people["viewer"]).get(url(space))
    assert page.status_code == 200
    body = page.content.decode()
    for name in ("ada", "bob", "helper", "run-1"):
        assert f"<code>{name}</code>" in body
    assert "?user_id=ada" in body
    assert "Erase" not in body  # a viewer may not delete
    assert AccessEvent.objects.filter(action="memory.entities", surface="ui").exists()


def test_an_empty_space_says_what_to_do(people, space):
    body = signed_in(people["viewer"]).get(url(space)).content
    assert b"No memory in this space names" in body


def test_erasing_a_user_id_needs_the_id_typed_and_removes_history(
    people, space, planted
):
    client = signed_in(people["member"])
    assert b"Erase" in client.get(url(space)).content
    confirm = client.get(url(space, "web:space_erase"), {"kind": "user", "name": "ada"})
    assert confirm.status_code == 200
    assert b"Type the id to confirm" in confirm.content
    wrong = client.post(
        url(space, "web:space_erase"), {"kind": "user", "name": "ada", "confirm": "ad"}
    )
    assert wrong.status_code == 400
    assert b"nothing was erased" in wrong.content
    assert Memory.objects.filter(user_id="ada").count() == 2
    done = client.post(
        url(space, "web:space_erase"), {"kind": "user", "name": "ada", "confirm": "ada"}
    )
    assert done.status_code == 302
    assert not Memory.objects.filter(user_id="ada").exists()
    assert not MemoryEvent.objects.filter(memory_id=planted[0].pk).exists()
    assert Memory.objects.filter(user_id="bob").count() == 1
    page = client.get(done["Location"]).content.decode()
    assert "Erased 2 memories of user id ada" in page


def test_erasing_a_run_id(people, space, planted):
    signed_in(people["owner"]).post(
        url(space, "web:space_erase"),
        {"kind": "run", "name": "run-1", "confirm": "run-1"},
    )
    assert not Memory.objects.filter(run_id="run-1").exists()
    assert Memory.objects.count() == 2


def test_a_viewer_cannot_erase_even_by_a_crafted_post(people, space, planted):
    client = signed_in(people["viewer"])
    data = {"kind": "user", "name": "ada", "confirm": "ada"}
    assert client.get(url(space, "web:space_erase"), data).status_code == 403
    assert client.post(url(space, "web:space_erase"), data).status_code == 403
    assert Memory.objects.count() == 3


def test_another_team_gets_404_and_anonymous_signs_in(people, space, planted):
    data = {"kind": "user", "name": "ada", "confirm": "ada"}
    client = signed_in(people["outsider"])
    assert client.get(url(space)).status_code == 404
    assert client.post(url(space, "web:space_erase"), data).status_code == 404
    assert Client().post(url(space, "web:space_erase"), data).status_code == 302
    assert Memory.objects.count() == 3


def test_csrf_is_enforced_on_erase(people, space, planted):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    data = {"kind": "user", "name": "ada", "confirm": "ada"}
    assert client.post(url(space, "web:space_erase"), data).status_code == 403
    assert Memory.objects.count() == 3


def test_a_bad_erase_link_goes_back_to_the_list(people, space):
    client = signed_in(people["owner"])
    response = client.get(url(space, "web:space_erase"), {"kind": "planet"})
    assert response.status_code == 302


@pytest.mark.parametrize("payload", XSS)
def test_ids_are_escaped(people, space, payload):
    add(space, "x", 9, user_id=payload)
    client = signed_in(people["owner"])
    body = client.get(url(space)).content.decode()
    assert payload not in body and escape(payload) in body
    confirm = client.get(
        url(space, "web:space_erase"), {"kind": "user", "name": payload}
    )
    assert payload not in confirm.content.decode()


def test_queries_do_not_grow_with_entities(
    people, space, planted, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(people["viewer"])
    client.get(url(space))
    with CaptureQueriesContext(connection) as few:
        client.get(url(space))
    for n in range(20):
        add(space, f"more {n}", 100 + n, user_id=f"u{n}", agent_id=f"a{n}")
    with django_assert_max_num_queries(len(few)):
        assert client.get(url(space)).status_code == 200
