"""Routing's gauges for ``/metrics`` (memoryhub.metrics), read at scrape
time: the outbox and webhook backlogs, their oldest pending age and dead
letters per backend, and each backend's circuit state. Labels are backend
names, which operators choose (bounded), never ids or content."""

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from routing.models import (
    Backend,
    CircuitState,
    OutboxEntry,
    OutboxState,
    WebhookDelivery,
)


def collect():
    """Yield routing's gauge families (one query each)."""
    now = timezone.now()
    names = dict(Backend.objects.values_list("pk", "name"))
    pending = GaugeMetricFamily(
        "memoryhub_outbox_pending",
        "Outbox entries waiting for delivery.",
        labels=["backend"],
    )
    oldest = GaugeMetricFamily(
        "memoryhub_outbox_oldest_pending_seconds",
        "Age of the oldest outbox entry waiting for delivery.",
        labels=["backend"],
    )
    dead = GaugeMetricFamily(
        "memoryhub_outbox_dead_letters",
        "Outbox entries that exhausted their attempts (retry them in the admin).",
        labels=["backend"],
    )
    rows = OutboxEntry.objects.values("backend_id").annotate(
        pending=Count("id", filter=Q(state=OutboxState.PENDING)),
        dead=Count("id", filter=Q(state=OutboxState.DEAD)),
        oldest=Min("created_at", filter=Q(state=OutboxState.PENDING)),
    )
    seen = set()
    for row in rows:
        name = names.get(row["backend_id"])
        if name is None:
            continue
        seen.add(name)
        pending.add_metric([name], row["pending"])
        dead.add_metric([name], row["dead"])
        age = (now - row["oldest"]).total_seconds() if row["oldest"] else 0.0
        oldest.add_metric([name], age)
    for name in sorted(set(names.values()) - seen):
        for family in (pending, dead, oldest):
            family.add_metric([name], 0)
    yield from (pending, oldest, dead)

    circuit = GaugeMetricFamily(
        "memoryhub_backend_circuit_state",
        "1 for each backend's current circuit state (closed, open, half_open).",
        labels=["backend", "state"],
    )
    latency = GaugeMetricFamily(
        "memoryhub_backend_latency_seconds",
        "Each backend's call latency (moving average).",
        labels=["backend"],
    )
    for backend in Backend.objects.filter(enabled=True).only(
        "name", "circuit_state", "latency_ewma_ms"
    ):
        for state in CircuitState.values:
            circuit.add_metric(
                [backend.name, state], 1.0 if backend.circuit_state == state else 0.0
            )
        latency.add_metric([backend.name], (backend.latency_ewma_ms or 0.0) / 1000)
    yield from (circuit, latency)

    webhooks = GaugeMetricFamily(
        "memoryhub_webhook_deliveries",
        "Webhook deliveries by state (pending, dead).",
        labels=["state"],
    )
    counts = dict(
        WebhookDelivery.objects.filter(
            state__in=[OutboxState.PENDING, OutboxState.DEAD]
        )
        .values_list("state")
        .annotate(n=Count("id"))
    )
    for state in (OutboxState.PENDING, OutboxState.DEAD):
        webhooks.add_metric([state.value], counts.get(state.value, 0))
    yield webhooks
