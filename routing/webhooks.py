"""Webhooks: tell other systems what changed in a space, signed, in order, retried.

A memory write calls :func:`webhooks_enqueue` (through
:class:`routing.adapter.HubRoutingAdapter`) inside its transaction: one
:class:`~routing.models.WebhookDelivery` per subscribed webhook and memory,
holding ids, the event and the memory's version — never content. After
commit a task delivers each (webhook, memory) pair's pending events in
order, under a per-pair advisory lock, as the outbox delivers replicas:
failures back off exponentially with jitter, a delivery that keeps failing
becomes a dead letter (visible, retryable), and the outbox's sweeper
re-dispatches pairs whose task was lost.

Each POST is signed: ``X-MemoryHub-Signature: t=<unix time>,v1=<hex>``, the
HMAC-SHA256 of ``"<t>.<body>"`` under the webhook's secret (shown once), so a
receiver checks the body and rejects replays (an old ``t``). The payload is
``{"id", "event", "memory_id", "space", "version", "at"}`` plus ``"memory"``
(the text) only when the webhook's ``include_content`` is on.

The routing snapshot (:func:`routing.rules.snapshot`) lists the enabled
webhooks per space, so a write in a space without any costs no query; a
change reaches every process within ``routing.rules.CHECK_SECONDS``.

Every URL is checked against SSRF when saved and again before each delivery
(DNS can change): http(s) only, and every address the host resolves to must
be public unless ``MEMORYHUB_WEBHOOK_ALLOW_PRIVATE`` is set; redirects are
not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets as token_source
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.actors import Actor
from memories import permissions
from memories.encryption.sealing import memory_content
from memories.models import Memory, MemoryState, Space
from memories.permissions import require_perm
from memoryhub.crypto import unwrap_key, wrap_key
from memoryhub.dispatch import send
from memoryhub.errors import InvalidInput, NotFound
from routing import rules
from routing.models import WEBHOOK_EVENTS, OutboxState, Webhook, WebhookDelivery
from routing.outbox import backoff_seconds
from routing.services import bump

logger = logging.getLogger(__name__)

EVENT_OF_OP = {
    "add": "memory.add",
    "update": "memory.update",
    "delete": "memory.delete",
}
SIGNATURE_HEADER = "X-MemoryHub-Signature"
MAX_ATTEMPTS = settings.ROUTING_OUTBOX_MAX_ATTEMPTS
REDISPATCH_AFTER_SECONDS = settings.ROUTING_OUTBOX_REDISPATCH_AFTER
MAX_URL_CHARS = 2000
BUSY_RETRY_SECONDS = 1.0


# --- secrets and signatures ---------------------------------------------------


def _secret_aad(webhook_pk: int) -> bytes:
    return f"routing-webhook-secret:{webhook_pk}".encode()


def webhook_secret(webhook: Webhook) -> str:
    """The webhook's signing secret (only delivery reads it)."""
    return unwrap_key(bytes(webhook.secret_sealed), _secret_aad(webhook.pk)).decode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-MemoryHub-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signature_valid(
    secret: str, header: str, body: bytes, *, tolerance: int = 300, now=None
) -> bool:
    """How a receiver checks a delivery: the MAC, and a timestamp within
    ``tolerance`` seconds (older is a replay)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- SSRF ---------------------------------------------------------------------


def url_check(url) -> str:
    """``url`` if a webhook may call it (400 naming ``url`` otherwise)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"url must be 1 to {MAX_URL_CHARS} characters", field="url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an http:// or https:// URL", field="url")
    if parts.username or parts.password:
        raise InvalidInput("url must not carry credentials", field="url")
    problem = _address_problem(parts.hostname, parts.port)
    if problem:
        raise InvalidInput(problem, field="url")
    return url


def _address_problem(host: str, port: int | None) -> str | None:
    try:
        found = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return f"url's host {host[:100]!r} does not resolve"
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return None
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return (
                f"url's host {host[:100]!r} resolves to {address}, a private, "
                "loopback, link-local or reserved address; webhooks call public "
                "addresses only (an operator may allow private ones: "
                "MEMORYHUB_WEBHOOK_ALLOW_PRIVATE)"
            )
    return None


# --- managing webhooks --------------------------------------------------------


