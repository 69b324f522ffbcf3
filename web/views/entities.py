"""A space's entities: every user / agent / app / run id with its counts,
and the erasure of everything stored for one id (the GDPR request)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from memories import permissions, selectors, services
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.forms import EraseEntityForm
from web.navigation import space_tabs
from web.views.base import SURFACE, SpaceMixin, WebView, space_url


def entities_url(space) -> str:
    return reverse(
        "web:space_entities",
        kwargs={"team_slug": space.team.slug, "slug": space.slug},
    )


class EntitiesView(SpaceMixin, WebView):
    """Every id with active memories, grouped by kind, linking to the browser."""

    def get(self, request, team_slug, slug):
        space = self.get_space()
        entities = selectors.memory_entities(
            actor=self.actor, space=space, surface=SURFACE
        )
        perms = permissions.space_perms(self.actor, space)
        browse = space_url(space)
        erase = reverse(
            "web:space_erase", kwargs={"team_slug": team_slug, "slug": slug}
        )
        for entity in entities:
            entity["browse"] = (
                f"{browse}?{urlencode({entity['type'] + '_id': entity['name']})}"
            )
            entity["erase"] = (
                f"{erase}?{urlencode({'kind': entity['type'], 'name': entity['name']})}"
            )
        context = {
            "space": space,
            "entities": entities,
            "can_erase": permissions.DELETE in perms,
            "tabs": space_tabs(space, perms, "web:space_entities"),
            "crumbs": [(space.name or space.slug, browse), ("Entities", None)],
        }
        return render(request, "web/space/entities.html", context)


class EraseView(SpaceMixin, WebView):
    """GET asks to confirm by typing the id; POST erases (``delete_memory``)."""

    def get(self, request, team_slug, slug):
        space = self.get_space(permissions.DELETE)
        form = EraseEntityForm(initial=request.GET.dict())
        if request.GET.get("kind") not in ("user", "agent", "app", "run") or not (
            request.GET.get("name")
        ):
            messages.error(request, "Choose an id to erase from the list.")
            return redirect(entities_url(space))
        return self._page(space, form, request.GET["kind"], request.GET["name"])

    def post(self, request, team_slug, slug):
        space = self.get_space()
        form = EraseEntityForm(request.POST)
        if form.is_valid():
            try:
                erased = services.memory_delete_by_filter(
                    actor=self.actor,
                    space=space,
                    filters=form.filters(),
                    hard=True,
                    surface=SURFACE,
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    f"Erased {erased} memor{'y' if erased == 1 else 'ies'} of "
                    f"{form.cleaned_data['kind']} id {form.cleaned_data['name']}, "
                    "history included.",
                )
                return redirect(entities_url(space))
        return self._page(
            space,
            form,
            request.POST.get("kind", ""),
            request.POST.get("name", ""),
            status=400,
        )

    def _page(self, space, form, kind, name, status=200):
        context = {
            "space": space,
            "form": form,
            "kind": kind,
            "name": name,
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                ("Entities", entities_url(space)),
                ("Erase", None),
            ],
        }
        return render(self.request, "web/space/erase.html", context, status=status)
