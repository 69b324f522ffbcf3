"""The backends page: which backends serve the space, circuits, backlog."""

import pytest
from django.test import Client
from django.urls import reverse

from routing import services as routing_services
from tests.factories import SYSTEM, BackendFactory
from tests.routing_helpers import reset_routing_state
from tests.web.conftest import add, signed_in

pytestmark = pytest.mark.django_db


def url(space):
    return reverse(
        "web:space_backends", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )


@pytest.fixture(autouse=True)
def _fresh_rules():
    reset_routing_state()
    yield
    reset_routing_state()


def test_a_space_served_only_by_its_own_store_says_so(people, space):
    body = signed_in(people["viewer"]).get(url(space)).content.decode()
    assert "served by MemoryHub's own encrypted store only" in body
    assert "closed (healthy)" in body


def test_a_replica_shows_its_backlog(people, space):
    BackendFactory(name="graph")
    routing_services.rule_create(
        actor=SYSTEM, name="to-graph", write_backends=["graph"]
    )
    reset_routing_state()
    add(space, "Ada likes tea", 1)
    add(space, "Bob skis", 2)
    page = signed_in(people["viewer"]).get(url(space))
    assert page.status_code == 200
    body = page.content.decode()
    assert "graph" in body and "mcp_memory" in body
    row = body[body.index("<td>graph") :]
    assert "<td>2, oldest" in row[: row.index("</tr>")]
    assert "own encrypted store only" not in body


def test_another_team_and_anonymous(people, space):
    assert signed_in(people["outsider"]).get(url(space)).status_code == 404
    assert Client().get(url(space)).status_code == 302


def sync_url(space, job_pk):
    return reverse(
        "web:space_sync_run",
        kwargs={"team_slug": space.team.slug, "slug": space.slug, "job_pk": job_pk},
    )


def test_sync_jobs_show_their_status_and_managers_run_them(
    people, space, tmp_path, django_capture_on_commit_callbacks
):
    from routing.models import SyncRun
    from routing.sync import services as sync
    from tests.routing_helpers import mcp_backend

    backend = mcp_backend(tmp_path, "graph", allows_plaintext=True)
    job = sync.sync_job_create(
        actor=SYSTEM,
        name="to the graph",
        space=space,
        backend=backend,
        direction="push",
    )
    add(space, "Ada likes tea", 1)
    viewer = signed_in(people["viewer"]).get(url(space)).content.decode()
    assert "to the graph" in viewer and "never" in viewer
    assert viewer.count('id="sync-heading"') == 1  # in the page's body only
    assert "Sync jobs" not in viewer[: viewer.index("</title>")]
    assert sync_url(space, job.pk) not in viewer  # no button for viewers
    # A viewer's crafted POST, and another team's owner's, are 404s.
    assert signed_in(people["viewer"]).post(sync_url(space, job.pk)).status_code == 404
    assert (
        signed_in(people["outsider"]).post(sync_url(space, job.pk)).status_code == 404
    )
    assert not SyncRun.objects.exists()

    owner = signed_in(people["owner"])
    assert sync_url(space, job.pk) in owner.get(url(space)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the task, eagerly
        started = owner.post(sync_url(space, job.pk))
    assert started.status_code == 302 and started["Location"] == url(space)
    body = owner.get(url(space)).content.decode()
    assert f"Run {SyncRun.objects.get().pk} of to the graph" in body
    assert "1 added" in body and "succeeded" in body
