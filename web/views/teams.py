"""A team's pages: its API keys (owners and admins)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from accounts import selectors as account_selectors
from accounts import services as account_services
from memories import selectors
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.forms import ApiKeyCreateForm, domain_error_to_form
from web.navigation import team_tabs
from web.views.base import SURFACE, WebView


def keys_url(team) -> str:
    return reverse("web:team_keys", kwargs={"team_slug": team.slug})


class TeamMixin:
    """Resolves ``<team_slug>`` through the team selector (404 / 403)."""

    def get_team(self, *, admin: bool = False):
        return account_selectors.team_get(
            actor=self.actor, slug=self.kwargs["team_slug"], admin=admin
        )

    def team_context(self, team, current: str, *crumbs) -> dict:
        admin = account_selectors.teams_administered_by(self.actor).filter(pk=team.pk)
        return {
            "team": team,
            "tabs": team_tabs(team, admin=admin.exists(), current=current),
            "crumbs": [(team.name or team.slug, None), *crumbs],
        }


class TeamKeysView(TeamMixin, WebView):
    """The team's keys and the create form; a POST creates one and shows its
    secret once (never stored, the page is not cached)."""

    def get(self, request, team_slug):
        team = self.get_team(admin=True)
        return self._page(team, self._form(team))

    def post(self, request, team_slug):
        team = self.get_team(admin=True)
        form = self._form(team, request.POST)
        if form.is_valid():
            try:
                spaces = selectors.spaces_of_team(
                    actor=self.actor, team=team, slugs=form.cleaned_data["spaces"]
                )
                api_key, secret = account_services.api_key_create(
                    actor=self.actor,
                    team=team,
                    name=form.cleaned_data["name"],
                    spaces=spaces,
                    read_only=form.cleaned_data["read_only"],
                    expires_at=form.expires_at(),
                    surface=SURFACE,
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                domain_error_to_form(form, exc)
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                context = {
                    **self.team_context(
                        team, "web:team_keys", ("API keys", keys_url(team))
                    ),
                    "api_key": api_key,
                    "secret": secret,
                    "spaces": spaces,
                }
                response = render(request, "web/team/key_created.html", context)
                add_never_cache_headers(response)
                return response
        return self._page(team, form, status=400)

    def _form(self, team, data=None) -> ApiKeyCreateForm:
        slugs = selectors.team_spaces(actor=self.actor, team=team).values_list(
            "slug", flat=True
        )
        return ApiKeyCreateForm(data, space_slugs=list(slugs))

    def _page(self, team, form, status=200):
        context = {
            **self.team_context(team, "web:team_keys", ("API keys", None)),
            "keys": account_selectors.api_keys_of(actor=self.actor, team=team).order_by(
                "-created_at", "-id"
            ),
            "form": form,
        }
        return render(self.request, "web/team/keys.html", context, status=status)


class KeyRevokeView(TeamMixin, WebView):
    """GET asks to confirm; POST revokes (``api_key_revoke``)."""

    def get(self, request, team_slug, key_id):
        team = self.get_team(admin=True)
        api_key = account_selectors.api_key_get(
            actor=self.actor, team=team, key_id=key_id
        )
        context = {
            **self.team_context(
                team, "web:team_keys", ("API keys", keys_url(team)), ("Revoke", None)
            ),
            "api_key": api_key,
        }
        return render(request, "web/team/key_revoke.html", context)

    def post(self, request, team_slug, key_id):
        team = self.get_team(admin=True)
        api_key = account_selectors.api_key_get(
            actor=self.actor, team=team, key_id=key_id
        )
        account_services.api_key_revoke(
            actor=self.actor, api_key=api_key, surface=SURFACE
        )
        messages.success(request, f"Key {api_key.name} ({api_key.prefix}) revoked.")
        return redirect(keys_url(team))