def require_webhook_admin(actor: Actor, space: Space) -> None:
    """People manage webhooks with ``manage_space``; API keys (mem0's clients
    use theirs) need a key that may change the space's memories."""
    require_perm(
        actor,
        space,
        permissions.CHANGE if actor.api_key is not None else permissions.MANAGE,
    )


def _events(value) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InvalidInput(
            f"events must be a non-empty list of: {', '.join(WEBHOOK_EVENTS)}",
            field="events",
        )
    unknown = [e for e in value if e not in WEBHOOK_EVENTS]
    if unknown:
        raise InvalidInput(
            f"unknown event {str(unknown[0])[:40]!r}; use: {', '.join(WEBHOOK_EVENTS)}",
            field="events",
        )
    return sorted(set(value))


def _clean(values: dict) -> dict:
    cleaned = {}
    for key, value in values.items():
        if key == "name":
            if not isinstance(value, str) or not value.strip() or len(value) > 100:
                raise InvalidInput("name must be 1 to 100 characters", field="name")
            cleaned[key] = value.strip()
        elif key == "url":
            cleaned[key] = url_check(value)
        elif key == "events":
            cleaned[key] = _events(value)
        elif key in ("enabled", "include_content"):
            if not isinstance(value, bool):
                raise InvalidInput(f"{key} must be true or false", field=key)
            cleaned[key] = value
        else:
            raise InvalidInput(
                f"unknown field {key!r}; allowed: name, url, events, enabled, "
                "include_content",
                field=key,
            )
    return cleaned


@transaction.atomic
def webhook_create(*, actor: Actor, space: Space, **values) -> tuple[Webhook, str]:
    """A new webhook and its signing secret (returned once, never again)."""
    require_webhook_admin(actor, space)
    cleaned = _clean(values)
    for required in ("name", "url"):
        if required not in cleaned:
            raise InvalidInput(f"{required} is required", field=required)
    cleaned.setdefault("events", list(WEBHOOK_EVENTS))
    secret = "whsec_" + token_source.token_urlsafe(32)
    webhook = Webhook.objects.create(
        space=space, created_by=actor.user, secret_sealed=b"", **cleaned
    )
    webhook.secret_sealed = wrap_key(secret.encode(), _secret_aad(webhook.pk))
    webhook.save(update_fields=["secret_sealed"])
    bump()  # every process's routing snapshot learns of it
    return webhook, secret


def webhooks_of(*, actor: Actor, space: Space):
    """The space's webhooks."""
    require_webhook_admin(actor, space)
    return Webhook.objects.filter(space=space).order_by("-id")


def webhook_get(*, actor: Actor, space: Space, webhook_pk) -> Webhook:
    """One webhook of the space (404 otherwise)."""
    require_webhook_admin(actor, space)
    try:
        pk = int(webhook_pk)
    except (TypeError, ValueError):
        pk = -1
    webhook = Webhook.objects.filter(space=space, pk=pk).first()
    if webhook is None:
        raise NotFound(f"webhook {str(webhook_pk)[:40]!r} not found")
    return webhook


@transaction.atomic
def webhook_update(
    *, actor: Actor, space: Space, webhook: Webhook, **values
) -> Webhook:
    """Change a webhook (its secret stays)."""
    webhook = webhook_get(actor=actor, space=space, webhook_pk=webhook.pk)
    for key, value in _clean(values).items():
        setattr(webhook, key, value)
    webhook.save()
    bump()
    return webhook


@transaction.atomic
def webhook_delete(*, actor: Actor, space: Space, webhook: Webhook) -> None:
    """Remove a webhook and its deliveries."""
    webhook_get(actor=actor, space=space, webhook_pk=webhook.pk).delete()
    bump()


def webhook_deliveries(*, actor: Actor, space: Space, webhook: Webhook, state=None):
    """A webhook's deliveries, newest first (``state``: pending/delivered/dead)."""
    webhook = webhook_get(actor=actor, space=space, webhook_pk=webhook.pk)
    deliveries = WebhookDelivery.objects.filter(webhook=webhook).order_by("-id")
    if state is not None:
        if state not in OutboxState.values:
            raise InvalidInput(
                f"state must be one of {', '.join(OutboxState.values)}", field="state"
            )
        deliveries = deliveries.filter(state=state)
    return deliveries


