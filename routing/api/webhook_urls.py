"""URLs of a space's webhooks (mounted under ``/api/v1/``)."""

from memoryhub.api.routers import ApiRouter
from routing.api import webhook_views

router = ApiRouter()
router.register(
    "spaces/<slug:slug>/webhooks", webhook_views.WebhookViewSet, basename="webhook"
)

urlpatterns = router.urls
