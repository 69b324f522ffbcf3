"""Password reset by email and sign-in throttling (django-axes)."""

import re

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.factories import make_member, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(team):
    return make_member(team, "member", username="rosa", email="rosa@example.com")


def test_a_forgotten_password_is_reset_through_the_emailed_link(person):
    client = Client()
    assert b"Forgot your password?" in client.get(reverse("web:login")).content
    response = client.post(reverse("web:password_reset"), {"email": "rosa@example.com"})
    assert response.status_code == 302 and len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password/reset/\S+/)", mail.outbox[0].body)[1]
    form = client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {
            "new_password1": "a-fresh-passphrase-9",
            "new_password2": "a-fresh-passphrase-9",
        },
    )
    assert done.status_code == 302
    person.refresh_from_db()
    assert person.check_password("a-fresh-passphrase-9")
    assert b"no longer works" in Client().get(link, follow=True).content  # used


def test_an_unknown_address_gets_the_same_answer_and_no_mail(person):
    response = Client().post(
        reverse("web:password_reset"), {"email": "nobody@example.com"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:password_reset_done")
    assert not mail.outbox


def _fail(client, url, username, times):
    for _ in range(times):
        client.post(url, {"username": username, "password": "wrong"})


def test_five_wrong_passwords_lock_that_account_from_that_address(person, settings):
    client = Client()
    _fail(client, reverse("web:login"), "rosa", 5)
    locked = client.post(reverse("web:login"), {"username": "rosa", "password": "pw"})
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert b"Reset it by email" in locked.content
    # Another account from the same address, and this one from another
    # address, still sign in.
    other = make_member(make_team("x"), "member", username="omar")
    assert (
        client.post(
            reverse("web:login"), {"username": other.username, "password": "pw"}
        ).status_code
        == 302
    )
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert (
        elsewhere.post(
            reverse("web:login"), {"username": "rosa", "password": "pw"}
        ).status_code
        == 302
    )
    reset(username="rosa")  # what the cool-off (or an operator) does
    assert (
        Client()
        .post(reverse("web:login"), {"username": "rosa", "password": "pw"})
        .status_code
        == 302
    )


def test_a_success_resets_the_count(person):
    client = Client()
    _fail(client, reverse("web:login"), "rosa", 4)
    assert (
        client.post(
            reverse("web:login"), {"username": "rosa", "password": "pw"}
        ).status_code
        == 302
    )
    assert not AccessAttempt.objects.filter(username="rosa").exists()


def test_the_admin_sign_in_is_throttled_too(person):
    client = Client()
    _fail(client, reverse("admin:login"), "rosa", 5)
    response = client.post(
        reverse("admin:login"), {"username": "rosa", "password": "pw"}
    )
    assert response.status_code == 429


def test_the_api_is_not_affected(person, space):
    from tests.factories import make_key

    _, secret, _ = make_key(space.team)
    _fail(Client(), reverse("web:login"), "rosa", 6)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/spaces/default/memories/").status_code == 200


def test_guessing_the_current_password_in_the_change_form_is_throttled(person):
    """A stolen session cookie is no way around the limit: wrong current
    passwords count as failed sign-ins of that account from that address."""
    client = Client()
    client.force_login(person)
    url = reverse("web:password_change")

    def change(old: str):
        return client.post(
            url,
            {
                "old_password": old,
                "new_password1": "a-new-Passphrase-42",
                "new_password2": "a-new-Passphrase-42",
            },
        )

    for _ in range(4):
        wrong = change("guess")
        assert wrong.status_code == 200  # the form again, with its error
        assert "old_password" in wrong.context["form"].errors
    assert change("guess").status_code == 429  # the fifth locks
    locked = change("pw")  # even the right one, now
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    person.refresh_from_db()
    assert person.check_password("pw")  # unchanged
    # The same counter: the sign-in form is locked for rosa here too.
    signin = Client().post(reverse("web:login"), {"username": "rosa", "password": "pw"})
    assert signin.status_code == 429
    reset(username="rosa")
    assert change("pw").status_code == 302  # changed once the cool-off is over
