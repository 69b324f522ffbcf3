"""Team endpoint: ``/api/v1/teams/`` (a team's keys: :mod:`memories.api.keys`)."""

from drf_spectacular.utils import extend_schema

from accounts import selectors
from accounts.api.serializers import TeamSerializer
from accounts.api.viewsets import ActorViewSet


class TeamViewSet(ActorViewSet):
    """``GET /teams/``: the teams the caller belongs to."""

    serializer_class = TeamSerializer
    cursor_ordering = ("slug",)

    @extend_schema(
        tags=["teams"],
        summary="List visible teams",
        description="The caller's teams with the caller's role (an API key "
        "sees its own team).",
        responses={200: TeamSerializer(many=True)},
    )
    def list(self, request):
        """``GET /teams/``."""
        self.query(paginated=True)
        roles = selectors.team_roles(self.actor)

        def render(page):
            for team in page:
                team.role = roles.get(team.pk)
            return TeamSerializer(page, many=True).data

        return self.paginated(selectors.teams_visible_to(self.actor), render)
