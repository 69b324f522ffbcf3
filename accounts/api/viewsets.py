"""Viewsets that know who is calling: :class:`ActorViewSet` and the operator base."""

from rest_framework import permissions as drf_permissions

from accounts.actors import Actor, actor_from_request
from accounts.api import schema  # noqa: F401  (registers the API-key scheme)
from memoryhub.api.viewsets import ApiViewSet


class ActorViewSet(ApiViewSet):
    """:class:`~memoryhub.api.viewsets.ApiViewSet` plus the actor behind the request."""

    @property
    def actor(self) -> Actor:
        """Who is calling: a user or an API key (see :mod:`accounts.actors`)."""
        return actor_from_request(self.request)


class IsOperator(drf_permissions.BasePermission):
    """Operators only: :attr:`accounts.actors.Actor.is_operator`."""

    message = "only operators (staff users) may manage routing"

    def has_permission(self, request, view) -> bool:
        """The one operator check, as the services apply it."""
        return actor_from_request(request).is_operator


class OperatorViewSet(ActorViewSet):
    """Base of operator-only endpoints: authenticated operators."""

    permission_classes = [drf_permissions.IsAuthenticated, IsOperator]
