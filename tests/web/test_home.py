"""Home: the team switcher and creating a space."""

import pytest
from django.test import Client
from django.urls import reverse

from memories.models import Space
from tests.factories import make_space, make_team
from tests.web.conftest import signed_in, space_url

pytestmark = pytest.mark.django_db


def create_url(team):
    return reverse("web:space_create", kwargs={"team_slug": team.slug})


def test_the_switcher_lists_the_persons_teams_and_narrows_home(people, team, space):
    other = make_team("labs")
    make_space(other, "notes")
    person = people["owner"]
    other.memberships.create(user=person, role="viewer")
    person.groups.add(other.group)
    client = signed_in(person)
    home = client.get("/").content.decode()
    assert "All teams" in home and "?team=labs" in home
    assert space_url(space) in home and "/spaces/labs/notes/" in home
    narrowed = client.get("/", {"team": "labs"}).content.decode()
    assert "/spaces/labs/notes/" in narrowed and space_url(space) not in narrowed
    assert client.get("/", {"team": "other"}).status_code == 404  # not theirs


def test_one_team_shows_no_switcher(people):
    assert b"All teams" not in signed_in(people["viewer"]).get("/").content


def test_an_owner_creates_a_space(people, team):
    client = signed_in(people["owner"])
    assert b"New space" in client.get("/").content
    response = client.post(
        create_url(team),
        {"name": "Support agent", "slug": "support", "retention_days": 30},
    )
    space = Space.objects.get(team=team, slug="support")
    assert response["Location"] == space_url(space)
    assert space.name == "Support agent" and space.retention_days == 30
    duplicate = client.post(create_url(team), {"name": "x", "slug": "support"})
    assert duplicate.status_code == 400 and b"already has a space" in duplicate.content
    bad = client.post(create_url(team), {"name": "x", "slug": "Not A Slug"})
    assert bad.status_code == 400


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_members_and_viewers_cannot_create(people, team, role):
    client = signed_in(people[role])
    assert b"New space" not in client.get("/").content
    assert client.get(create_url(team)).status_code == 403
    assert client.post(create_url(team), {"name": "x", "slug": "x"}).status_code == 403
    assert not Space.objects.filter(slug="x").exists()


def test_another_team_anonymous_and_csrf(people, team):
    assert (
        signed_in(people["outsider"])
        .post(create_url(team), {"name": "x", "slug": "x"})
        .status_code
        == 404
    )
    assert (
        Client().post(create_url(team), {"name": "x", "slug": "x"}).status_code == 302
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    assert client.post(create_url(team), {"name": "x", "slug": "x"}).status_code == 403
    assert not Space.objects.filter(slug="x").exists()
