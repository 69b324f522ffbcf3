"""The routing admin: backend secrets are write-only (set, merged, replaced,
never shown, not even back in a form with errors); settings are checked by
the service and shown as form errors; only operators get in."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.actors import SYSTEM
from routing import services
from routing.models import Backend
from tests.factories import BackendFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing")]

SECRET = "sk-live-3f9a0c7e51d24b8a"
OTHER_SECRET = "tok-9b1e44d0c2aa7f31"
ADD_URL = reverse("admin:routing_backend_add")


@pytest.fixture
def operator_client() -> Client:
    client = Client()
    client.force_login(
        UserFactory(username="operator", is_staff=True, is_superuser=True)
    )
    return client


def form(**overrides) -> dict:
    """A complete backend form (a mem0_platform backend with no secrets)."""
    return {
        "name": "peer",
        "kind": "mem0_platform",
        "enabled": "on",
        "config": json.dumps({"host": "http://127.0.0.1:9"}),
        "allows_plaintext": "on",
        "timeout_seconds": "5",
        "max_retries": "2",
        "set_secrets": "",
        **overrides,
    }


def peer(
    kind: str = "mem0_platform",
    config: dict | None = None,
    secrets: dict | None = None,
):
    """A backend named ``peer`` that may receive plaintext (nothing listens)."""
    return BackendFactory(
        name="peer",
        kind=kind,
        config=config or {"host": "http://127.0.0.1:9"},
        secrets=secrets,
    )


def change_url(backend) -> str:
    return reverse("admin:routing_backend_change", args=[backend.pk])


def assert_hidden(response, *values) -> None:
    body = response.content.decode()
    for value in values:
        assert value not in body


def test_operators_set_secrets_and_only_ever_see_their_names(operator_client):
    added = operator_client.post(
        ADD_URL, form(set_secrets=json.dumps({"api_key": SECRET}))
    )
    assert added.status_code == 302, added.content.decode()[-2000:]
    backend = Backend.objects.get(name="peer")
    assert services.backend_secrets(backend) == {"api_key": SECRET}
    assert SECRET.encode() not in bytes(backend.secrets_sealed)

    page = operator_client.get(change_url(backend))
    assert page.status_code == 200
    assert "Secrets set" in page.content.decode()
    assert "api_key" in page.content.decode()
    assert_hidden(page, SECRET)
    listing = operator_client.get(reverse("admin:routing_backend_changelist"))
    assert_hidden(listing, SECRET)

    # Leaving the field empty keeps the secrets; the form never re-sends them.
    kept = operator_client.post(change_url(backend), form(max_retries="3"))
    assert kept.status_code == 302
    backend.refresh_from_db()
    assert backend.max_retries == 3
    assert services.backend_secrets(backend) == {"api_key": SECRET}


def test_secrets_merge_remove_and_replace(operator_client):
    backend = peer(
        kind="mcp_memory",
        config={"url": "http://127.0.0.1:9/mcp"},
        secrets={"api_key": SECRET},
    )
    base = form(kind="mcp_memory", config=json.dumps(backend.config))
    response = operator_client.post(
        change_url(backend), {**base, "set_secrets": json.dumps({"api_key": ""})}
    )
    assert response.status_code == 302
    backend.refresh_from_db()
    assert services.backend_secrets(backend) == {}
    assert backend.secrets_sealed is None

    operator_client.post(
        change_url(backend), {**base, "set_secrets": json.dumps({"api_key": SECRET})}
    )
    response = operator_client.post(
        change_url(backend),
        {
            **base,
            "set_secrets": json.dumps({"api_key": OTHER_SECRET}),
            "replace_secrets": "on",
        },
    )
    assert response.status_code == 302
    backend.refresh_from_db()
    assert services.backend_secrets(backend) == {"api_key": OTHER_SECRET}
    operator_client.post(change_url(backend), {**base, "replace_secrets": "on"})
    backend.refresh_from_db()
    assert services.backend_secrets(backend) == {}


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        (json.dumps({"token": OTHER_SECRET}), "unknown secret(s)"),
        ('{"api_key": "' + OTHER_SECRET + '"', "not valid JSON"),
        (json.dumps({"api_key": 42}), "JSON object of strings"),
        (json.dumps([OTHER_SECRET]), "JSON object of strings"),
    ],
)
def test_bad_secrets_are_form_errors_that_never_echo_the_value(
    operator_client, secrets, message
):
    response = operator_client.post(ADD_URL, form(set_secrets=secrets))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert_hidden(response, OTHER_SECRET)
    assert not Backend.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "nope"}, "unknown backend kind"),
        ({"config": json.dumps({})}, "missing config key(s): host"),
        ({"timeout_seconds": "500"}, "timeout_seconds must be between"),
    ],
)
def test_invalid_settings_are_form_errors_not_500s(operator_client, overrides, message):
    response = operator_client.post(
        ADD_URL, form(set_secrets=json.dumps({"api_key": SECRET}), **overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert_hidden(response, SECRET)
    assert not Backend.objects.exists()


def test_taking_plaintext_from_a_routed_backend_is_a_form_error(operator_client):
    backend = peer()
    services.rule_create(actor=SYSTEM, name="r", write_backends=["peer"])
    data = form()
    del data["allows_plaintext"]
    response = operator_client.post(change_url(backend), data)
    assert response.status_code == 200
    assert "change them before forbidding plaintext" in response.content.decode()
    backend.refresh_from_db()
    assert backend.allows_plaintext


def test_only_operators_open_the_backend_admin(db):
    backend = peer(secrets={"api_key": SECRET})
    plain = Client()
    plain.force_login(UserFactory(username="plain"))
    for url in (ADD_URL, change_url(backend)):
        response = plain.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert plain.post(ADD_URL, form(name="sneaky")).status_code == 302

    # Staff without the backend permissions: refused, nothing shown.
    staff = Client()
    staff.force_login(UserFactory(username="staff", is_staff=True))
    assert staff.get(change_url(backend)).status_code == 403
    assert staff.post(ADD_URL, form(name="sneaky")).status_code == 403
    assert list(Backend.objects.values_list("name", flat=True)) == ["peer"]

    # Viewing is not changing: the page shows names, never values or inputs.
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_backend"))
    client = Client()
    client.force_login(viewer)
    page = client.get(change_url(backend))
    assert page.status_code == 200
    assert "api_key" in page.content.decode()
    assert 'name="set_secrets"' not in page.content.decode()
    assert_hidden(page, SECRET)


def test_sync_jobs_in_the_admin_create_with_schedule_run_now_and_show_runs(
    operator_client, space, tmp_path
):
    from django_celery_beat.models import PeriodicTask

    from routing.models import SyncJob, SyncRun
    from tests.routing_helpers import add, mcp_backend

    graph = mcp_backend(tmp_path, "graph", allows_plaintext=True)
    add(space, "Ada likes tea", seed=1)
    data = {
        "name": "nightly",
        "space": space.pk,
        "backend": graph.pk,
        "direction": "push",
        "schedule": json.dumps({"every": 3600}),
        "enabled": "on",
        "filter": "{}",
        "conflict_policy": "newest",
        "batch_size": "200",
        "rate_limit": "0",
        # the runs inline's (empty) formset
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
        "runs-MIN_NUM_FORMS": "0",
        "runs-MAX_NUM_FORMS": "0",
    }
    bad = operator_client.post(
        reverse("admin:routing_syncjob_add"),
        {**data, "schedule": json.dumps({"every": "hourly"})},
    )
    assert bad.status_code == 200 and "schedule.every must be" in bad.content.decode()
    assert not SyncJob.objects.exists()
    created = operator_client.post(reverse("admin:routing_syncjob_add"), data)
    assert created.status_code == 302, created.content.decode()[-2000:]
    job = SyncJob.objects.get()
    assert PeriodicTask.objects.get(pk=job.periodic_task_id).interval.every == 3600
    changelist = reverse("admin:routing_syncjob_changelist")
    operator_client.post(
        changelist, {"action": "run_now", "_selected_action": [job.pk]}, follow=True
    )
    assert SyncRun.objects.filter(job=job).exists()
    listing = operator_client.get(changelist).content.decode()
    assert "nightly" in listing and "never" not in listing
    page = operator_client.get(reverse("admin:routing_syncjob_change", args=[job.pk]))
    assert page.status_code == 200
    runs = operator_client.get(reverse("admin:routing_syncrun_changelist"))
    assert runs.status_code == 200 and "Ada likes tea" not in runs.content.decode()


def test_webhooks_in_the_admin_are_read_only_and_never_show_the_secret(
    operator_client, space
):
    from routing import webhooks

    webhook, secret = webhooks.webhook_create(
        actor=SYSTEM, space=space, name="crm", url="http://93.184.215.14/h"
    )
    for url in (
        reverse("admin:routing_webhook_changelist"),
        reverse("admin:routing_webhook_change", args=[webhook.pk]),
        reverse("admin:routing_webhookdelivery_changelist"),
    ):
        response = operator_client.get(url)
        assert response.status_code == 200, url
        assert secret not in response.content.decode()
    assert operator_client.get(reverse("admin:routing_webhook_add")).status_code == 403
