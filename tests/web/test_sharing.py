"""The sharing page: who holds what, grant and revoke, for managers only."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from guardian.shortcuts import assign_perm

from audit.models import AccessEvent
from memories import services
from tests.factories import SYSTEM, make_team
from tests.web.conftest import XSS, signed_in, space_url

pytestmark = pytest.mark.django_db


def sharing_url(space, revoke=False):
    name = "web:space_revoke" if revoke else "web:space_sharing"
    return reverse(name, kwargs={"team_slug": space.team.slug, "slug": space.slug})


def test_anonymous_is_sent_to_sign_in(space):
    for url in (sharing_url(space), sharing_url(space, revoke=True)):
        for method in (Client().get, Client().post):
            assert method(url)["Location"].startswith("/signin/?next=")


def test_an_owner_grants_read_to_a_person_who_then_sees_the_space(people, space):
    client = signed_in(people["owner"])
    page = client.get(sharing_url(space))
    assert page.status_code == 200
    assert b"Nobody outside acme has access yet" in page.content
    outsider = people["outsider"]
    response = client.post(
        sharing_url(space), {"kind": "user", "name": outsider.username, "level": "read"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert outsider.username.encode() in page.content
    assert b"view_space" in page.content
    assert AccessEvent.objects.filter(action="space.share", surface="ui").exists()
    home = signed_in(outsider).get("/").content.decode()
    assert "Shared with you" in home and space_url(space) in home
    assert signed_in(outsider).get(space_url(space)).status_code == 200


def test_granting_to_a_team_and_revoking_it(people, space):
    make_team("partners")
    client = signed_in(people["owner"])
    client.post(
        sharing_url(space), {"kind": "team", "name": "partners", "level": "write"}
    )
    grants = services.space_grants(actor=SYSTEM, space=space)
    assert grants == [
        {
            "team": "partners",
            "permissions": [
                "view_space", "add_memory", "change_memory", "delete_memory",
            ],
        }
    ]  # fmt: skip
    confirm = client.get(
        sharing_url(space, revoke=True), {"kind": "team", "name": "partners"}
    )
    assert confirm.status_code == 200 and b"Revoke access?" in confirm.content
    assert services.space_grants(actor=SYSTEM, space=space)  # not yet
    response = client.post(
        sharing_url(space, revoke=True), {"kind": "team", "name": "partners"}
    )
    assert response.status_code == 302
    assert services.space_grants(actor=SYSTEM, space=space) == []


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "user", "name": "nobody-here", "level": "read"}, b"no active user"),
        ({"kind": "team", "name": "no-team", "level": "read"}, b"no team with slug"),
        ({"kind": "user", "name": "", "level": "read"}, b"This field is required"),
        ({"kind": "robot", "name": "x", "level": "read"}, b"Select a valid choice"),
        ({"kind": "user", "name": "x", "level": "god"}, b"Select a valid choice"),
    ],
)
def test_bad_grants_are_form_errors(people, space, data, message):
    response = signed_in(people["owner"]).post(sharing_url(space), data)
    assert response.status_code == 400
    assert message in response.content
    assert services.space_grants(actor=SYSTEM, space=space) == []


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_without_manage_space_the_tab_is_hidden_and_posts_are_refused(
    people, space, role
):
    client = signed_in(people[role])
    assert b"Sharing" not in client.get(space_url(space)).content
    assert client.get(sharing_url(space)).status_code == 403
    outsider = people["outsider"].username
    response = client.post(
        sharing_url(space), {"kind": "user", "name": outsider, "level": "manage"}
    )
    assert response.status_code == 403
    assert (
        client.post(
            sharing_url(space, revoke=True), {"kind": "user", "name": outsider}
        ).status_code
        == 403
    )
    assert services.space_grants(actor=SYSTEM, space=space) == []


def test_another_teams_space_is_a_404(people, space):
    client = signed_in(people["outsider"])
    assert client.get(sharing_url(space)).status_code == 404
    response = client.post(
        sharing_url(space), {"kind": "user", "name": "x", "level": "read"}
    )
    assert response.status_code == 404


def test_csrf_is_enforced(people, space):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    response = client.post(
        sharing_url(space), {"kind": "team", "name": "other", "level": "read"}
    )
    assert response.status_code == 403
    assert services.space_grants(actor=SYSTEM, space=space) == []


@pytest.mark.parametrize("payload", XSS)
def test_names_are_escaped(people, space, payload):
    """Usernames and slugs cannot hold markup; a plain group's name can."""
    group = Group.objects.create(name=payload)
    assign_perm("view_space", group, space)
    page = signed_in(people["owner"]).get(sharing_url(space)).content.decode()
    assert payload not in page
    assert escape(payload) in page
