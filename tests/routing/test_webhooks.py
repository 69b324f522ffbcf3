"""Webhooks against a real HTTP receiver on 127.0.0.1: every event once and in
order per memory, signed; the backlog after the receiver was down; dead
letters retried from the API; SSRF refusals; no content unless asked; and
mem0's ``MemoryClient`` webhook methods unchanged."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings
from django.utils import timezone
from mem0 import MemoryClient
from mem0.exceptions import ValidationError

from accounts.actors import SYSTEM
from memories import services as memory_services
from routing import webhooks
from routing.models import OutboxState, Webhook, WebhookDelivery
from tests.conftest import client_for_user
from tests.factories import make_key, make_member, make_space, make_team, unit_vector

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_routing"),
]
ALLOW_LOCAL = override_settings(WEBHOOK_ALLOW_PRIVATE=True)


class Receiver:
    """An HTTP server recording what it receives; ``status`` is its answer."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.status == 200:
                    receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def owner(space):
    return make_member(space.team, "owner")


def create(owner, space, **values):
    response = client_for_user(owner).post(
        f"/api/v1/spaces/{space.slug}/webhooks/",
        json.dumps(values),
        content_type="application/json",
    )
    return response


def add(space, text, seed=1, **fields):
    memory, _ = memory_services.memory_add(
        actor=SYSTEM,
        space=space,
        data={"content": text, **fields},
        embedding=unit_vector(seed),
    )
    return memory


def deliver_due(monkeypatch) -> None:
    """What the sweeper does once the backoff has passed (eager mode ignores
    countdowns, so retries are driven here)."""
    WebhookDelivery.objects.filter(state=OutboxState.PENDING).update(
        next_at=timezone.now(), dispatched_at=timezone.now()
    )
    monkeypatch.setattr(webhooks, "REDISPATCH_AFTER_SECONDS", -1)
    webhooks.webhooks_sweep()


@ALLOW_LOCAL
def test_every_event_once_in_order_signed_and_without_content(space, owner, receiver):
    response = create(owner, space, name="audit log", url=receiver.url)
    assert response.status_code == 201, response.json()
    assert response["Cache-Control"] == "no-store"
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    listed = client_for_user(owner).get(f"/api/v1/spaces/{space.slug}/webhooks/")
    assert "secret" not in listed.content.decode()
    assert secret.encode() not in bytes(Webhook.objects.get().secret_sealed)

    memory = add(space, "Gil keeps bees")
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, content="Gil keeps two hives"
    )
    memory_services.memory_delete(actor=SYSTEM, space=space, memory_id=memory.pk)

    events = receiver.events()
    assert [(e["event"], e["version"]) for e in events] == [
        ("memory.add", 1),
        ("memory.update", 2),
        ("memory.delete", 3),
    ]
    assert {e["memory_id"] for e in events} == {str(memory.pk)}
    assert {e["space"] for e in events} == {f"{space.team.slug}/{space.slug}"}
    assert len({e["id"] for e in events}) == 3
    for headers, body in receiver.received:
        assert webhooks.signature_valid(secret, headers["X-MemoryHub-Signature"], body)
        assert not webhooks.signature_valid(
            "whsec_wrong", headers["X-MemoryHub-Signature"], body
        )
        assert b"Gil" not in body  # no content unless asked
        assert headers["X-MemoryHub-Event"] in body.decode()
    # A replay (an old timestamp) fails the check a receiver makes.
    headers, body = receiver.received[0]
    assert not webhooks.signature_valid(
        secret, headers["X-MemoryHub-Signature"], body, now=time.time() + 3600
    )
    assert WebhookDelivery.objects.filter(state=OutboxState.DELIVERED).count() == 3


@ALLOW_LOCAL
def test_content_only_when_the_webhook_asks(space, owner, receiver):
    create(owner, space, name="with text", url=receiver.url, include_content=True)
    add(space, "Hal paints murals")
    (event,) = receiver.events()
    assert event["memory"] == "Hal paints murals"


