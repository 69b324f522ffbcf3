"""A space's webhooks in the team app: managers add one (its secret shown
once), pause, resume, retry the dead deliveries and delete; everyone else
is refused; names and URLs are escaped."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.actors import SYSTEM
from routing import webhooks
from routing.models import OutboxState, Webhook, WebhookDelivery
from tests.routing_helpers import reset_routing_state
from tests.web.conftest import XSS, signed_in

pytestmark = pytest.mark.django_db
PUBLIC = "http://93.184.215.14/hook"  # a public address (nothing is sent here)


@pytest.fixture(autouse=True)
def _fresh():
    reset_routing_state()
    yield
    reset_routing_state()


def url(space, webhook=None):
    kwargs = {"team_slug": space.team.slug, "slug": space.slug}
    if webhook is None:
        return reverse("web:space_webhooks", kwargs=kwargs)
    return reverse("web:space_webhook", kwargs={**kwargs, "webhook_pk": webhook.pk})


def test_an_owner_adds_a_webhook_and_sees_its_secret_once(people, space):
    client = signed_in(people["owner"])
    page = client.get(url(space)).content.decode()
    assert "No webhook yet" in page and 'name="url"' in page
    response = client.post(
        url(space),
        {"name": "crm", "url": PUBLIC, "events": ["memory.add", "memory.delete"]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    webhook = Webhook.objects.get()
    body = response.content.decode()
    assert webhooks.webhook_secret(webhook) in body
    assert webhook.events == ["memory.add", "memory.delete"]
    assert not webhook.include_content
    listing = client.get(url(space)).content.decode()
    assert "crm" in listing and webhooks.webhook_secret(webhook) not in listing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "x", "url": "http://127.0.0.1/hook", "events": ["memory.add"]},
            "public addresses only",
        ),
        (
            {"name": "x", "url": "ftp://example.com/", "events": ["memory.add"]},
            "http:// or https://",
        ),
        ({"name": "x", "url": PUBLIC, "events": []}, "This field is required"),
    ],
)
def test_bad_webhooks_are_form_errors(people, space, data, message):
    response = signed_in(people["owner"]).post(url(space), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Webhook.objects.exists()


def test_pause_resume_retry_and_delete(people, space):
    webhook, _ = webhooks.webhook_create(
        actor=SYSTEM, space=space, name="crm", url=PUBLIC
    )
    dead = WebhookDelivery.objects.create(
        webhook=webhook,
        event_id="00000000-0000-0000-0000-000000000001",
        memory_id="00000000-0000-0000-0000-0000000000aa",
        event="memory.add",
        version=1,
        seq=1,
        at=timezone.now(),
        next_at=timezone.now(),
        state=OutboxState.DEAD,
        attempts=10,
        last_error="HTTP 500",
    )
    client = signed_in(people["owner"])
    page = client.get(url(space, webhook)).content.decode()
    assert (
        "failed for good" in page
        and "HTTP 500" in page
        and "Send the 1 failed again" in page
    )
    client.post(url(space, webhook), {"action": "pause"})
    webhook.refresh_from_db()
    assert not webhook.enabled
    client.post(url(space, webhook), {"action": "resume"})
    webhook.refresh_from_db()
    assert webhook.enabled
    client.post(url(space, webhook), {"action": "retry"})
    dead.refresh_from_db()
    assert dead.state != OutboxState.DEAD
    response = client.post(url(space, webhook), {"action": "delete"})
    assert response.status_code == 302 and response["Location"] == url(space)
    assert not Webhook.objects.exists()


def test_only_managers_reach_the_webhooks(people, space):
    webhook, _ = webhooks.webhook_create(
        actor=SYSTEM, space=space, name="crm", url=PUBLIC
    )
    for who, status in (("viewer", 403), ("member", 403), ("outsider", 404)):
        client = signed_in(people[who])
        assert client.get(url(space)).status_code == status, who
        assert client.get(url(space, webhook)).status_code == status, who
        refused = client.post(url(space, webhook), {"action": "delete"})
        assert refused.status_code == status, who
    assert Webhook.objects.exists()
    viewer_page = (
        signed_in(people["viewer"])
        .get(
            reverse(
                "web:space", kwargs={"team_slug": space.team.slug, "slug": space.slug}
            )
        )
        .content.decode()
    )
    assert url(space) not in viewer_page  # no tab for them


@pytest.mark.parametrize("payload", XSS)
def test_names_are_escaped(people, space, payload):
    webhook, _ = webhooks.webhook_create(
        actor=SYSTEM, space=space, name=payload, url=PUBLIC
    )
    client = signed_in(people["owner"])
    assert payload not in client.get(url(space)).content.decode()
    assert payload not in client.get(url(space, webhook)).content.decode()
