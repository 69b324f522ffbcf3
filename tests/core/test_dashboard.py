"""The Grafana dashboard in deploy/grafana/ uses only metrics MemoryHub
exports: every metric name in its queries appears on /metrics."""

import json
import re
from pathlib import Path

import pytest

from accounts.actors import SYSTEM
from memories import services
from routing import services as routing_services
from tests.factories import BackendFactory

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/grafana/memoryhub.json"
NAME = re.compile(r"\b(memoryhub_[a-z_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing")]


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_every_query_names_an_exported_metric(client, settings, space):
    settings.METRICS_TOKEN = "t"
    BackendFactory(name="graph")
    routing_services.rule_create(
        actor=SYSTEM, name="r", match={"spaces": ["acme/*"]}, write_backends=["graph"]
    )
    services.memory_add(actor=SYSTEM, space=space, data={"content": "x"})
    exported = client.get("/metrics", headers={"Authorization": "Bearer t"})
    names = {_base(n) for n in NAME.findall(exported.content.decode())}
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["panels"]
    used = {
        _base(name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in NAME.findall(target["expr"])
    }
    # Histograms and counters show up only once observed: the ones this test
    # did not exercise are declared in memoryhub/metrics.py.
    source = (DASHBOARD.parents[2] / "memoryhub/metrics.py").read_text()
    declared = {_base(name) for name in NAME.findall(source)}
    assert used <= names | declared, used - names - declared
    assert {"memoryhub_outbox_pending", "memoryhub_http_requests"} <= used
