"""URLs of the routing API (mounted under ``/api/v1/routing/``)."""

from memoryhub.api.routers import ApiRouter
from routing.api import views

router = ApiRouter(
    # Single-route viewsets, named before the router (which adds "-list").
    # They keep their list / create actions rather than becoming @actions:
    # drf-spectacular derives their documented operation (operationId,
    # status code, pagination) from those action names.
    names={
        "routing-explain-list": "routing-explain",
        "routing-space-backends-list": "routing-space-backends",
    }
)
router.register("backends", views.BackendViewSet, basename="routing-backend")
router.register("rules", views.RuleViewSet, basename="routing-rule")
router.register("explain", views.ExplainViewSet, basename="routing-explain")
router.register("outbox", views.OutboxViewSet, basename="routing-outbox")
router.register(
    "spaces/<slug:slug>/backends",
    views.SpaceBackendsViewSet,
    basename="routing-space-backends",
)

urlpatterns = router.urls
