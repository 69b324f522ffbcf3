"""Home: the person's teams and the spaces they may view."""

from django.shortcuts import render

from accounts import selectors as account_selectors
from memories import selectors
from web.views.base import WebView


class HomeView(WebView):
    """The person's teams and the spaces they may view, with memory counts."""

    def get(self, request):
        actor = self.actor
        current = None
        if request.GET.get("team"):  # the team switcher: one team only
            current = account_selectors.team_get(actor=actor, slug=request.GET["team"])
        roles = account_selectors.team_roles(actor)
        by_team: dict[int, list] = {}
        overview = selectors.spaces_overview(actor=actor)
        if current is not None:
            overview = overview.filter(team=current)
        for space in overview:
            by_team.setdefault(space.team_id, []).append(space)
        visible = account_selectors.teams_visible_to(actor).order_by("slug")
        if current is not None:
            visible = visible.filter(pk=current.pk)
        teams = [
            {
                "team": team,
                "role": roles.get(team.pk),
                "spaces": by_team.pop(team.pk, []),
            }
            for team in visible
        ]
        # Spaces other teams shared with the person (or their teams).
        shared = [space for spaces in by_team.values() for space in spaces]
        context = {"teams": teams, "shared": shared, "current_team": current}
        return render(request, "web/home.html", context)
