"""Who may open which page: sign-in required, other teams' rows are 404s,
viewers see no edit controls and their crafted POSTs are refused, CSRF holds,
and the routes outside the team app answer as they did."""

import pytest
from django.test import Client
from django.urls import reverse

from memories.models import Memory, MemoryState
from tests.web.conftest import memory_url, signed_in, space_url
from web import urls as web_urls

pytestmark = pytest.mark.django_db

# Pages for people who are not signed in: sign in, an invitation's link.
SIGNED_OUT = {
    "login",
    "invitation_accept",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}


def _pages(space, memory) -> list[str]:
    return [
        reverse("web:home"),
        reverse("web:password_change"),
        space_url(space),
        memory_url(space, memory.pk),
        memory_url(space, memory.pk, "delete"),
        memory_url(space, memory.pk, "archive"),
    ]


def test_anonymous_requests_to_every_page_redirect_to_sign_in(space, memory):
    client = Client()
    for url in _pages(space, memory):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response["Location"] == f"/signin/?next={url}", url
    assert Memory.objects.get(pk=memory.pk).version == 1


def test_every_team_app_route_but_sign_in_needs_a_signed_in_user(space, memory):
    """A new view is covered without doing anything: the middleware decides
    by the ``web`` namespace, and only the sign-in page opts out."""
    samples = {
        "team_slug": space.team.slug,
        "slug": space.slug,
        "memory_id": memory.pk,
        "action": "delete",
        "key_id": 1,
        "job_pk": 1,
        "webhook_pk": 1,
        "event_id": "01900000-0000-7000-8000-000000000000",
        "user_pk": 1,
        "invitation_pk": 1,
        "token": "x",
        "uidb64": "x",
    }
    client = Client()
    checked = []
    for pattern in web_urls.urlpatterns:
        params = pattern.pattern.converters.keys()
        url = reverse(f"web:{pattern.name}", kwargs={p: samples[p] for p in params})
        response = client.get(url)
        if pattern.name in SIGNED_OUT:
            assert response.status_code in (200, 404), url
            continue
        assert response.status_code == 302, url
        assert response["Location"].startswith("/signin/?next="), url
        checked.append(pattern.name)
    assert len(checked) == len(web_urls.urlpatterns) - len(SIGNED_OUT)


def test_sign_in_with_a_password_then_sign_out(people):
    client = Client()
    page = client.get(reverse("web:login"))
    assert b'<label for="id_username"' in page.content
    assert b'<label for="id_password"' in page.content
    response = client.post(
        reverse("web:login"),
        {"username": people["member"].username, "password": "pw"},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post(reverse("web:logout")).status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_with_a_message(people):
    response = Client().post(
        reverse("web:login"),
        {"username": people["member"].username, "password": "wrong"},
    )
    assert response.status_code == 200
    assert b"correct username and password" in response.content


def test_change_password(people):
    user = people["member"]
    client = signed_in(user)
    response = client.post(
        reverse("web:password_change"),
        {
            "old_password": "pw",
            "new_password1": "a-much-longer-passphrase-42",
            "new_password2": "a-much-longer-passphrase-42",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-much-longer-passphrase-42")


def test_another_teams_space_and_memory_are_a_404_page(people, space, memory):
    client = signed_in(people["outsider"])
    for url in (space_url(space), memory_url(space, memory.pk)):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Not found" in response.content
        assert b"Ada likes" not in response.content
    response = client.post(space_url(space), {"content": "planted"})
    assert response.status_code == 404
    response = client.post(
        memory_url(space, memory.pk), {"content": "changed", "version": 1}
    )
    assert response.status_code == 404
    assert client.post(memory_url(space, memory.pk, "delete")).status_code == 404
    assert Memory.objects.filter(space=space).count() == 1
    assert Memory.objects.get(pk=memory.pk).state == MemoryState.ACTIVE


def test_an_unknown_memory_or_action_is_a_404(people, space, memory):
    client = signed_in(people["owner"])
    assert (
        client.get(
            memory_url(space, "00000000-0000-0000-0000-000000000001")
        ).status_code
        == 404
    )
    assert client.get(memory_url(space, memory.pk, "explode")).status_code == 404


def test_a_viewer_sees_no_edit_controls_and_a_crafted_post_is_refused(
    people, space, memory
):
    client = signed_in(people["viewer"])
    page = client.get(space_url(space))
    assert page.status_code == 200
    assert b"Ada likes green tea" in page.content
    assert b"Add a memory" not in page.content
    detail = client.get(memory_url(space, memory.pk))
    assert detail.status_code == 200
    for control in (
        b"Save",
        b"Delete\xe2\x80\xa6",
        b"Archive\xe2\x80\xa6",
        b'name="content"',
    ):
        assert control not in detail.content
    assert client.post(space_url(space), {"content": "planted"}).status_code == 403
    assert (
        client.post(
            memory_url(space, memory.pk), {"content": "changed", "version": 1}
        ).status_code
        == 403
    )
    for action in ("delete", "archive"):
        assert client.get(memory_url(space, memory.pk, action)).status_code == 403
        assert client.post(memory_url(space, memory.pk, action)).status_code == 403
    stored = Memory.objects.get(pk=memory.pk)
    assert (stored.version, stored.state) == (1, MemoryState.ACTIVE)
    assert Memory.objects.filter(space=space).count() == 1


def test_a_member_of_the_team_has_the_controls(people, space, memory):
    client = signed_in(people["member"])
    assert b"Add a memory" in client.get(space_url(space)).content
    detail = client.get(memory_url(space, memory.pk)).content
    assert b"Save" in detail and b"Delete\xe2\x80\xa6" in detail


def test_csrf_is_enforced_on_the_team_apps_forms(people, space, memory):
    client = signed_in(people["member"], enforce_csrf_checks=True)
    response = client.post(space_url(space), {"content": "no token"})
    assert response.status_code == 403
    response = client.post(memory_url(space, memory.pk, "delete"))
    assert response.status_code == 403
    assert Memory.objects.filter(space=space).count() == 1
    assert Memory.objects.get(pk=memory.pk).state == MemoryState.ACTIVE


def test_routes_outside_the_team_app_are_unaffected(space):
    client = Client()
    api = client.get("/api/v1/spaces/")
    assert api.status_code == 401 and api["Content-Type"].startswith("application/json")
    assert client.get("/v1/ping/").status_code == 401
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith("/admin/login/")
    assert client.get("/healthz").status_code == 200
    missing = client.get("/api/v1/nothing-here/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_admins_view_site_link_leads_to_the_team_app(people):
    from django.contrib import admin

    assert admin.site.site_url == "/"
