"""The REST URL layout is a contract: every path, converter, route name and
method stays put whatever builds the routes (``memoryhub.api.routers``)."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver, reverse

from memories.api.audit import AuditViewSet
from memoryhub.api.routers import ApiRouter

# (path, name, {method: action}) of every route under /api/v1/.
LAYOUT = [
    ("teams/", "team-list", {"get": "list"}),
    ("teams/<slug:team_slug>/keys/", "apikey-list", {"get": "list", "post": "create"}),
    (
        "teams/<slug:team_slug>/keys/<int:key_id>/",
        "apikey-detail",
        {"delete": "destroy"},
    ),
    ("spaces/", "space-list", {"get": "list", "post": "create"}),
    (
        "spaces/<slug:slug>/",
        "space-detail",
        {"get": "retrieve", "patch": "partial_update", "delete": "destroy"},
    ),
    ("spaces/<slug:slug>/share/", "space-share", {"post": "share"}),
    ("spaces/<slug:slug>/unshare/", "space-unshare", {"post": "unshare"}),
    ("spaces/<slug:slug>/permissions/", "space-permissions", {"get": "grants"}),
    ("spaces/<slug:slug>/memories/", "memory-list", {"get": "list", "post": "create"}),
    ("spaces/<slug:slug>/memories/batch/", "memory-batch", {"post": "batch"}),
    ("spaces/<slug:slug>/memories/extract/", "memory-extract", {"post": "extract"}),
    (
        "spaces/<slug:slug>/memories/query/",
        "memory-query",
        {"post": "query_memories"},
    ),
    (
        "spaces/<slug:slug>/memories/delete/",
        "memory-bulk-delete",
        {"post": "bulk_delete"},
    ),
    (
        "spaces/<slug:slug>/memories/<uuid:memory_id>/",
        "memory-detail",
        {
            "get": "retrieve",
            "put": "update",
            "patch": "partial_update",
            "delete": "destroy",
        },
    ),
    (
        "spaces/<slug:slug>/memories/<uuid:memory_id>/history/",
        "memory-history",
        {"get": "history"},
    ),
    ("spaces/<slug:slug>/search/", "search", {"post": "search"}),
    ("spaces/<slug:slug>/export/", "export", {"get": "export"}),
    ("spaces/<slug:slug>/import/", "import", {"post": "import_lines"}),
    (
        "spaces/<slug:slug>/extraction/",
        "space-extraction",
        {"get": "extraction", "patch": "extraction"},
    ),
    ("spaces/<slug:slug>/summary/", "space-summary", {"post": "summary"}),
    ("spaces/<slug:slug>/extractions/", "extraction-list", {"get": "list"}),
    (
        "spaces/<slug:slug>/extractions/<uuid:event_id>/",
        "extraction-detail",
        {"get": "retrieve"},
    ),
    ("audit/", "audit-list", {"get": "list"}),
    (
        "routing/backends/",
        "routing-backend-list",
        {"get": "list", "post": "create"},
    ),
    (
        "routing/backends/<slug:name>/",
        "routing-backend-detail",
        {"get": "retrieve", "patch": "partial_update", "delete": "destroy"},
    ),
    (
        "routing/backends/<slug:name>/changes/",
        "routing-backend-changes",
        {"post": "changes"},
    ),
    ("routing/rules/", "routing-rule-list", {"get": "list", "post": "create"}),
    (
        "routing/rules/<slug:name>/",
        "routing-rule-detail",
        {"get": "retrieve", "patch": "partial_update", "delete": "destroy"},
    ),
    ("routing/explain/", "routing-explain", {"post": "create"}),
    ("routing/outbox/", "routing-outbox-list", {"get": "list"}),
    ("routing/outbox/retry/", "routing-outbox-retry", {"post": "retry"}),
    (
        "routing/spaces/<slug:slug>/backends/",
        "routing-space-backends",
        {"get": "list"},
    ),
    ("sync/jobs/", "sync-job-list", {"get": "list", "post": "create"}),
    (
        "sync/jobs/<int:pk>/",
        "sync-job-detail",
        {"get": "retrieve", "patch": "partial_update", "delete": "destroy"},
    ),
    ("sync/jobs/<int:pk>/run/", "sync-job-run", {"post": "run"}),
    ("sync/jobs/<int:pk>/cancel/", "sync-job-cancel", {"post": "cancel"}),
    ("sync/jobs/<int:pk>/runs/", "sync-job-runs", {"get": "runs"}),
    ("sync/spaces/<slug:slug>/", "sync-space-status", {"get": "list"}),
    (
        "spaces/<slug:slug>/webhooks/",
        "webhook-list",
        {"get": "list", "post": "create"},
    ),
    (
        "spaces/<slug:slug>/webhooks/<int:pk>/",
        "webhook-detail",
        {"get": "retrieve", "patch": "partial_update", "delete": "destroy"},
    ),
    (
        "spaces/<slug:slug>/webhooks/<int:pk>/deliveries/",
        "webhook-deliveries",
        {"get": "deliveries"},
    ),
    (
        "spaces/<slug:slug>/webhooks/<int:pk>/retry/",
        "webhook-retry",
        {"post": "retry"},
    ),
    ("webhooks/projects/<str:project_id>/", "project-webhooks", {}),
    ("webhooks/<str:webhook_id>/", "webhook", {}),
]


def _api_routes(patterns=None, prefix="") -> list[tuple[str, str, dict]]:
    """Every resolvable route under ``api/v1/`` as (path, name, actions)."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        path = prefix + str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            routes += _api_routes(pattern.url_patterns, path)
        elif path.startswith("api/v1/"):
            # DRF adds "head" (as "get") to a viewset's map on its first request.
            actions = dict(getattr(pattern.callback, "actions", None) or {})
            actions.pop("head", None)
            routes.append((path.removeprefix("api/v1/"), pattern.name, actions))
    return routes


def test_the_api_routes_are_exactly_the_documented_layout():
    """No route lost, renamed or re-typed, and none added: no format-suffix
    (``.json``) routes and no API root view."""
    assert sorted(_api_routes(), key=str) == sorted(LAYOUT, key=str)


@pytest.mark.parametrize(
    ("name", "kwargs", "url"),
    [
        ("search", {"slug": "s"}, "/api/v1/spaces/s/search/"),
        ("routing-explain", {}, "/api/v1/routing/explain/"),
        ("apikey-detail", {"team_slug": "t", "key_id": 7}, "/api/v1/teams/t/keys/7/"),
    ],
)
def test_route_names_reverse_to_their_paths(name, kwargs, url):
    """Names kept from before the router still reverse."""
    assert reverse(name, kwargs=kwargs) == url


def test_a_renaming_that_matches_no_route_is_refused():
    """A typo in ``names`` fails at startup instead of losing a name silently."""
    router = ApiRouter(names={"audit-lsit": "audit"})
    router.register("audit", AuditViewSet, basename="audit")
    with pytest.raises(ImproperlyConfigured, match="audit-lsit"):
        router.get_urls()