@ALLOW_LOCAL
def test_a_receiver_that_was_down_gets_the_backlog_in_order(
    space, owner, receiver, monkeypatch
):
    create(
        owner,
        space,
        name="flaky",
        url=receiver.url,
        events=["memory.add", "memory.update"],
    )
    receiver.status = 503
    memory = add(space, "Ivy speaks Welsh")
    for n in range(3):
        memory_services.memory_update(
            actor=SYSTEM,
            space=space,
            memory_id=memory.pk,
            content=f"Ivy speaks Welsh {n}",
        )
    assert receiver.received == []
    first = WebhookDelivery.objects.get(seq=1)
    assert first.attempts == 1 and first.last_error == "HTTP 503"
    assert first.next_at > timezone.now()  # backing off
    receiver.status = 200
    deliver_due(monkeypatch)
    assert [(e["event"], e["version"]) for e in receiver.events()] == [
        ("memory.add", 1),
        ("memory.update", 2),
        ("memory.update", 3),
        ("memory.update", 4),
    ]
    assert not WebhookDelivery.objects.exclude(state=OutboxState.DELIVERED).exists()


@ALLOW_LOCAL
def test_a_receiver_that_always_fails_ends_in_dead_letters_retried_from_the_api(
    space, owner, receiver, monkeypatch
):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 3)
    hook = create(owner, space, name="broken", url=receiver.url).json()
    receiver.status = 500
    add(space, "Jo rides a unicycle")
    for _ in range(3):
        deliver_due(monkeypatch)
    dead = WebhookDelivery.objects.get()
    assert dead.state == OutboxState.DEAD and dead.attempts == 3
    base = f"/api/v1/spaces/{space.slug}/webhooks/{hook['id']}/"
    listed = client_for_user(owner).get(base + "deliveries/", {"state": "dead"})
    assert [d["id"] for d in listed.json()["results"]] == [dead.pk]
    receiver.status = 200
    retried = client_for_user(owner).post(
        base + "retry/", "{}", content_type="application/json"
    )
    assert retried.json() == {"retried": 1}
    assert [e["event"] for e in receiver.events()] == ["memory.add"]
    dead.refresh_from_db()
    assert dead.state == OutboxState.DELIVERED


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_addresses_are_refused_unless_an_operator_allows_them(
    space, owner, url
):
    response = create(owner, space, name="ssrf", url=url)
    assert response.status_code == 400, response.json()
    assert "url" in json.dumps(response.json())
    assert "public addresses only" in response.json()["detail"]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http://user:pw@example.com/"}, "url"),
        ({"url": "http://does-not-resolve.invalid/"}, "url"),
        ({"events": ["memory.created"]}, "events"),
        ({"events": []}, "events"),
        ({"include_content": "yes"}, "include_content"),
        ({"colour": "red"}, "colour"),
    ],
)
@ALLOW_LOCAL
def test_bad_input_is_a_400_naming_the_field(space, owner, receiver, values, field):
    response = create(owner, space, **{"name": "x", "url": receiver.url, **values})
    assert response.status_code == 400, response.json()
    assert field in json.dumps(response.json())
    assert not Webhook.objects.exists()


def test_webhooks_are_managed_by_space_managers_and_writing_keys_only(space, owner):
    viewer = make_member(space.team, "viewer")
    member = make_member(space.team, "member")
    outsider = make_member(make_team("other"), "owner")
    url = f"/api/v1/spaces/{space.slug}/webhooks/"
    assert client_for_user(viewer).get(url).status_code == 403
    assert client_for_user(member).get(url).status_code == 403
    assert client_for_user(outsider).get(url).status_code == 404


@ALLOW_LOCAL
def test_mem0_memory_client_manages_webhooks_unchanged(live_server, receiver):
    team = make_team("acme")
    space = make_space(team, "default")
    _, secret, _ = make_key(team)
    client = MemoryClient(api_key=secret, host=live_server.url)

    created = client.create_webhook(
        url=receiver.url,
        name="mem0 style",
        project_id="default",
        event_types=["memory_add", "memory:delete"],
    )
    assert created["event_types"] == ["memory_add", "memory_delete"]
    assert created["secret"].startswith("whsec_")
    (listed,) = client.get_webhooks(project_id="default")
    assert listed["webhook_id"] == created["webhook_id"] and "secret" not in listed

    client.add("Kai collects stamps", user_id="kai", infer=False)
    assert [e["event"] for e in receiver.events()] == ["memory.add"]

    updated = client.update_webhook(
        webhook_id=created["webhook_id"], name="renamed", event_types=["memory_update"]
    )
    assert updated == {"message": "Webhook updated successfully"}
    assert Webhook.objects.get().events == ["memory.update"]
    with pytest.raises(ValidationError):
        client.update_webhook(
            webhook_id=created["webhook_id"], event_types=["memory_explode"]
        )
    assert client.delete_webhook(webhook_id=created["webhook_id"]) == {
        "message": "Webhook deleted successfully"
    }
    assert not Webhook.objects.exists()
    assert space.webhooks.count() == 0
