"""URLs of the accounts API (mounted under ``/api/v1/``)."""

from django.urls import path

from accounts.api.views import ApiKeyViewSet, TeamViewSet

urlpatterns = [
    path("teams/", TeamViewSet.as_view({"get": "list"}), name="team-list"),
    path(
        "teams/<slug:team_slug>/keys/",
        ApiKeyViewSet.as_view({"get": "list", "post": "create"}),
        name="apikey-list",
    ),
    path(
        "teams/<slug:team_slug>/keys/<int:key_id>/",
        ApiKeyViewSet.as_view({"delete": "destroy"}),
        name="apikey-detail",
    ),
]
