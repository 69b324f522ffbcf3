"""The base of every action under ``/spaces/<slug>/``.

:class:`SpaceViewSet` resolves ``<slug>`` through the one space selector
before any action runs, with the permission the action declares in
``action_perms``: a space the caller cannot see is a 404, a forbidden action
on a visible one a 403, and no subclass can skip the check. Services check
the same permission again, so a view that forgot to declare one still fails
closed.

A route without ``<slug>`` names no space: ``/spaces/`` itself, whose list
and create live on the same viewset as the space's own routes (one router
registration). There nothing is resolved and ``?team=`` is refused, as it
always was.
"""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from accounts.api.viewsets import ActorViewSet
from memories import permissions
from memories.selectors import space_get

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")

TEAM_PARAMETER = OpenApiParameter(
    "team",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description="Team slug owning the space; needed only when two visible "
    "spaces share the slug (a space shared from another team).",
)


class SpaceViewSet(ActorViewSet):
    """Actions under ``/spaces/<slug>/``: ``self.space`` is resolved first."""

    # action name -> permission codename needed on the space (default: view).
    action_perms: dict[str, str] = {}

    @property
    def common_query_params(self) -> tuple[str, ...]:
        """``?team=`` where the URL names a space: it picks which one."""
        return ("team",) if "slug" in self.kwargs else ()

    def before_space_lookup(self, request) -> None:
        """Work an action may start once the caller is authenticated and
        within its rate, before the space is looked up (none by default).

        Nothing started here may reveal anything about the space: the
        lookup still answers 404 / 403 first.
        """

    def initial(self, request, *args, **kwargs):
        """After authentication and throttling, look the space up (404/403)."""
        super().initial(request, *args, **kwargs)
        if "slug" not in kwargs:
            return
        team = request.query_params.get("team")
        if team is not None and not SLUG_RE.match(team):
            raise serializers.ValidationError(
                {"team": ["must be a team slug (letters, digits, - and _)"]}
            )
        self.before_space_lookup(request)
        self.space = space_get(
            actor=self.actor,
            team_slug=team,
            slug=kwargs["slug"],
            perm=self.action_perms.get(self.action, permissions.VIEW),
        )
