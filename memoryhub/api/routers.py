"""The router every app's ``api/urls.py`` builds its REST routes with.

:class:`ApiRouter` is DRF's ``SimpleRouter`` with ``path()`` routes, so a
prefix keeps its converters (``spaces/<slug:slug>/memories``) and each
viewset names the converter of its lookup (``lookup_value_converter``). Like
every ``SimpleRouter`` it adds no format-suffix routes and no root view.

Route names are ``<basename>-list``, ``<basename>-detail`` and
``<basename>-<url_name>``; ``names`` renames the few routes whose names
predate the router (``search``, ``routing-explain``): a route's name is part
of the URL layout, which ``reverse()`` callers rely on.
"""

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured
from rest_framework.routers import SimpleRouter


class ApiRouter(SimpleRouter):
    """``SimpleRouter`` over ``path()`` converters, with names kept from before it."""

    def __init__(self, *, names: Mapping[str, str] | None = None):
        """``names`` maps a route name the router makes to the one to use."""
        super().__init__(use_regex_path=False)
        self.names = dict(names or {})

    def get_urls(self):
        """The routes, renamed per ``names``; a name matching no route is an error."""
        urls = super().get_urls()
        # A renaming that matches nothing is a typo, or a route that moved:
        # either way the old name would silently stop resolving.
        unused = set(self.names) - {url.name for url in urls}
        if unused:
            raise ImproperlyConfigured(
                f"ApiRouter names match no route: {', '.join(sorted(unused))}"
            )
        for url in urls:
            name = self.names.get(url.name, url.name)
            # reverse() reads the pattern's name, resolve() its route's: both.
            url.name = url.pattern.name = name
        return urls
