"""Webhooks of a space (``/api/v1/spaces/<slug>/webhooks/``).

Managed by the people who manage the space (``manage_space``) and by API
keys that may change its memories; anyone who cannot see the space gets a
404. The signing secret is in the creation's answer only.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from memories.api.viewsets import SpaceViewSet
from routing import webhooks
from routing.api.serializers import (
    DeliveryQuerySerializer,
    WebhookCreatedSerializer,
    WebhookDeliverySerializer,
    WebhookRetrySerializer,
    WebhookSerializer,
    WebhookWriteSerializer,
)


class WebhookViewSet(SpaceViewSet):
    """A space's webhooks: list, create, read, change, delete, deliveries, retry."""

    serializer_class = WebhookSerializer
    lookup_value_converter = "int"
    cursor_ordering = ("-id",)

    def _webhook(self, pk):
        return webhooks.webhook_get(actor=self.actor, space=self.space, webhook_pk=pk)

    def list(self, request, slug):
        """The space's webhooks, newest first."""
        self.query(paginated=True)
        return self.paginated(
            webhooks.webhooks_of(actor=self.actor, space=self.space),
            lambda page: WebhookSerializer(page, many=True).data,
        )

    @extend_schema(
        request=WebhookWriteSerializer, responses={201: WebhookCreatedSerializer}
    )
    def create(self, request, slug):
        """Register a URL; the answer holds its signing secret, shown once."""
        webhook, secret = webhooks.webhook_create(
            actor=self.actor, space=self.space, **self.body(WebhookWriteSerializer)
        )
        data = WebhookSerializer(webhook).data
        response = Response({**data, "secret": secret}, status=201)
        response["Cache-Control"] = "no-store"
        return response

    def retrieve(self, request, slug, pk):
        """One webhook."""
        return Response(WebhookSerializer(self._webhook(pk)).data)

    @extend_schema(request=WebhookWriteSerializer, responses=WebhookSerializer)
    def partial_update(self, request, slug, pk):
        """Change a webhook (URL, events, enabled, include_content, name)."""
        webhook = webhooks.webhook_update(
            actor=self.actor,
            space=self.space,
            webhook=self._webhook(pk),
            **self.body(WebhookWriteSerializer),
        )
        return Response(WebhookSerializer(webhook).data)

    def destroy(self, request, slug, pk):
        """Remove a webhook and its deliveries."""
        webhooks.webhook_delete(
            actor=self.actor, space=self.space, webhook=self._webhook(pk)
        )
        return Response(status=204)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state", str, enum=["pending", "delivered", "dead"], required=False
            )
        ],
        responses=WebhookDeliverySerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, slug, pk):
        """The webhook's deliveries, newest first; ``?state=dead`` for dead letters."""
        query = self.query(DeliveryQuerySerializer, paginated=True)
        return self.paginated(
            webhooks.webhook_deliveries(
                actor=self.actor,
                space=self.space,
                webhook=self._webhook(pk),
                state=query.get("state"),
            ),
            lambda page: WebhookDeliverySerializer(page, many=True).data,
        )

    @extend_schema(request=WebhookRetrySerializer, responses=dict)
    @action(detail=True, methods=["post"])
    def retry(self, request, slug, pk):
        """Send dead letters (or the given deliveries) again, now."""
        body = self.body(WebhookRetrySerializer)
        count = webhooks.webhook_retry(
            actor=self.actor,
            space=self.space,
            webhook=self._webhook(pk),
            ids=body.get("ids"),
        )
        return Response({"retried": count})
