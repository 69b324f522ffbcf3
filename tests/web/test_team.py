"""The team page: members and roles, invitations by email, accepting one."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership, User
from audit.models import AccessEvent
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


def team_url(team):
    return reverse("web:team", kwargs={"team_slug": team.slug})


def member_url(team, user):
    return reverse(
        "web:team_member", kwargs={"team_slug": team.slug, "user_pk": user.pk}
    )


def invite(client, team, email="new@example.com", role="member"):
    return client.post(team_url(team), {"email": email, "role": role})


def link_from_mail() -> str:
    return re.search(r"http://testserver(/invitations/[^/\s]+/)", mail.outbox[-1].body)[
        1
    ]


def role_of(user, team):
    return Membership.objects.get(user=user, team=team).role


def test_members_see_the_list_and_only_admins_get_controls(people, team):
    viewer = signed_in(people["viewer"]).get(team_url(team)).content.decode()
    assert people["member"].username in viewer and "Send invitation" not in viewer
    assert 'name="role"' not in viewer
    owner = signed_in(people["owner"]).get(team_url(team)).content.decode()
    assert "Send invitation" in owner and 'name="role"' in owner


def test_an_owner_changes_a_role_and_removes_a_member(people, team):
    client = signed_in(people["owner"])
    client.post(member_url(team, people["member"]), {"role": "admin"})
    assert role_of(people["member"], team) == "admin"
    assert AccessEvent.objects.filter(action="team.role", surface="ui").exists()
    confirm = client.get(member_url(team, people["viewer"]))
    assert b"Remove" in confirm.content
    client.post(member_url(team, people["viewer"]), {"remove": "1"})
    assert not Membership.objects.filter(user=people["viewer"], team=team).exists()


def test_the_last_owner_cannot_leave_or_be_demoted(people, team):
    client = signed_in(people["owner"])
    response = client.post(member_url(team, people["owner"]), {"role": "member"})
    assert "needs an owner" in client.get(response["Location"]).content.decode()
    client.post(member_url(team, people["owner"]), {"remove": "1"})
    assert role_of(people["owner"], team) == "owner"


def test_an_admin_cannot_touch_owners(people, team):
    client = signed_in(people["owner"])
    client.post(member_url(team, people["member"]), {"role": "admin"})
    admin = signed_in(people["member"])
    response = admin.post(member_url(team, people["viewer"]), {"role": "owner"})
    assert "only an owner" in admin.get(response["Location"]).content.decode()
    admin.post(member_url(team, people["owner"]), {"remove": "1"})
    assert role_of(people["viewer"], team) == "viewer"
    assert role_of(people["owner"], team) == "owner"


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewers_and_members_are_refused(people, team, role):
    client = signed_in(people[role])
    assert invite(client, team).status_code == 403
    assert (
        client.post(member_url(team, people["viewer"]), {"role": "owner"}).status_code
        == 403
    )
    assert not Invitation.objects.exists() and not mail.outbox


def test_another_team_anonymous_and_csrf(people, team):
    outsider = signed_in(people["outsider"])
    assert outsider.get(team_url(team)).status_code == 404
    assert invite(outsider, team).status_code == 404
    assert (
        outsider.post(member_url(team, people["viewer"]), {"remove": "1"}).status_code
        == 404
    )
    assert Client().get(team_url(team)).status_code == 302
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    assert invite(client, team).status_code == 403
    assert not Invitation.objects.exists()


def test_an_invitation_is_mailed_then_accepted_once_by_a_new_person(people, team):
    owner = signed_in(people["owner"])
    response = invite(owner, team, role="viewer")
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "new@example.com" and len(invitation.token_hash) == 64
    assert mail.outbox[-1].to == ["new@example.com"]
    link = link_from_mail()
    assert link.split("/")[2] not in invitation.token_hash  # only a hash is stored
    assert "new@example.com" in owner.get(team_url(team)).content.decode()
    visitor = Client()
    page = visitor.get(link)
    assert page.status_code == 200 and b"invited as <strong>viewer" in page.content
    bad = visitor.post(
        link, {"username": "nina", "password1": "short", "password2": "short"}
    )
    assert bad.status_code == 400 and b"too short" in bad.content
    done = visitor.post(
        link,
        {
            "username": "nina",
            "password1": "a-long-pass-phrase-7",
            "password2": "a-long-pass-phrase-7",
        },
    )
    assert done.status_code == 302
    nina = User.objects.get(username="nina")
    assert role_of(nina, team) == "viewer" and nina.email == "new@example.com"
    assert visitor.get("/").status_code == 200  # signed in
    again = Client().get(link)
    assert again.status_code == 410 and b"already used" in again.content


def test_a_signed_in_person_accepts_with_their_account_and_is_never_demoted(
    people, team
):
    invite(signed_in(people["owner"]), team, email="m@example.com", role="viewer")
    link = link_from_mail()
    member = signed_in(people["member"])
    assert b"accept to join with this account" in member.get(link).content
    member.post(link)
    assert role_of(people["member"], team) == "member"  # kept the stronger role
    outsider = signed_in(people["outsider"])
    invite(signed_in(people["owner"]), team, email="o@example.com", role="admin")
    outsider.post(link_from_mail())
    assert role_of(people["outsider"], team) == "admin"


def test_expired_withdrawn_and_unknown_links(people, team):
    owner = signed_in(people["owner"])
    invite(owner, team)
    link = link_from_mail()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(link).status_code == 410
    invite(owner, team, email="b@example.com")
    link = link_from_mail()
    pending = Invitation.objects.get(email="b@example.com")
    owner.post(
        reverse(
            "web:team_invitation_revoke",
            kwargs={"team_slug": team.slug, "invitation_pk": pending.pk},
        )
    )
    assert Client().get(link).status_code == 410
    assert Client().get("/invitations/not-a-real-token/").status_code == 404
    assert (
        Client().post("/invitations/not-a-real-token/", {"username": "x"}).status_code
        == 404
    )


def test_bad_invitations_are_form_errors(people, team):
    response = invite(signed_in(people["owner"]), team, email="not-an-email")
    assert response.status_code == 400 and b"valid email" in response.content
    response = invite(signed_in(people["owner"]), team, role="emperor")
    assert response.status_code == 400
    assert not Invitation.objects.exists()
