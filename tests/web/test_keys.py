"""The API keys page: owners and admins list, create (secret shown once)
and revoke; everyone else is refused."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey
from accounts.services import api_key_verify
from audit.models import AccessEvent
from tests.factories import make_key, make_space
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


def keys_url(team, key_id=None):
    if key_id is None:
        return reverse("web:team_keys", kwargs={"team_slug": team.slug})
    return reverse(
        "web:team_key_revoke", kwargs={"team_slug": team.slug, "key_id": key_id}
    )


def test_an_owner_creates_a_scoped_key_and_sees_the_secret_once(people, team, space):
    make_space(team, "second")
    client = signed_in(people["owner"])
    page = client.get(keys_url(team))
    assert page.status_code == 200
    assert b"This team has no API key yet" in page.content
    assert b'value="second"' in page.content
    response = client.post(
        keys_url(team),
        {"name": "support-bot", "spaces": ["default"], "read_only": "on",
         "expires_on": "2099-01-31"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get(name="support-bot")
    secret = response.context["secret"]
    assert api_key_verify(key, secret)
    assert secret.encode() in response.content
    assert b'data-copy-target="secret"' in response.content
    assert b"web/copy.js" in response.content
    assert key.read_only and [s.slug for s in key.spaces.all()] == ["default"]
    assert key.expires_at.year == 2099 and key.created_by == people["owner"]
    assert AccessEvent.objects.filter(action="apikey.create", surface="ui").exists()
    listing = client.get(keys_url(team)).content
    assert b"support-bot" in listing and key.prefix.encode() in listing
    assert secret.encode() not in listing


def test_the_created_key_works_against_the_api(people, team, space):
    response = signed_in(people["owner"]).post(keys_url(team), {"name": "agent"})
    secret = response.context["secret"]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/spaces/default/memories/").status_code == 200


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": ""}, b"This field is required"),
        ({"name": "x", "spaces": ["nope"]}, b"Select a valid choice"),
        ({"name": "x", "expires_on": "2001-01-01"}, b"must be in the future"),
        ({"name": "x", "expires_on": "soon"}, b"Enter a valid date"),
    ],
)
def test_bad_input_is_a_form_error(people, team, space, data, message):
    response = signed_in(people["owner"]).post(keys_url(team), data)
    assert response.status_code == 400
    assert message in response.content
    assert not ApiKey.objects.exists()


def test_revoke_asks_first_then_revokes(people, team):
    key, *_ = make_key(team, name="old")
    client = signed_in(people["owner"])
    confirm = client.get(keys_url(team, key.pk))
    assert confirm.status_code == 200 and b"Revoke key old?" in confirm.content
    key.refresh_from_db()
    assert key.revoked_at is None
    assert client.post(keys_url(team, key.pk)).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert b"revoked" in client.get(keys_url(team)).content


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_members_and_viewers_are_refused(people, team, role):
    key, *_ = make_key(team, name="old")
    client = signed_in(people[role])
    assert client.get(keys_url(team)).status_code == 403
    assert client.post(keys_url(team), {"name": "mine"}).status_code == 403
    assert client.post(keys_url(team, key.pk)).status_code == 403
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None
    assert b"API keys" not in client.get("/").content


def test_another_team_gets_404s(people, team):
    key, *_ = make_key(team, name="old")
    client = signed_in(people["outsider"])
    assert client.get(keys_url(team)).status_code == 404
    assert client.post(keys_url(team), {"name": "mine"}).status_code == 404
    assert client.post(keys_url(team, key.pk)).status_code == 404
    other_key, *_ = make_key(people["outsider"].memberships.get().team, name="theirs")
    owner = signed_in(people["owner"])
    assert owner.post(keys_url(team, other_key.pk)).status_code == 404


def test_anonymous_and_csrf(people, team):
    assert Client().post(keys_url(team), {"name": "x"}).status_code == 302
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    assert client.post(keys_url(team), {"name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_key_names_are_escaped(people, team):
    make_key(team, name="<script>alert(1)</script>")
    body = signed_in(people["owner"]).get(keys_url(team)).content.decode()
    assert "<script>alert(1)</script>" not in body