def webhook_retry(*, actor: Actor, space: Space, webhook: Webhook, ids=None) -> int:
    """Put dead (or given) deliveries back to pending and send them now."""
    webhook = webhook_get(actor=actor, space=space, webhook_pk=webhook.pk)
    deliveries = WebhookDelivery.objects.filter(webhook=webhook).exclude(
        state=OutboxState.DELIVERED
    )
    deliveries = (
        deliveries.filter(pk__in=list(ids))
        if ids
        else deliveries.filter(state=OutboxState.DEAD)
    )
    now = timezone.now()
    pairs = set(deliveries.values_list("webhook_id", "memory_id"))
    count = deliveries.update(
        state=OutboxState.PENDING, attempts=0, next_at=now, dispatched_at=now
    )
    transaction.on_commit(lambda: [dispatch(w, m) for w, m in pairs])
    return count


# --- enqueue (inside the write's transaction) ---------------------------------


def webhooks_enqueue(*, memories, op: str) -> int:
    """Queue the event of ``op`` on ``memories`` for their spaces' webhooks."""
    event = EVENT_OF_OP.get(op)
    if event is None or not memories:
        return 0
    # A delete is queued before the row changes: it makes the next version.
    step = 1 if op == "delete" else 0
    versions = {
        m.pk: (m.space_id, m.version + (step if m.state != MemoryState.DELETED else 0))
        for m in memories
    }
    return _enqueue(versions, event, fresh=op == "add")


def webhooks_enqueue_deletes(*, memory_ids, space_id: int) -> int:
    """Queue ``memory.delete`` for memories about to be erased."""
    return _enqueue({m: (space_id, 0) for m in memory_ids}, "memory.delete")


def _enqueue(versions: dict, event: str, *, fresh: bool = False) -> int:
    """``fresh``: the memories are new, so no pair has an earlier event."""
    subscribed = rules.snapshot().webhooks
    spaces = {space_id for space_id, _ in versions.values()}
    hooks = [
        (pk, space_id)
        for space_id in spaces
        for pk, events in subscribed.get(space_id, ())
        if event in events
    ]
    if not hooks:
        return 0
    last = (
        {}
        if fresh
        else {
            (row["webhook_id"], row["memory_id"]): row["top"]
            for row in WebhookDelivery.objects.filter(
                webhook_id__in=[pk for pk, _ in hooks], memory_id__in=list(versions)
            )
            .values("webhook_id", "memory_id")
            .annotate(top=Max("seq"))
        }
    )
    now = timezone.now()
    rows = [
        WebhookDelivery(
            webhook_id=hook,
            event_id=uuid.uuid4(),
            memory_id=memory_id,
            event=event,
            version=version,
            seq=last.get((hook, memory_id), 0) + 1,
            at=now,
            next_at=now,
            dispatched_at=now,
        )
        for memory_id, (space_id, version) in versions.items()
        for hook, hook_space in hooks
        if hook_space == space_id
    ]
    WebhookDelivery.objects.bulk_create(rows)
    pairs = {(row.webhook_id, row.memory_id) for row in rows}
    transaction.on_commit(lambda: [dispatch(w, m) for w, m in pairs])
    return len(rows)


def dispatch(webhook_id: int, memory_id, countdown: float = 0.0) -> None:
    """Send the delivery task of one pair (never raises: the sweeper catches up)."""
    # The task module imports this one (the accepted task <-> service pair).
    from routing.tasks import webhook_deliver_task

    if countdown and webhook_deliver_task.app.conf.task_always_eager:
        return  # eager mode ignores countdowns: a retry would recurse at once
    sent = send(
        webhook_deliver_task,
        args=[webhook_id, str(memory_id)],
        countdown=countdown,
        what="a webhook delivery",
    )
    if not sent:  # not dispatched after all: the sweeper's next pass takes it
        WebhookDelivery.objects.filter(
            webhook_id=webhook_id, memory_id=memory_id, state=OutboxState.PENDING
        ).update(
            dispatched_at=timezone.now() - timedelta(seconds=REDISPATCH_AFTER_SECONDS)
        )


# --- delivery -----------------------------------------------------------------


@dataclass
class Sent:
    """What a delivery did; ``retry_in`` seconds when it must run again."""

    status: str  # delivered | nothing | busy | failed | dead
    retry_in: float | None = None


