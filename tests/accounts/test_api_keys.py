"""REST teams and API keys: secrets shown once, revoke, expiry, schemes (their
permission matrix: ``tests/permissions/native_spaces.py``)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from audit.models import AccessEvent
from tests.api_support import space_url
from tests.conftest import client_for_key
from tests.factories import make_key

pytestmark = pytest.mark.django_db
KEYS = "/api/v1/teams/acme/keys/"


def test_created_key_works_and_secret_is_shown_once(cast):
    """The create response holds the secret; it authenticates; lists omit it."""
    owner = cast.clients["owner"]
    response = owner.post(
        KEYS,
        {"name": "agent", "read_only": True, "spaces": ["default"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("mh_" + body["prefix"])
    assert body["spaces"] == ["default"]
    assert body["read_only"] is True
    creator = ApiKey.objects.get(pk=body["id"]).created_by
    assert creator is not None
    assert body["created_by"] == creator.username
    key_client = client_for_key(secret)
    assert key_client.get(space_url(cast.space, "memories/")).status_code == 200
    listed = owner.get(KEYS).json()["results"]
    assert all("secret" not in k for k in listed)
    assert secret not in owner.get(KEYS).content.decode()
    event = AccessEvent.objects.get(action="apikey.create")
    assert event.team_pk == cast.team.pk
    assert secret not in str(event.detail)


def test_key_create_validates(cast):
    """Unknown spaces, past expiry, bad names and unknown fields are 400."""
    owner = cast.clients["owner"]
    for body, field in [
        ({"name": "k", "spaces": ["nope"]}, "spaces"),
        ({"name": ""}, "name"),
        ({"name": "k", "read_only": "yes"}, "read_only"),
        ({"name": "k", "scopes": []}, "scopes"),
        ({"name": "k", "expires_at": "yesterday"}, "expires_at"),
    ]:
        response = owner.post(KEYS, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["field"] == field, response.json()
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = owner.post(KEYS, {"name": "k", "expires_at": past}, format="json")
    assert response.status_code == 400
    assert "future" in response.json()["detail"]


def test_revoked_key_is_401(cast, django_capture_on_commit_callbacks):
    """After revocation the key is refused with 401 and WWW-Authenticate."""
    api_key, secret, _ = make_key(cast.team)
    key_client = client_for_key(secret)
    url = space_url(cast.space, "memories/")
    assert key_client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        revoked = cast.clients["owner"].delete(f"{KEYS}{api_key.pk}/")
    assert revoked.status_code == 204
    response = key_client.get(url)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert response.has_header("WWW-Authenticate")
    assert AccessEvent.objects.filter(action="apikey.revoke").count() == 1


def test_expired_key_is_401(cast):
    """A key past expires_at is refused."""
    api_key, secret, _ = make_key(cast.team)
    ApiKey.objects.filter(pk=api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client_for_key(secret).get(space_url(cast.space, "memories/"))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer", "token"])
def test_token_and_bearer_schemes_are_accepted(cast, scheme):
    """mem0 clients send Token, others Bearer: both authenticate."""
    client = client_for_key(cast.secrets["writer"], scheme=scheme)
    assert client.get(space_url(cast.space, "memories/")).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer mh_garbage",
        "Bearer ",
        "Token mh_0123456789ab_wrongsecret",
        "Negotiate abc",
    ],
)
def test_bad_credentials_are_401(cast, header):
    """Malformed or unknown keys and foreign schemes are 401, never 500/403."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(space_url(cast.space, "memories/"))
    assert response.status_code == 401
    assert response.json()["code"] in ("authentication_failed", "not_authenticated")
    assert response.has_header("WWW-Authenticate")


def test_rate_limit_per_key_is_429_with_retry_after(cast, settings):
    """Past the per-key rate, requests get 429 and Retry-After; others unaffected."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"},
    }
    url = space_url(cast.space, "memories/")
    client = cast.clients["writer"]
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(url)
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["code"] == "throttled"
    assert cast.clients["read_only"].get(url).status_code == 200
    assert cast.clients["owner"].get(url).status_code == 200
