"""Top-level URLs: admin, REST API, schema and docs, health, the team app."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from memoryhub.metrics import metrics_view
from memoryhub.seams import resolve_path

# Before admin.site.urls is read below (it binds the index view then).
# The admin's "View site" link leads to the team app.
admin.site.site_url = "/"
admin.site.site_header = "MemoryHub operator console"
admin.site.site_title = "MemoryHub admin"
# The admin home starts with what an operator checks first (routing.admin_home).
admin.site.index_template = "admin/memoryhub_index.html"
_admin_index = admin.site.index


def _index_with_health(request, extra_context=None):
    panel = resolve_path("routing.admin_home.index_context")()  # apps by name only
    return _admin_index(request, {**panel, **(extra_context or {})})


admin.site.index = _index_with_health


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


# JSON errors under /api/ (unknown URLs, malformed ids), Django's pages elsewhere.
handler400 = "memoryhub.api.exceptions.bad_request"
handler404 = "memoryhub.api.exceptions.not_found"
handler500 = "memoryhub.api.exceptions.server_error"
