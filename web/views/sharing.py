"""A space's sharing page: who holds what, grant and revoke (``manage_space``)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from memories import permissions, services
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.forms import GrantForm, RevokeForm, domain_error_to_form
from web.navigation import space_tabs
from web.views.base import SURFACE, SpaceMixin, WebView, space_url

ROLE_ROWS = [
    (role.label, [p for p in services.PERM_ORDER if p in perms])
    for role, perms in permissions.ROLE_PERMS.items()
]


def sharing_url(space) -> str:
    return reverse(
        "web:space_sharing", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )


class SharingView(SpaceMixin, WebView):
    """GET: the grants and the grant form; POST: grant (``space_grant_set``)."""

    def get(self, request, team_slug, slug):
        return self._page(self.get_space(), GrantForm())

    def post(self, request, team_slug, slug):
        space = self.get_space()
        form = GrantForm(request.POST)
        if form.is_valid():
            try:
                grant = services.space_grant_set(
                    actor=self.actor, space=space, surface=SURFACE, **form.grant()
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                domain_error_to_form(form, exc)
            else:
                who = grant.get("user") or grant.get("team")
                messages.success(
                    request, f"{who} now holds: {', '.join(grant['permissions'])}."
                )
                return redirect(sharing_url(space))
        return self._page(space, form, status=400)

    def _page(self, space, form, status=200):
        grants = services.space_grants(actor=self.actor, space=space)
        perms = permissions.space_perms(self.actor, space)
        context = {
            "space": space,
            "grants": grants,
            "roles": ROLE_ROWS,
            "form": form,
            "tabs": space_tabs(space, perms, "web:space_sharing"),
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                ("Sharing", None),
            ],
        }
        return render(self.request, "web/space/sharing.html", context, status=status)


class RevokeView(SpaceMixin, WebView):
    """GET asks to confirm; POST withdraws the whole grant (``space_unshare``)."""

    def get(self, request, team_slug, slug):
        space = self.get_space(permissions.MANAGE)
        form = RevokeForm(request.GET)
        if not form.is_valid():
            messages.error(request, "Choose a grant to revoke from the list.")
            return redirect(sharing_url(space))
        context = {
            "space": space,
            "form": form,
            "principal": form.principal(),
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                ("Sharing", sharing_url(space)),
                ("Revoke", None),
            ],
        }
        return render(request, "web/space/revoke.html", context)

    def post(self, request, team_slug, slug):
        space = self.get_space()
        form = RevokeForm(request.POST)
        if form.is_valid():
            try:
                services.space_unshare(
                    actor=self.actor, space=space, surface=SURFACE, **form.principal()
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                who = next(iter(form.principal().values()))
                messages.success(request, f"{who} no longer holds a grant here.")
        else:
            messages.error(request, "Choose a grant to revoke from the list.")
        return redirect(sharing_url(space))
