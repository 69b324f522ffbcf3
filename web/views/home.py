"""Home: the person's teams and the spaces they may view."""

from django.shortcuts import render

from accounts import selectors as account_selectors
from memories import selectors
from web.views.base import WebView


class HomeView(WebView):
    """The person's teams and the spaces they may view, with memory counts."""

    def get(self, request):
        actor = self.actor
        roles = account_selectors.team_roles(actor)
        by_team: dict[int, list] = {}
        for space in selectors.spaces_overview(actor=actor):
            by_team.setdefault(space.team_id, []).append(space)
        teams = [
            {
                "team": team,
                "role": roles.get(team.pk),
                "spaces": by_team.pop(team.pk, []),
            }
            for team in account_selectors.teams_visible_to(actor).order_by("slug")
        ]
        # Spaces other teams shared with the person (or their teams).
        shared = [space for spaces in by_team.values() for space in spaces]
        return render(request, "web/home.html", {"teams": teams, "shared": shared})
