"""mem0's webhook paths (at the site root, beside ``memories.mem0api.urls``)."""

from django.urls import path

from routing.api import mem0_webhooks

app_name = "mem0webhooks"

urlpatterns = [
    path(
        "api/v1/webhooks/projects/<str:project_id>/",
        mem0_webhooks.ProjectWebhooksView.as_view(),
        name="project-webhooks",
    ),
    path(
        "api/v1/webhooks/<str:webhook_id>/",
        mem0_webhooks.WebhookView.as_view(),
        name="webhook",
    ),
]
