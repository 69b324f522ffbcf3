"""Template context of every team app page: the person's teams (the header's
team switcher), read lazily — only a page that renders the header asks."""

from django.utils.functional import SimpleLazyObject

from accounts import selectors as account_selectors
from accounts.actors import actor_from_request


def teams(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_teams": SimpleLazyObject(
            lambda: list(
                account_selectors.teams_visible_to(actor_from_request(request))
                .order_by("slug")
                .only("slug", "name")
            )
        )
    }
