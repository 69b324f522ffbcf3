"""The audit log endpoint: team owners and admins read their teams' events."""

from drf_spectacular.utils import extend_schema

from accounts.api.viewsets import ActorViewSet
from memories import selectors
from memories.api.serializers import AccessEventSerializer, AuditQuerySerializer


class AuditViewSet(ActorViewSet):
    """``GET /api/v1/audit/``."""

    serializer_class = AccessEventSerializer
    cursor_ordering = ("-at", "-id")

    @extend_schema(
        tags=["audit"],
        summary="List audit events",
        description="Every read, search, write, delete, export, share and key "
        "change in the teams the caller owns or administers, newest first. "
        "Rows hold ids and counts, never content. Other callers get an empty "
        "list.",
        parameters=[AuditQuerySerializer],
        responses={200: AccessEventSerializer(many=True)},
    )
    def list(self, request):
        """``GET /audit/``."""
        params = self.query(AuditQuerySerializer, paginated=True)
        events = selectors.access_events_for(
            actor=self.actor,
            team_slug=params.get("team"),
            space_slug=params.get("space"),
            action=params.get("action"),
            since=params.get("since"),
        )
        return self.paginated(
            events, lambda page: AccessEventSerializer(page, many=True).data
        )
