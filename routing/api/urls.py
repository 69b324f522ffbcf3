"""URLs of the routing API (mounted under ``/api/v1/routing/``)."""

from django.urls import path

from routing.api import views

urlpatterns = [
    path(
        "backends/",
        views.BackendViewSet.as_view({"get": "list", "post": "create"}),
        name="routing-backend-list",
    ),
    path(
        "backends/<slug:name>/",
        views.BackendViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="routing-backend-detail",
    ),
    path(
        "backends/<slug:name>/changes/",
        views.BackendViewSet.as_view({"post": "changes"}),
        name="routing-backend-changes",
    ),
    path(
        "rules/",
        views.RuleViewSet.as_view({"get": "list", "post": "create"}),
        name="routing-rule-list",
    ),
    path(
        "rules/<slug:name>/",
        views.RuleViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="routing-rule-detail",
    ),
    path(
        "explain/",
        views.ExplainViewSet.as_view({"post": "create"}),
        name="routing-explain",
    ),
    path(
        "outbox/",
        views.OutboxViewSet.as_view({"get": "list"}),
        name="routing-outbox-list",
    ),
    path(
        "outbox/retry/",
        views.OutboxViewSet.as_view({"post": "retry"}),
        name="routing-outbox-retry",
    ),
    path(
        "spaces/<slug:slug>/backends/",
        views.SpaceBackendsViewSet.as_view({"get": "list"}),
        name="routing-space-backends",
    ),
]