def payload(delivery: WebhookDelivery, webhook: Webhook) -> bytes:
    """The JSON body of one delivery (content only if the webhook asks)."""
    space = webhook.space
    body = {
        "id": str(delivery.event_id),
        "event": delivery.event,
        "memory_id": str(delivery.memory_id),
        "space": f"{space.team.slug}/{space.slug}",
        "version": delivery.version,
        "at": delivery.at.isoformat(),
    }
    if webhook.include_content and delivery.event != "memory.delete":
        memory = Memory.objects.filter(pk=delivery.memory_id, space=space).first()
        if memory is not None and memory.state != MemoryState.DELETED:
            body["memory"] = memory_content(memory, space)
    return json.dumps(body, separators=(",", ":")).encode()


def _post(webhook: Webhook, secret: str, delivery: WebhookDelivery) -> int:
    """POST one delivery; its status (raises on a refused or failed call)."""
    problem = _address_problem(
        urlsplit(webhook.url).hostname or "", urlsplit(webhook.url).port
    )
    if problem:
        raise ValueError(problem)
    body = payload(delivery, webhook)
    timestamp = int(time.time())
    response = httpx.post(
        webhook.url,
        content=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "MemoryHub-Webhooks/1",
            "X-MemoryHub-Event": delivery.event,
            "X-MemoryHub-Delivery": str(delivery.event_id),
            "X-MemoryHub-Timestamp": str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body),
        },
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        follow_redirects=False,
    )
    return response.status_code


def webhook_deliver(*, webhook_id: int, memory_id) -> Sent:
    """Send one pair's pending events in order (see the module doc)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(hashtext(%s))",
                [f"webhook:{webhook_id}:{memory_id}"],
            )
            if not cursor.fetchone()[0]:
                return Sent("busy", retry_in=BUSY_RETRY_SECONDS)
        pending = list(
            WebhookDelivery.objects.select_for_update()
            .filter(
                webhook_id=webhook_id, memory_id=memory_id, state=OutboxState.PENDING
            )
            .order_by("seq")
        )
        if not pending:
            return Sent("nothing")
        webhook = (
            Webhook.objects.select_related("space", "space__team")
            .filter(pk=webhook_id)
            .first()
        )
        if webhook is None or not webhook.enabled:
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in pending]).update(
                next_at=timezone.now() + timedelta(seconds=60)
            )
            return Sent("nothing")
        secret = webhook_secret(webhook)
        now = timezone.now()
        for delivery in pending:
            if delivery.next_at > now:
                return Sent("failed", retry_in=(delivery.next_at - now).total_seconds())
            try:
                status = _post(webhook, secret, delivery)
                error = None if 200 <= status < 300 else f"HTTP {status}"
            except (httpx.HTTPError, ValueError) as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"[:300]
            delivery.response_status = status
            if error is None:
                delivery.state, delivery.delivered_at = OutboxState.DELIVERED, now
                delivery.last_error = ""
                delivery.save(
                    update_fields=[
                        "state",
                        "delivered_at",
                        "last_error",
                        "response_status",
                    ]
                )
                continue
            delivery.attempts += 1
            delivery.last_error = error
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.state = OutboxState.DEAD
                delivery.save(
                    update_fields=["state", "attempts", "last_error", "response_status"]
                )
                logger.warning(
                    "webhook %s delivery %s dead after %s attempts: %s",
                    webhook_id,
                    delivery.event_id,
                    delivery.attempts,
                    error,
                )
                continue  # the next events of this memory still go out
            delay = backoff_seconds(delivery.attempts)
            delivery.next_at = delivery.dispatched_at = now + timedelta(seconds=delay)
            delivery.save(
                update_fields=[
                    "attempts",
                    "last_error",
                    "response_status",
                    "next_at",
                    "dispatched_at",
                ]
            )
            return Sent("failed", retry_in=delay)  # later events wait: order
        return Sent("delivered")


def webhooks_sweep(*, limit: int = 500) -> int:
    """Re-dispatch pending pairs that are due and whose task seems lost."""
    now = timezone.now()
    stale = now - timedelta(seconds=REDISPATCH_AFTER_SECONDS)
    due = WebhookDelivery.objects.filter(
        state=OutboxState.PENDING, next_at__lte=now, dispatched_at__lte=stale
    )
    pairs = list(due.values_list("webhook_id", "memory_id").distinct()[:limit])
    for webhook_id, memory_id in pairs:
        WebhookDelivery.objects.filter(
            webhook_id=webhook_id, memory_id=memory_id, state=OutboxState.PENDING
        ).update(dispatched_at=now)
        dispatch(webhook_id, memory_id)
    return len(pairs)
