"""A team's pages: members and invitations, API keys (owners and admins)."""

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from accounts import selectors as account_selectors
from accounts import services as account_services
from memories import selectors
from memoryhub.errors import DomainError, Forbidden, Gone, NotFound
from web.forms import (
    ROLE_CHOICES,
    AcceptForm,
    ApiKeyCreateForm,
    InviteForm,
    domain_error_to_form,
)
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
        """The team, its tabs, breadcrumbs, and whether the person administers it."""
        admin = (
            account_selectors.teams_administered_by(self.actor)
            .filter(pk=team.pk)
            .exists()
        )
        return {
            "team": team,
            "admin": admin,
            "tabs": team_tabs(team, admin=admin, current=current),
            "crumbs": [(team.name or team.slug, team_url(team)), *crumbs]
            if crumbs
            else [(team.name or team.slug, None)],
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


def team_url(team) -> str:
    return reverse("web:team", kwargs={"team_slug": team.slug})


class TeamView(TeamMixin, WebView):
    """Members and roles; owners/admins change roles, invite and revoke."""

    def get(self, request, team_slug):
        team = self.get_team()
        return self._page(team, InviteForm())

    def post(self, request, team_slug):
        team = self.get_team(admin=True)
        form = InviteForm(request.POST)
        if form.is_valid():
            try:
                account_services.invitation_create(
                    actor=self.actor,
                    team=team,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    link=lambda token: request.build_absolute_uri(
                        reverse("web:invitation_accept", kwargs={"token": token})
                    ),
                    surface=SURFACE,
                )
            except (NotFound, Forbidden):
                raise
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(
                    request, f"Invitation sent to {form.cleaned_data['email']}."
                )
                return redirect(team_url(team))
        return self._page(team, form, status=400)

    def _page(self, team, form, status=200):
        context = self.team_context(team, "web:team")
        admin = context["admin"]
        members = account_selectors.team_members(actor=self.actor, team=team)
        context.update(
            {
                "members": members,
                "form": form if admin else None,
                "roles": ROLE_CHOICES,
                "invitations": account_selectors.invitations_pending(
                    actor=self.actor, team=team
                )
                if admin
                else [],
            }
        )
        return render(self.request, "web/team/team.html", context, status=status)


class MemberView(TeamMixin, WebView):
    """POST a role change or (``remove``) a removal; GET confirms a removal."""

    def get(self, request, team_slug, user_pk):
        team = self.get_team(admin=True)
        membership = self._membership(team, user_pk)
        context = {
            **self.team_context(
                team, "web:team", ("Members", team_url(team)), ("Remove", None)
            ),
            "membership": membership,
        }
        return render(request, "web/team/member_remove.html", context)

    def post(self, request, team_slug, user_pk):
        team = self.get_team(admin=True)
        membership = self._membership(team, user_pk)
        name = membership.user.get_username()
        try:
            if request.POST.get("remove"):
                account_services.member_remove(
                    actor=self.actor, team=team, user=membership.user, surface=SURFACE
                )
                messages.success(request, f"{name} is no longer in {team.slug}.")
            else:
                role = request.POST.get("role", "")
                account_services.member_role_set(
                    actor=self.actor,
                    team=team,
                    user=membership.user,
                    role=role,
                    surface=SURFACE,
                )
                messages.success(request, f"{name} is now {role}.")
        except NotFound:
            raise
        except (Forbidden, ValidationError) as exc:
            text = exc.message if isinstance(exc, Forbidden) else " ".join(exc.messages)
            messages.error(request, text)
        return redirect(team_url(team))

    def _membership(self, team, user_pk):
        membership = (
            account_selectors.team_members(actor=self.actor, team=team)
            .filter(user_id=user_pk)
            .first()
        )
        if membership is None:
            raise NotFound(f"no member {user_pk} in team {team.slug!r}")
        return membership


class InvitationRevokeView(TeamMixin, WebView):
    def post(self, request, team_slug, invitation_pk):
        team = self.get_team(admin=True)
        account_services.invitation_revoke(
            actor=self.actor, team=team, invitation_id=invitation_pk, surface=SURFACE
        )
        messages.success(request, "Invitation withdrawn.")
        return redirect(team_url(team))


class InvitationAcceptView(WebView):
    """The emailed link: reachable signed out. A new person sets a username
    and password; a signed-in person confirms. Good once; a used, withdrawn
    or expired link is a 410 page that says so."""

    def get(self, request, token):
        try:
            invitation = account_services.invitation_for_token(token)
        except Gone as exc:
            return self._gone(exc)
        return self._page(invitation, AcceptForm())

    def post(self, request, token):
        user = request.user if request.user.is_authenticated else None
        try:
            invitation = account_services.invitation_for_token(token)
            form = AcceptForm(request.POST) if user is None else None
            if form is not None and not form.is_valid():
                return self._page(invitation, form, status=400)
            membership = account_services.invitation_accept(
                token=token,
                user=user,
                username=form.cleaned_data["username"] if form else "",
                password=form.cleaned_data["password1"] if form else "",
            )
        except Gone as exc:
            return self._gone(exc)
        except ValidationError as exc:
            field = "password1" if "password" in " ".join(exc.messages) else "username"
            form.add_error(field, exc.messages)
            return self._page(invitation, form, status=400)
        if user is None:
            login(
                request,
                membership.user,
                backend="django.contrib.auth.backends.ModelBackend",
            )
        messages.success(
            request, f"Welcome to {invitation.team.name or invitation.team.slug}."
        )
        return redirect("web:home")

    def _gone(self, exc):
        context = {"reason": exc.message}
        return render(
            self.request, "web/team/invitation_gone.html", context, status=410
        )

    def _page(self, invitation, form, status=200):
        context = {"invitation": invitation, "form": form}
        return render(
            self.request, "web/team/invitation_accept.html", context, status=status
        )
