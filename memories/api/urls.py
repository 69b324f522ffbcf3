"""URLs of the memories API (mounted under ``/api/v1/``)."""

from memories.api.audit import AuditViewSet
from memories.api.extraction import ExtractionEventViewSet
from memories.api.keys import ApiKeyViewSet
from memories.api.spaces import SpacesViewSet
from memories.api.views import MemoryViewSet
from memoryhub.api.routers import ApiRouter

router = ApiRouter(
    # Named before the router, without the "space-" it would put in front.
    names={"space-search": "search", "space-export": "export", "space-import": "import"}
)
router.register("teams/<slug:team_slug>/keys", ApiKeyViewSet, basename="apikey")
router.register("spaces", SpacesViewSet, basename="space")
router.register("spaces/<slug:slug>/memories", MemoryViewSet, basename="memory")
router.register(
    "spaces/<slug:slug>/extractions", ExtractionEventViewSet, basename="extraction"
)
router.register("audit", AuditViewSet, basename="audit")

urlpatterns = router.urls
