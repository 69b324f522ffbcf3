"""Create a space in a team (owners and admins)."""

from django.contrib import messages
from django.shortcuts import redirect, render

from memories import services
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.forms import SpaceCreateForm, domain_error_to_form
from web.views.base import SURFACE, WebView, space_url
from web.views.teams import TeamMixin


class SpaceCreateView(TeamMixin, WebView):
    def get(self, request, team_slug):
        team = self.get_team(admin=True)
        return self._page(team, SpaceCreateForm())

    def post(self, request, team_slug):
        team = self.get_team(admin=True)
        form = SpaceCreateForm(request.POST)
        if form.is_valid():
            try:
                space = services.space_create(
                    actor=self.actor, team=team, surface=SURFACE, **form.cleaned_data
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                domain_error_to_form(form, exc)
            else:
                messages.success(request, f"Space {space.slug} created.")
                return redirect(space_url(space))
        return self._page(team, form, status=400)

    def _page(self, team, form, status=200):
        context = {
            **self.team_context(team, "web:team", ("New space", None)),
            "form": form,
        }
        return render(
            self.request, "web/team/space_create.html", context, status=status
        )
