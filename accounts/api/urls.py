"""URLs of the accounts API (mounted under ``/api/v1/``)."""

from django.urls import path

from accounts.api.views import TeamViewSet

urlpatterns = [
    path("teams/", TeamViewSet.as_view({"get": "list"}), name="team-list"),
]
