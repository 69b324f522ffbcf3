"""Base viewsets every API endpoint derives from.

:class:`ApiViewSet` fixes the plumbing (strict JSON parser with the size
limit, cursor pagination, the actor behind the request, typed body and query
validation). :class:`SpaceViewSet` resolves ``<slug>`` through the one space
selector before any action runs, with the permission the action declares in
``action_perms``: a space the caller cannot see is a 404, a forbidden action
on a visible one a 403, and no subclass can skip the check. Services check
the same permission again, so a view that forgot to declare one still fails
closed.
"""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, viewsets

import memoryhub.api.schema  # noqa: F401  (registers the auth scheme for OpenAPI)
from accounts.actors import Actor, actor_from_request
from memories import permissions
from memories.selectors import space_get
from memoryhub.api.pagination import ApiCursorPagination
from memoryhub.api.parsers import JSONParser

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
PAGINATION_PARAMS = ("cursor", "limit")

TEAM_PARAMETER = OpenApiParameter(
    "team",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description="Team slug owning the space; needed only when two visible "
    "spaces share the slug (a space shared from another team).",
)


class ApiViewSet(viewsets.GenericViewSet):
    """Shared plumbing: parser, pagination, actor, body and query validation."""

    parser_classes = [JSONParser]
    pagination_class = ApiCursorPagination
    # Query parameters every action of the viewset accepts besides its own.
    common_query_params: tuple[str, ...] = ()

    @property
    def actor(self) -> Actor:
        """Who is calling: a user or an API key (see :mod:`accounts.actors`)."""
        return actor_from_request(self.request)

    def body(self, serializer_class, *, data=None) -> dict:
        """The request body validated by ``serializer_class`` (400 otherwise)."""
        serializer = serializer_class(
            data=self.request.data if data is None else data,
            context=self.get_serializer_context(),
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def query(self, serializer_class=None, *, paginated: bool = False) -> dict:
        """Validated query parameters; unknown ones are a 400 naming them."""
        allowed = set(self.common_query_params)
        if paginated:
            allowed |= set(PAGINATION_PARAMS)
        fields = serializer_class().fields if serializer_class else {}
        unknown = sorted(
            k for k in self.request.query_params if k not in allowed | set(fields)
        )
        if unknown:
            raise serializers.ValidationError(
                {
                    unknown[0]: [
                        f"unknown query parameter(s) {', '.join(unknown)}; allowed: "
                        f"{', '.join(sorted(allowed | set(fields))) or 'none'}"
                    ]
                },
                code="unknown_field",
            )
        if serializer_class is None:
            return {}
        params = {k: self.request.query_params.get(k) for k in fields}
        params = {k: v for k, v in params.items() if v is not None}
        return self.body(serializer_class, data=params)

    def paginated(self, queryset, render):
        """One page of ``queryset`` as ``{next, previous, results}``.

        ``render`` turns the page's rows into the response items (decrypting
        and auditing them when they are memories).
        """
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(render(page))


class SpaceViewSet(ApiViewSet):
    """Actions under ``/spaces/<slug>/``: ``self.space`` is resolved first."""

    common_query_params = ("team",)
    # action name -> permission codename needed on the space (default: view).
    action_perms: dict[str, str] = {}

    def initial(self, request, *args, **kwargs):
        """After authentication and throttling, look the space up (404/403)."""
        super().initial(request, *args, **kwargs)
        team = request.query_params.get("team")
        if team is not None and not SLUG_RE.match(team):
            raise serializers.ValidationError(
                {"team": ["must be a team slug (letters, digits, - and _)"]}
            )
        self.space = space_get(
            actor=self.actor,
            team_slug=team,
            slug=kwargs["slug"],
            perm=self.action_perms.get(self.action, permissions.VIEW),
        )
