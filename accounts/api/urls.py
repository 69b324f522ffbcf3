"""URLs of the accounts API (mounted under ``/api/v1/``)."""

from accounts.api.views import TeamViewSet
from memoryhub.api.routers import ApiRouter

router = ApiRouter()
router.register("teams", TeamViewSet, basename="team")

urlpatterns = router.urls
