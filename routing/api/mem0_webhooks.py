"""mem0's webhook endpoints, so ``MemoryClient.create_webhook / get_webhooks /
update_webhook / delete_webhook`` work unchanged against MemoryHub.

``GET|POST api/v1/webhooks/projects/<project_id>/`` and ``PUT|DELETE
api/v1/webhooks/<webhook_id>/``. A project is the key's space: ``project_id``
is the space's slug (or its UUID), and must be the space the key works in
(its ``X-MemoryHub-Space`` header, its only space, or ``default``); another
is a 404. mem0's event types (``memory_add``, ``memory:add``) are ours
(``memory.add``). Creating needs a key that may change the space's memories.
"""

from rest_framework.response import Response

from memories.mem0api.base import Mem0View, body_of
from memoryhub.errors import InvalidInput, NotFound
from routing import webhooks
from routing.models import Webhook

MEM0_EVENTS = {
    **{f"memory_{e}": f"memory.{e}" for e in ("add", "update", "delete")},
    **{f"memory:{e}": f"memory.{e}" for e in ("add", "update", "delete")},
    **{f"memory.{e}": f"memory.{e}" for e in ("add", "update", "delete")},
}


def _events(value) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InvalidInput(
            "event_types must be a non-empty list of memory_add, memory_update, "
            "memory_delete",
            field="event_types",
        )
    unknown = [e for e in value if e not in MEM0_EVENTS]
    if unknown:
        raise InvalidInput(
            f"unknown event type {str(unknown[0])[:40]!r}; use memory_add, "
            "memory_update or memory_delete",
            field="event_types",
        )
    return [MEM0_EVENTS[e] for e in value]


def _shape(webhook: Webhook) -> dict:
    space = webhook.space
    return {
        "webhook_id": webhook.pk,
        "name": webhook.name,
        "url": webhook.url,
        "event_types": [e.replace(".", "_") for e in webhook.events],
        "is_active": webhook.enabled,
        "project": space.slug,
        "created_at": webhook.created_at.isoformat(),
        "updated_at": webhook.updated_at.isoformat(),
    }


def _values(body: dict, *, creating: bool) -> dict:
    unknown = sorted(set(body) - {"name", "url", "event_types"})
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; allowed: name, url, event_types",
            field=unknown[0],
        )
    values = {key: body[key] for key in ("name", "url") if key in body}
    if "event_types" in body:
        values["events"] = _events(body["event_types"])
    if creating:
        values.setdefault("name", "webhook")
    return values


class ProjectWebhooksView(Mem0View):
    """``GET|POST api/v1/webhooks/projects/<project_id>/``."""

    def _check_project(self, project_id: str) -> None:
        space = self.space
        if project_id not in (space.slug, str(space.uuid)):
            raise NotFound(
                f"project {project_id[:64]!r} not found; a project is the key's "
                f"space ({space.slug!r})"
            )

    def get(self, request, project_id):
        """The project's (space's) webhooks."""
        self._check_project(project_id)
        found = webhooks.webhooks_of(actor=self.actor, space=self.space)
        return Response([_shape(w) for w in found.select_related("space")])

    def post(self, request, project_id):
        """Create a webhook; the answer holds its signing secret, once."""
        self._check_project(project_id)
        webhook, secret = webhooks.webhook_create(
            actor=self.actor,
            space=self.space,
            **_values(body_of(request), creating=True),
        )
        response = Response({**_shape(webhook), "secret": secret}, status=201)
        response["Cache-Control"] = "no-store"
        return response


class WebhookView(Mem0View):
    """``PUT|DELETE api/v1/webhooks/<webhook_id>/`` (of the key's space)."""

    def _webhook(self, webhook_id) -> Webhook:
        return webhooks.webhook_get(
            actor=self.actor, space=self.space, webhook_pk=webhook_id
        )

    def put(self, request, webhook_id):
        """Change a webhook's name, URL or event types."""
        webhooks.webhook_update(
            actor=self.actor,
            space=self.space,
            webhook=self._webhook(webhook_id),
            **_values(body_of(request), creating=False),
        )
        return Response({"message": "Webhook updated successfully"})

    def delete(self, request, webhook_id):
        """Remove a webhook."""
        webhooks.webhook_delete(
            actor=self.actor, space=self.space, webhook=self._webhook(webhook_id)
        )
        return Response({"message": "Webhook deleted successfully"})
