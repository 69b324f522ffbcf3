"""What every page of the team app shares: the session's actor, domain
refusals as HTTP pages, the space in the URL, and the URLs of pages."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.views import View

from accounts.actors import Actor, actor_from_request
from memories import permissions, selectors
from memoryhub.errors import Forbidden, NotFound

SURFACE = "ui"


class WebView(View):
    """Base of every page: the session's actor; domain refusals as HTTP pages.

    A page asks for the person's permissions on its space several times (the
    selectors, the controls it shows): ``perms_memo`` answers each repeat
    from the first, for this request only.
    """

    @property
    def actor(self) -> Actor:
        return actor_from_request(self.request)

    def dispatch(self, request, *args, **kwargs):
        try:
            with permissions.perms_memo():
                return super().dispatch(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None


class SpaceMixin:
    """Resolves ``<team_slug>/<slug>`` through the space selector."""

    def get_space(self, perm: str = permissions.VIEW):
        return selectors.space_get(
            actor=self.actor,
            team_slug=self.kwargs["team_slug"],
            slug=self.kwargs["slug"],
            perm=perm,
        )


def space_url(space) -> str:
    return reverse(
        "web:space", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )


def memory_url(space, memory_id) -> str:
    return reverse(
        "web:memory",
        kwargs={
            "team_slug": space.team.slug,
            "slug": space.slug,
            "memory_id": memory_id,
        },
    )
