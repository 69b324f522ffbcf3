"""A team's API keys: ``/api/v1/teams/<slug>/keys/``.

The endpoint lives with the spaces because a key's scope is a set of them:
creating one resolves space slugs, which only this layer (above accounts)
knows how to look up for the caller.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
)
from accounts.api.viewsets import ActorViewSet
from memories.selectors import spaces_of_team
from memoryhub.api.schema import error_responses


class ApiKeyViewSet(ActorViewSet):
    """A team's API keys; owners and admins only, signed in (not with a key)."""

    serializer_class = ApiKeySerializer
    cursor_ordering = ("-created_at", "-id")
    lookup_url_kwarg = "key_id"
    lookup_value_converter = "int"

    def initial(self, request, *args, **kwargs):
        """Resolve the team: 404 if invisible, 403 unless a signed-in admin."""
        super().initial(request, *args, **kwargs)
        self.team = selectors.team_get(
            actor=self.actor, slug=kwargs["team_slug"], admin=True
        )

    @extend_schema(
        tags=["keys"],
        summary="List a team's API keys",
        description="Revoked and expired keys included; never the secret or its hash.",
        responses={200: ApiKeySerializer(many=True), **error_responses(403)},
    )
    def list(self, request, team_slug):
        """``GET /teams/<slug>/keys/``."""
        self.query(paginated=True)
        keys = selectors.api_keys_of(actor=self.actor, team=self.team)
        return self.paginated(keys, lambda page: ApiKeySerializer(page, many=True).data)

    @extend_schema(
        tags=["keys"],
        summary="Create an API key",
        description="The response holds the secret, once; store it then.",
        request=ApiKeyCreateSerializer,
        responses={
            201: ApiKeyCreatedSerializer,
            **error_responses(403),
        },
    )
    def create(self, request, team_slug):
        """``POST /teams/<slug>/keys/``."""
        self.query()
        body = dict(self.body(ApiKeyCreateSerializer))
        spaces = spaces_of_team(
            actor=self.actor, team=self.team, slugs=body.pop("spaces")
        )
        api_key, secret = services.api_key_create(
            actor=self.actor, team=self.team, spaces=spaces, **body
        )
        api_key.secret = secret
        return Response(
            ApiKeyCreatedSerializer(api_key).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        tags=["keys"],
        summary="Revoke an API key",
        description="Takes effect at once in this process and within "
        "MEMORYHUB_API_KEY_CACHE_SECONDS elsewhere without a shared cache.",
        responses={204: None, **error_responses(403)},
    )
    def destroy(self, request, team_slug, key_id):
        """``DELETE /teams/<slug>/keys/<id>/``."""
        self.query()
        api_key = selectors.api_key_get(actor=self.actor, team=self.team, key_id=key_id)
        services.api_key_revoke(actor=self.actor, api_key=api_key)
        return Response(status=status.HTTP_204_NO_CONTENT)
