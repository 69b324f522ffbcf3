"""A space's backends: which stores serve it, their circuits, its backlog."""

from django.shortcuts import render

from memories import permissions
from routing import selectors as routing_selectors
from web.navigation import space_tabs
from web.views.base import SpaceMixin, WebView, space_url


class BackendsView(SpaceMixin, WebView):
    """Read-only for teams; operators change routing in the admin."""

    def get(self, request, team_slug, slug):
        space = self.get_space()
        backends = routing_selectors.backends_serving(actor=self.actor, space=space)
        backlog = routing_selectors.space_backlog(actor=self.actor, space=space)
        for backend in backends:
            backend["backlog"] = backlog.get(backend["name"])
        perms = permissions.space_perms(self.actor, space)
        context = {
            "space": space,
            "backends": backends,
            "only_local": [b["name"] for b in backends] == ["local"],
            "tabs": space_tabs(space, perms, "web:space_backends"),
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                ("Backends", None),
            ],
        }
        return render(request, "web/space/backends.html", context)
