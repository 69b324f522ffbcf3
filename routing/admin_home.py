"""The admin home's "check first" panel: backends with their health and
circuit, the outbox and webhook backlogs with dead letters, what failed in
the last day, API keys about to expire — each linking to where it is fixed.

Routing sits above accounts and memories, so it can read all three; the
composition root (``memoryhub/urls.py``) hands this to the admin index.
"""

from datetime import timedelta

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey
from memories.models import ExtractionEvent, ImportJob
from routing.models import (
    Backend,
    OutboxEntry,
    OutboxState,
    SyncRun,
    SyncRunState,
    WebhookDelivery,
)

EXPIRING_DAYS = 7


def _changelist(model, **query) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def index_context() -> dict:
    """What the admin index shows above the app list."""
    now = timezone.now()
    day = now - timedelta(days=1)
    outbox = OutboxEntry.objects.values("backend_id").annotate(
        pending=Count("id", filter=Q(state=OutboxState.PENDING)),
        dead=Count("id", filter=Q(state=OutboxState.DEAD)),
        oldest=Min("created_at", filter=Q(state=OutboxState.PENDING)),
    )
    by_backend = {row["backend_id"]: row for row in outbox}
    backends = []
    for backend in Backend.objects.order_by("name"):
        row = by_backend.get(backend.pk, {})
        oldest = row.get("oldest")
        backends.append(
            {
                "backend": backend,
                "url": reverse("admin:routing_backend_change", args=[backend.pk]),
                "pending": row.get("pending", 0),
                "dead": row.get("dead", 0),
                "oldest": oldest,
                "latency": (
                    f"{backend.latency_ewma_ms:,.0f} ms"
                    if backend.latency_ewma_ms is not None
                    else "—"
                ),
            }
        )
    failures = [
        (
            "extractions failed",
            ExtractionEvent.objects.filter(state="FAILED", created_at__gte=day).count(),
            _changelist(ExtractionEvent, state__exact="FAILED"),
        ),
        (
            "imports failed",
            ImportJob.objects.filter(state="failed", created_at__gte=day).count(),
            None,
        ),
        (
            "sync runs failed",
            SyncRun.objects.filter(
                state__in=[SyncRunState.FAILED, SyncRunState.PARTIAL],
                started_at__gte=day,
            ).count(),
            _changelist(SyncRun),
        ),
        (
            "webhook deliveries dead",
            WebhookDelivery.objects.filter(state=OutboxState.DEAD).count(),
            _changelist(WebhookDelivery, state__exact="dead"),
        ),
        (
            "outbox dead letters",
            OutboxEntry.objects.filter(state=OutboxState.DEAD).count(),
            _changelist(OutboxEntry, state__exact="dead"),
        ),
    ]
    expiring = list(
        ApiKey.objects.filter(
            revoked_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=EXPIRING_DAYS),
        )
        .select_related("team")
        .order_by("expires_at")[:20]
    )
    return {
        "hub_backends": backends,
        "hub_failures": failures,
        "hub_expiring": expiring,
        "hub_expiring_days": EXPIRING_DAYS,
    }
