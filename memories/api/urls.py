"""URLs of the memories API (mounted under ``/api/v1/``)."""

from django.urls import path

from memories.api.audit import AuditViewSet
from memories.api.keys import ApiKeyViewSet
from memories.api.spaces import SpaceDetailViewSet, SpaceListViewSet
from memories.api.transfer import TransferViewSet
from memories.api.views import MemoryViewSet, SearchViewSet

SPACE = "spaces/<slug:slug>/"
MEMORY = SPACE + "memories/<uuid:memory_id>/"

urlpatterns = [
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
    path(
        "spaces/",
        SpaceListViewSet.as_view({"get": "list", "post": "create"}),
        name="space-list",
    ),
    path(
        SPACE,
        SpaceDetailViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="space-detail",
    ),
    path(
        SPACE + "share/",
        SpaceDetailViewSet.as_view({"post": "share"}),
        name="space-share",
    ),
    path(
        SPACE + "unshare/",
        SpaceDetailViewSet.as_view({"post": "unshare"}),
        name="space-unshare",
    ),
    path(
        SPACE + "permissions/",
        SpaceDetailViewSet.as_view({"get": "grants"}),
        name="space-permissions",
    ),
    path(
        SPACE + "memories/",
        MemoryViewSet.as_view({"get": "list", "post": "create"}),
        name="memory-list",
    ),
    path(
        SPACE + "memories/batch/",
        MemoryViewSet.as_view({"post": "batch"}),
        name="memory-batch",
    ),
    path(
        SPACE + "memories/query/",
        MemoryViewSet.as_view({"post": "query_memories"}),
        name="memory-query",
    ),
    path(
        SPACE + "memories/delete/",
        MemoryViewSet.as_view({"post": "bulk_delete"}),
        name="memory-bulk-delete",
    ),
    path(
        MEMORY,
        MemoryViewSet.as_view(
            {
                "get": "retrieve",
                "put": "update",
                "patch": "partial_update",
                "delete": "destroy",
            }
        ),
        name="memory-detail",
    ),
    path(
        MEMORY + "history/",
        MemoryViewSet.as_view({"get": "history"}),
        name="memory-history",
    ),
    path(SPACE + "search/", SearchViewSet.as_view({"post": "search"}), name="search"),
    path(SPACE + "export/", TransferViewSet.as_view({"get": "export"}), name="export"),
    path(
        SPACE + "import/",
        TransferViewSet.as_view({"post": "import_lines"}),
        name="import",
    ),
    path("audit/", AuditViewSet.as_view({"get": "list"}), name="audit-list"),
]
