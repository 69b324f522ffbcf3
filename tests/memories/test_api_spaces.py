"""REST spaces: create / change / shred, sharing (their permission matrix:
``tests/permissions/native_spaces.py``)."""

import pytest
from django.core.cache import cache

from accounts.actors import SYSTEM
from accounts.models import Team
from audit.models import AccessEvent
from memories.encryption import keyring, sealing
from memories.models import Memory, Space, SpaceKey
from memories.services.sharing import space_share
from memoryhub.errors import Conflict
from tests.api_support import TEAM_QS, add_memory, memory_url, space_url
from tests.conftest import client_for_key, client_for_user
from tests.factories import make_key, make_member, make_space, make_team

pytestmark = pytest.mark.django_db


def test_create_space_validates(cast):
    """Duplicate slugs are 409; bad slugs and unknown teams are 400/404."""
    client = cast.clients["owner"]
    url = "/api/v1/spaces/"
    dup = client.post(url, {"team": "acme", "slug": "default"}, format="json")
    assert dup.status_code == 409
    assert dup.json()["field"] == "slug"
    bad = client.post(url, {"team": "acme", "slug": "Not A Slug"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["field"] == "slug"
    missing = client.post(url, {"team": "nope", "slug": "x"}, format="json")
    assert missing.status_code == 404
    retention = client.post(
        url, {"team": "acme", "slug": "r", "retention_days": 0}, format="json"
    )
    assert retention.status_code == 400
    assert retention.json()["field"] == "retention_days"


def test_created_space_is_usable_and_audited(cast):
    """A new space takes memories at once; its creation is audited."""
    client = cast.clients["owner"]
    created = client.post(
        "/api/v1/spaces/",
        {"team": "acme", "slug": "fresh", "retention_days": 30},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["team"] == "acme"
    assert created.json()["retention_days"] == 30
    added = client.post(
        "/api/v1/spaces/fresh/memories/", {"content": "hello"}, format="json"
    )
    assert added.status_code == 201
    assert AccessEvent.objects.filter(
        action="space.create", space_slug="fresh", surface="api"
    ).exists()


def test_shredded_space_is_gone_and_unreadable(
    cast, django_capture_on_commit_callbacks
):
    """DELETE crypto-shreds: keys gone, 404 afterwards, ciphertext undecryptable."""
    memory = add_memory(cast.space, "top secret recipe")
    sealed = bytes(memory.content)
    with django_capture_on_commit_callbacks(execute=True):
        response = cast.clients["owner"].delete(space_url(cast.space))
    assert response.status_code == 204
    assert cast.clients["owner"].get(space_url(cast.space)).status_code == 404
    assert cast.clients["owner"].get(memory_url(cast.space, memory)).status_code == 404
    space = Space.objects.filter(pk=cast.space.pk).first()
    assert not SpaceKey.objects.filter(space_id=cast.space.pk).exists()
    # The purge task ran eagerly on commit: rows are gone too.
    assert not Memory.objects.filter(pk=memory.pk).exists()
    if space is not None:
        memory.content = sealed
        with pytest.raises(Conflict):
            sealing.memory_content(memory, space)
    # The slug is free again.
    assert make_space(cast.team, "default").pk != cast.space.pk


def test_shred_destroys_keys_before_purge(cast, django_capture_on_commit_callbacks):
    """Even before rows are purged, nothing in a shredded space decrypts."""
    memory = add_memory(cast.space, "still sealed")
    with django_capture_on_commit_callbacks(execute=False):
        response = cast.clients["owner"].delete(space_url(cast.space))
    assert response.status_code == 204
    keyring.forget_space(cast.space.pk)  # what the commit hook does
    space = Space.objects.get(pk=cast.space.pk)
    stored = Memory.objects.get(pk=memory.pk)
    with pytest.raises(Conflict):
        sealing.memory_content(stored, space)


def test_sharing_with_a_user_grants_view_and_requested_perms(cast):
    """Sharing grants view plus what was asked; unshare withdraws it."""
    guest = make_member(make_team("guests"), "member")
    guest_client = client_for_user(guest)
    memory = add_memory(cast.space, "shared fact")
    assert guest_client.get(memory_url(cast.space, memory)).status_code == 404

    owner = cast.clients["owner"]
    shared = owner.post(
        space_url(cast.space, "share/"),
        {"user": guest.username, "permissions": ["add_memory"]},
        format="json",
    )
    assert shared.status_code == 200, shared.json()
    assert shared.json() == {
        "user": guest.username,
        "permissions": ["view_space", "add_memory"],
    }
    assert guest_client.get(memory_url(cast.space, memory)).status_code == 200
    added = guest_client.post(
        space_url(cast.space, "memories/"), {"content": "guest note"}, format="json"
    )
    assert added.status_code == 201
    # Sharing grants view and add, not change.
    patched = guest_client.patch(
        memory_url(cast.space, memory), {"content": "x"}, format="json"
    )
    assert patched.status_code == 403

    grants = owner.get(space_url(cast.space, "permissions/")).json()["results"]
    assert grants == [
        {"user": guest.username, "permissions": ["view_space", "add_memory"]}
    ]

    partial = owner.post(
        space_url(cast.space, "unshare/"),
        {"user": guest.username, "permissions": ["add_memory"]},
        format="json",
    )
    assert partial.json()["permissions"] == ["view_space"]
    full = owner.post(
        space_url(cast.space, "unshare/"), {"user": guest.username}, format="json"
    )
    assert full.json()["permissions"] == []
    assert guest_client.get(memory_url(cast.space, memory)).status_code == 404
    assert AccessEvent.objects.filter(action="space.share").count() == 1
    assert AccessEvent.objects.filter(action="space.unshare").count() == 2


def test_sharing_with_a_team_reaches_its_members_and_keys(cast):
    """A team grant reaches the team's users and keys (keys capped by scope)."""
    guests = make_team("guests")
    member = make_member(guests, "viewer")
    _, secret, _ = make_key(guests, read_only=True)
    memory = add_memory(cast.space, "for the guests")
    response = cast.clients["owner"].post(
        space_url(cast.space, "share/"),
        {"team": "guests", "permissions": ["view_space", "add_memory"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    cache.clear()
    key_client = client_for_key(secret)
    assert key_client.get(memory_url(cast.space, memory)).status_code == 200
    # A read-only key stays read-only even with an add grant.
    denied = key_client.post(
        space_url(cast.space, "memories/"), {"content": "nope"}, format="json"
    )
    assert denied.status_code == 403
    assert (
        client_for_user(member).get(memory_url(cast.space, memory)).status_code == 200
    )
    spaces = client_for_user(member).get("/api/v1/spaces/").json()["results"]
    assert [s["slug"] for s in spaces] == ["default"]


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": ["view_space"]},
        {"user": "a", "team": "b", "permissions": ["view_space"]},
        {"user": "nobody-here", "permissions": ["view_space"]},
        {"team": "no-such-team", "permissions": ["view_space"]},
        {"user": "x", "permissions": []},
        {"user": "x", "permissions": ["fly"]},
        {"user": "x", "permissions": "view_space"},
        {"user": "x", "permissions": ["view_space"], "role": "admin"},
    ],
)
def test_bad_share_bodies_are_400(cast, body):
    """Share needs exactly one existing principal and known permissions."""
    response = cast.clients["owner"].post(
        space_url(cast.space, "share/"), body, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["detail"]


def test_ambiguous_slug_asks_for_the_team(cast):
    """A user seeing two spaces with one slug must name the team."""
    other_default = Team.objects.get(slug="other").spaces.get(slug="default")
    both = make_member(cast.team, "owner")
    space_share(
        actor=SYSTEM, space=other_default, user=both.username, perms=["view_space"]
    )
    client = client_for_user(both)
    ambiguous = client.get("/api/v1/spaces/default/")
    assert ambiguous.status_code == 400
    assert "team" in ambiguous.json()["detail"]
    assert client.get("/api/v1/spaces/default/" + TEAM_QS).status_code == 200
    assert client.get("/api/v1/spaces/default/?team=other").status_code == 200
