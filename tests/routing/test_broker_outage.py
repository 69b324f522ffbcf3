"""The broker goes away: writes still succeed (their replication is in the
outbox, in the database), ``/readyz`` names the broker, the request log gets
one line per lost dispatch instead of a traceback, and delivery resumes when
the broker is back (the sweeper queues what was missed)."""

import logging

import pytest
from kombu import pools

from accounts.actors import SYSTEM
from memoryhub.celery import app as celery_app
from routing import outbox, services
from routing.models import ExternalRef, OutboxEntry, OutboxState
from tests.conftest import client_for_key
from tests.factories import make_key
from tests.routing_helpers import graph_names, mcp_backend

pytestmark = [pytest.mark.usefixtures("fresh_routing"), pytest.mark.django_db]
CLOSED = "redis://127.0.0.1:9/0"  # the discard port: nothing listens


@pytest.fixture
def broker_down():
    conf = celery_app.conf
    saved = {k: conf[k] for k in ("broker_url", "task_always_eager")}
    conf.broker_url, conf.task_always_eager = CLOSED, False
    celery_app._pool = None
    celery_app.amqp._producer_pool = None

    def back():
        pools.reset()
        for key, value in saved.items():
            conf[key] = value
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    yield back
    back()


def test_writes_succeed_without_a_broker_and_deliveries_resume(
    team, space, tmp_path, broker_down, django_capture_on_commit_callbacks, caplog
):
    graph = mcp_backend(tmp_path)
    services.rule_create(
        actor=SYSTEM,
        name="to-graph",
        match={"spaces": ["acme/*"]},
        write_backends=["graph"],
    )
    api = client_for_key(make_key(team)[1])
    with (
        caplog.at_level(logging.WARNING),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api.post(
            "/api/v1/spaces/default/memories/",
            {"content": "kept without a broker"},
            format="json",
        )
    assert response.status_code == 201
    entry = OutboxEntry.objects.get()
    assert entry.state == OutboxState.PENDING
    lines = [r for r in caplog.records if r.name == "memoryhub.dispatch"]
    assert lines and all(r.exc_info is None for r in lines)
    assert "queued again when the broker is back" in lines[0].getMessage()
    ready = api.get("/readyz")
    assert ready.status_code == 503 and ready.json()["failed"] == ["broker"]
    broker_down()  # the broker is back (eager here: delivery runs at once)
    OutboxEntry.objects.update(next_at=entry.created_at)  # due now
    outbox.outbox_sweep()
    assert ExternalRef.objects.filter(backend=graph).count() == 1
    assert graph_names(graph)
