"""Space endpoints: list / create under ``/api/v1/spaces/``, and get, change,
shred, share, search, export and import under ``/api/v1/spaces/<slug>/``.

One viewset serves them all, so the router gives every route of the space
resource its natural place; search and transfer keep their code in
:mod:`memories.api.views` and :mod:`memories.api.transfer`, mixed in here.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.selectors import team_get
from memories import permissions, services
from memories.api.extraction import ExtractionSpaceActions
from memories.api.serializers import (
    GrantListSerializer,
    GrantSerializer,
    ShareSerializer,
    SpaceCreateSerializer,
    SpaceDetailSerializer,
    SpaceSerializer,
    SpaceUpdateSerializer,
    UnshareSerializer,
)
from memories.api.transfer import TransferActions
from memories.api.views import SearchActions
from memories.api.viewsets import TEAM_PARAMETER, SpaceViewSet
from memories.services.sharing import PERM_ORDER
from memoryhub.api.schema import error_responses

TAG = "spaces"


def _detail(actor, space) -> dict:
    perms = permissions.space_perms(actor, space)
    space.permissions = [p for p in PERM_ORDER if p in perms]
    return SpaceDetailSerializer(space).data


class SpacesViewSet(
    SearchActions, TransferActions, ExtractionSpaceActions, SpaceViewSet
):
    """``/spaces/`` (list, create) and all of one space but its memories: read,
    change, shred, share, grants, search, export, import."""

    serializer_class = SpaceDetailSerializer
    cursor_ordering = ("id",)
    lookup_field = "slug"
    lookup_value_converter = "slug"
    action_perms = {
        "partial_update": permissions.MANAGE,
        "destroy": permissions.MANAGE,
        "share": permissions.MANAGE,
        "unshare": permissions.MANAGE,
        "grants": permissions.MANAGE,
        "import_lines": permissions.ADD,
    }

    @extend_schema(
        tags=[TAG],
        summary="List visible spaces",
        description="Every space the caller may view: its team's, and those "
        "shared with the caller or the caller's teams.",
        responses={200: SpaceSerializer(many=True)},
    )
    def list(self, request):
        """``GET /spaces/``."""
        self.query(paginated=True)
        return self.paginated(
            permissions.spaces_visible_to(self.actor),
            lambda page: SpaceSerializer(page, many=True).data,
        )

    @extend_schema(
        tags=[TAG],
        summary="Create a space",
        description="In a team the caller owns or administers; the space gets "
        "fresh encryption keys.",
        request=SpaceCreateSerializer,
        responses={
            201: SpaceDetailSerializer,
            **error_responses(403, 404, 409),
        },
    )
    def create(self, request):
        """``POST /spaces/``."""
        self.query()
        body = dict(self.body(SpaceCreateSerializer))
        team = team_get(actor=self.actor, slug=body.pop("team"))
        space = services.space_create(actor=self.actor, team=team, **body)
        return Response(_detail(self.actor, space), status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=[TAG],
        summary="Get a space",
        parameters=[TEAM_PARAMETER],
        responses={200: SpaceDetailSerializer},
    )
    def retrieve(self, request, slug):
        """``GET /spaces/<slug>/``."""
        self.query()
        return Response(_detail(self.actor, self.space))

    @extend_schema(
        tags=[TAG],
        summary="Change a space",
        parameters=[TEAM_PARAMETER],
        request=SpaceUpdateSerializer,
        responses={
            200: SpaceDetailSerializer,
            **error_responses(403),
        },
    )
    def partial_update(self, request, slug):
        """``PATCH /spaces/<slug>/`` (manage_space)."""
        self.query()
        body = self.body(SpaceUpdateSerializer)
        space = services.space_update(actor=self.actor, space=self.space, **body)
        return Response(_detail(self.actor, space))

    @extend_schema(
        tags=[TAG],
        summary="Shred a space",
        description="Crypto-shreds the space: its keys are destroyed at once, so "
        "nothing stored in it can be decrypted again; rows are purged in the "
        "background. Irreversible.",
        parameters=[TEAM_PARAMETER],
        responses={204: None, **error_responses(403)},
    )
    def destroy(self, request, slug):
        """``DELETE /spaces/<slug>/`` (manage_space)."""
        self.query()
        services.space_shred(actor=self.actor, space=self.space)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=[TAG],
        summary="Share a space",
        description="Grant permissions to a user or a team (view_space is "
        "implied). Needs manage_space.",
        parameters=[TEAM_PARAMETER],
        request=ShareSerializer,
        responses={200: GrantSerializer, **error_responses(403)},
    )
    @action(detail=True, methods=["post"])
    def share(self, request, slug):
        """``POST /spaces/<slug>/share/``."""
        self.query()
        body = self.body(ShareSerializer)
        grant = services.space_share(
            actor=self.actor,
            space=self.space,
            user=body.get("user"),
            team=body.get("team"),
            perms=body["permissions"],
        )
        return Response(GrantSerializer(grant).data)

    @extend_schema(
        tags=[TAG],
        summary="Unshare a space",
        description="Withdraw permissions from a user or a team; without "
        "`permissions`, or with view_space, everything is withdrawn.",
        parameters=[TEAM_PARAMETER],
        request=UnshareSerializer,
        responses={200: GrantSerializer, **error_responses(403)},
    )
    @action(detail=True, methods=["post"])
    def unshare(self, request, slug):
        """``POST /spaces/<slug>/unshare/``."""
        self.query()
        body = self.body(UnshareSerializer)
        grant = services.space_unshare(
            actor=self.actor,
            space=self.space,
            user=body.get("user"),
            team=body.get("team"),
            perms=body.get("permissions"),
        )
        return Response(GrantSerializer(grant).data)

    @extend_schema(
        tags=[TAG],
        summary="List a space's grants",
        description="Explicit grants to users and teams; the owning team's "
        "members hold their role's permissions besides these.",
        parameters=[TEAM_PARAMETER],
        responses={200: GrantListSerializer, **error_responses(403)},
    )
    @action(
        detail=True, methods=["get"], url_path="permissions", url_name="permissions"
    )
    def grants(self, request, slug):
        """``GET /spaces/<slug>/permissions/`` (manage_space)."""
        self.query()
        grants = services.space_grants(actor=self.actor, space=self.space)
        return Response(GrantListSerializer({"results": grants}).data)
