"""API requests that carry a key pass the browser middleware by
(memoryhub/keyed.py); every other request goes through all of it."""

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from memoryhub.keyed import API_CSP, is_keyed_api_request
from tests.api_support import add_memory

pytestmark = pytest.mark.django_db

SPACE = "/api/v1/spaces/default/"


@pytest.mark.parametrize(
    ("path", "header", "keyed"),
    [
        ("/api/v1/spaces/", "Bearer mh_x", True),
        ("/api/v1/spaces/", "token mh_x", True),
        ("/api/v1/spaces/", "  BEARER   mh_x", True),
        ("/v1/memories/search/", "Token mh_x", True),
        ("/v3/memories/", "Bearer", True),  # no key: the API answers 401
        ("/api/v1/spaces/", "Basic dXNlcjpwdw==", False),
        ("/api/v1/spaces/", "", False),
        ("/api/schema/", "Bearer mh_x", False),
        ("/admin/", "Bearer mh_x", False),
        ("/spaces/acme/default/", "Bearer mh_x", False),
        ("/", "Bearer mh_x", False),
    ],
)
def test_which_requests_are_keyed(path, header, keyed):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert is_keyed_api_request(RequestFactory().get(path, **extra)) is keyed


def test_a_keyed_request_gets_api_headers_and_no_cookies(cast):
    """No session or CSRF cookie, no team-app CSP; a CSP that loads nothing
    and the clickjacking header instead."""
    add_memory(cast.space, "something to find")
    writer = cast.clients["writer"]
    for response in (
        writer.get(SPACE + "memories/"),
        writer.post(SPACE + "memories/", {"content": "a new one"}, format="json"),
        writer.post(
            SPACE + "search/", {"query": "find", "mode": "keyword"}, format="json"
        ),
        cast.clients["read_only"].get("/api/v1/spaces/nowhere/"),
        APIClient(HTTP_AUTHORIZATION="Bearer mh_not_a_key").get(SPACE),
        writer.get("/api/v1/no-such-route/"),
    ):
        assert response.status_code in (200, 201, 401, 404), response.content
        assert response["Content-Security-Policy"] == API_CSP
        assert response["X-Frame-Options"] == "DENY"
        assert not response.cookies
    assert (
        APIClient(HTTP_AUTHORIZATION="Bearer mh_not_a_key").get(SPACE).json()["detail"]
    )


def test_a_session_caller_of_the_api_goes_through_every_middleware(cast):
    """Signed in through the browser: the team app's CSP, and CSRF is
    enforced on a write (DRF's session authentication)."""
    owner = cast.users["owner"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    listed = client.get(SPACE + "memories/")
    assert listed.status_code == 200
    web_policy = listed["Content-Security-Policy"]
    assert web_policy != API_CSP and "script-src 'self'" in web_policy
    refused = client.post(
        SPACE + "memories/", {"content": "no token"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]


def test_a_key_sent_to_a_page_or_the_admin_changes_nothing(cast):
    """Pages still need a signed-in person; a key is no way around that."""
    secret = cast.secrets["writer"]
    browser = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    page = browser.get("/")
    assert page.status_code == 302
    assert page["Location"].startswith(reverse(settings.LOGIN_URL))
    assert page["Content-Security-Policy"] != API_CSP
    admin = browser.get("/admin/")
    assert admin.status_code == 302 and "/admin/login/" in admin["Location"]
