"""Admin console: every page loads, lists never show plaintext, reads are audited."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Team
from audit.models import AccessEvent
from memories import permissions, services
from memories.encryption import sealing
from memories.models import Memory, SpaceKey
from tests.factories import (
    SYSTEM,
    UserFactory,
    actor_for_user,
    make_key,
    make_team,
    unit_vector,
)

SECRET = "Ravi keeps the spare house key under the blue flowerpot"
SECRET_WORDS = ("Ravi", "flowerpot", "spare house key")

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return UserFactory(username="operator", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def memory(space):
    memory, _ = services.memory_add(
        actor=SYSTEM,
        space=space,
        data={"content": SECRET, "user_id": "ravi", "metadata": {"room": "hall"}},
        embedding=unit_vector(1),
    )
    return memory


def _assert_no_plaintext(response) -> None:
    body = response.content.decode()
    for word in SECRET_WORDS:
        assert word not in body


LIST_PAGES = [
    "accounts_user",
    "accounts_team",
    "accounts_membership",
    "accounts_apikey",
    "memories_space",
    "memories_spacekey",
    "memories_memory",
    "memories_memoryevent",
    "memories_teammodel",
    "memories_extractionsettings",
    "memories_extractionevent",
    "audit_accessevent",
    "memories_spaceuserobjectpermission",
    "memories_spacegroupobjectpermission",
]


@pytest.mark.parametrize("name", LIST_PAGES)
def test_list_pages_load_without_plaintext(admin_client, memory, name):
    make_key(memory.space.team)
    response = admin_client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200
    _assert_no_plaintext(response)


def test_list_filters_and_search_work(admin_client, memory):
    url = reverse("admin:memories_memory_changelist")
    for query in (
        {"state__exact": "active"},
        {"q": "ravi"},
        {"q": str(memory.pk)},
        {"space__team__id__exact": memory.space.team_id},
    ):
        response = admin_client.get(url, query)
        assert response.status_code == 200
        assert str(memory.pk) in response.content.decode()
        _assert_no_plaintext(response)
    audit = reverse("admin:audit_accessevent_changelist")
    response = admin_client.get(audit, {"q": str(memory.pk)})
    assert response.status_code == 200
    assert "memory.add" in response.content.decode()


def test_memory_detail_shows_content_and_records_the_read(admin_client, memory):
    before = AccessEvent.objects.filter(action="memory.read").count()
    response = admin_client.get(
        reverse("admin:memories_memory_change", args=[memory.pk])
    )
    assert response.status_code == 200
    assert SECRET in response.content.decode()
    reads = AccessEvent.objects.filter(action="memory.read", surface="admin")
    assert reads.count() == before + 1
    event = reads.latest("at")
    assert event.actor.endswith(":operator")
    assert event.memory_ids == [memory.pk]
    assert event.space_pk == memory.space_id


def test_memory_content_cannot_be_added_or_changed(admin_client, memory):
    add = admin_client.get(reverse("admin:memories_memory_add"))
    assert add.status_code == 403
    url = reverse("admin:memories_memory_change", args=[memory.pk])
    admin_client.post(url, {"user_id": "mallory"})
    memory.refresh_from_db()
    assert memory.user_id == "ravi"
    assert sealing.memory_content(memory) == SECRET


def test_memory_delete_goes_through_the_service(admin_client, memory):
    url = reverse("admin:memories_memory_delete", args=[memory.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    memory.refresh_from_db()
    assert memory.state == "deleted"  # soft delete: history kept
    assert memory.events.filter(event="DELETE").exists()
    assert AccessEvent.objects.filter(
        action="memory.delete", surface="admin", memory_ids=[memory.pk]
    ).exists()


def test_memory_bulk_delete_action(admin_client, space, memory):
    url = reverse("admin:memories_memory_changelist")
    response = admin_client.post(
        url,
        {"action": "delete_selected", "_selected_action": [memory.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert Memory.objects.get(pk=memory.pk).state == "deleted"


def test_audit_history_and_keys_are_read_only(admin_client, memory):
    event = AccessEvent.objects.latest("at")
    key = SpaceKey.objects.filter(space=memory.space).first()
    for name, pk in (
        ("audit_accessevent", event.pk),
        ("memories_spacekey", key.pk),
        ("memories_memoryevent", memory.events.first().pk),
    ):
        assert admin_client.get(reverse(f"admin:{name}_add")).status_code == 403
        detail = admin_client.get(reverse(f"admin:{name}_change", args=[pk]))
        assert detail.status_code == 200
        assert b'name="_save"' not in detail.content
        _assert_no_plaintext(detail)
        delete = admin_client.get(reverse(f"admin:{name}_delete", args=[pk]))
        assert delete.status_code == 403
    key_page = admin_client.get(
        reverse("admin:memories_spacekey_change", args=[key.pk])
    )
    assert b"wrapped" not in key_page.content.lower()


def test_api_key_admin_hides_the_hash_and_revokes(admin_client, team):
    api_key, secret, _ = make_key(team, name="ci")
    detail = admin_client.get(
        reverse("admin:accounts_apikey_change", args=[api_key.pk])
    )
    assert detail.status_code == 200
    body = detail.content.decode()
    assert api_key.hashed_secret not in body and secret not in body
    assert "hashed" not in body.lower()
    assert admin_client.get(reverse("admin:accounts_apikey_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke", "_selected_action": [api_key.pk]},
    )
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_team_created_in_admin_gets_its_group_and_members(admin_client, operator):
    member = UserFactory(username="newbie")
    response = admin_client.post(
        reverse("admin:accounts_team_add"),
        {
            "slug": "research",
            "name": "Research",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": member.pk,
            "memberships-0-role": "viewer",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    team = Team.objects.get(slug="research")
    assert team.group.name == "team:research"
    assert Membership.objects.get(team=team, user=member).role == "viewer"
    assert member.groups.filter(pk=team.group_id).exists()


def test_team_slug_is_validated_like_the_service(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_team_add"),
        {
            "slug": "Bad_Slug",
            "name": "x",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert not Team.objects.filter(slug="Bad_Slug").exists()


def test_space_created_in_admin_has_keys(admin_client, team):
    response = admin_client.post(
        reverse("admin:memories_space_add"),
        {
            "team": team.pk,
            "slug": "notes",
            "name": "Notes",
            "description": "",
            "retention_days": "30",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    space = team.spaces.get(slug="notes")
    assert space.retention_days == 30
    assert space.index_key_wrapped is not None
    assert SpaceKey.objects.filter(space=space, state="active").count() == 1
    assert AccessEvent.objects.filter(
        action="space.create", surface="admin", space_pk=space.pk
    ).exists()


def test_rotate_action_makes_a_new_active_key(admin_client, space):
    response = admin_client.post(
        reverse("admin:memories_space_changelist"),
        {"action": "rotate_data_key", "_selected_action": [space.pk]},
    )
    assert response.status_code == 302
    active = SpaceKey.objects.get(space=space, state="active")
    assert active.version == 2


def test_shred_action_asks_for_confirmation_first(admin_client, space, memory):
    url = reverse("admin:memories_space_changelist")
    confirm = admin_client.post(
        url, {"action": "shred", "_selected_action": [space.pk]}
    )
    assert confirm.status_code == 200
    assert b"cannot be undone" in confirm.content
    space.refresh_from_db()
    assert space.shredded_at is None
    done = admin_client.post(
        url, {"action": "shred", "_selected_action": [space.pk], "post": "yes"}
    )
    assert done.status_code == 302
    space.refresh_from_db()
    assert space.shredded_at is not None
    assert not SpaceKey.objects.filter(space=space).exists()


def test_object_permissions_page_saves_through_the_service(admin_client, space):
    outsider = UserFactory(username="guest")
    pages = reverse("admin:memories_space_permissions", args=[space.pk])
    assert admin_client.get(pages).status_code == 200
    url = reverse(
        "admin:memories_space_permissions_manage_user", args=[space.pk, outsider.pk]
    )
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b"change_space" not in page.content  # only space permissions offered
    response = admin_client.post(url, {"permissions": ["view_space", "add_memory"]})
    assert response.status_code == 302
    actor = actor_for_user(outsider)
    assert permissions.space_perms(actor, space) == {"view_space", "add_memory"}
    assert AccessEvent.objects.filter(
        action="space.share", surface="admin", space_pk=space.pk
    ).exists()
    admin_client.post(url, {"permissions": ["view_space"]})
    assert permissions.space_perms(actor, space) == {"view_space"}
    # A browser always sends the CSRF token; with no box ticked, that is all.
    admin_client.post(url, {"csrfmiddlewaretoken": "x"})
    assert permissions.space_perms(actor, space) == frozenset()
    assert AccessEvent.objects.filter(
        action="space.unshare", surface="admin", space_pk=space.pk
    ).exists()
    other = make_team("partners")
    group_url = reverse(
        "admin:memories_space_permissions_manage_group",
        args=[space.pk, Group.objects.get(team=other).pk],
    )
    admin_client.post(group_url, {"permissions": ["view_space"]})
    _, _, partner_key = make_key(other)
    assert permissions.space_perms(partner_key, space) == {"view_space"}


def test_non_staff_cannot_open_the_admin(space, memory):
    client = Client()
    client.force_login(UserFactory(username="plain"))
    response = client.get(reverse("admin:memories_memory_change", args=[memory.pk]))
    assert response.status_code == 302
    assert not AccessEvent.objects.filter(action="memory.read").exists()


def test_the_admin_home_shows_what_to_check_first(admin_client, team):
    """Backends with circuit and backlog, failures, keys about to expire."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import api_key_create
    from tests.factories import BackendFactory

    BackendFactory(name="graph")
    api_key_create(
        team=team, name="soon", expires_at=timezone.now() + timedelta(days=2)
    )
    page = admin_client.get(reverse("admin:index"))
    body = page.content.decode()
    assert page.status_code == 200
    for text in ("Check first", "graph", "Closed", "soon", "outbox dead letters"):
        assert text in body, text
    assert "MemoryHub operator console" in body
