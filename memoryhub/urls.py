"""Top-level URLs: admin, REST API, schema and docs, health, the team app."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from memoryhub.metrics import metrics_view

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("memories.api.urls")),
    path("", include("routing.api.webhook_urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/v1/routing/", include("routing.api.urls")),
    path("api/v1/sync/", include("routing.api.sync_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("memoryhub.health_urls")),
    path("metrics", metrics_view, name="metrics"),
    path("", include("memories.mem0api.urls")),
    path("", include("routing.api.mem0_urls")),
    # Last, so no API, mem0, health or admin route changes: the team app.
    path("", include("web.urls")),
]

# The admin's "View site" link leads to the team app.
admin.site.site_url = "/"

# JSON errors under /api/ (unknown URLs, malformed ids), Django's pages elsewhere.
handler400 = "memoryhub.api.exceptions.bad_request"
handler404 = "memoryhub.api.exceptions.not_found"
handler500 = "memoryhub.api.exceptions.server_error"
