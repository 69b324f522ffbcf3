"""URLs of the sync API (mounted under ``/api/v1/sync/``)."""

from memoryhub.api.routers import ApiRouter
from routing.api import sync_views

router = ApiRouter(names={"sync-space-status-list": "sync-space-status"})
router.register("jobs", sync_views.SyncJobViewSet, basename="sync-job")
router.register(
    "spaces/<slug:slug>", sync_views.SpaceSyncViewSet, basename="sync-space-status"
)

urlpatterns = router.urls
