"""A space: the memory browser, search and the add-memory form."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers

from memories import permissions, selectors, services
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.forms import (
    SORTS,
    MemoryAddForm,
    MemoryFilterForm,
    SearchForm,
    domain_error_to_form,
)
from web.navigation import space_tabs
from web.pagination import cursor_page, query_with_cursor
from web.views.base import SURFACE, SpaceMixin, WebView, memory_url


class SpaceView(SpaceMixin, WebView):
    """The memory browser (GET) and the add-memory form (POST) of a space.

    An htmx request (the filter or search form, a page link) gets only the
    results partial; the full page renders the same partial.
    """

    def get(self, request, team_slug, slug):
        space = self.get_space()
        if request.htmx and not request.htmx.history_restore_request:
            response = render(request, "web/space/_results.html", self._browse(space))
        else:
            response = self._page(space, add_form=None)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def post(self, request, team_slug, slug):
        space = self.get_space(permissions.ADD)
        form = MemoryAddForm(request.POST)
        if form.is_valid():
            try:
                memory, created = services.memory_add(
                    actor=self.actor,
                    space=space,
                    data=form.memory_data(),
                    surface=SURFACE,
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                domain_error_to_form(form, exc)
            else:
                if created:
                    messages.success(request, "Memory added.")
                else:
                    messages.info(
                        request,
                        "An identical memory already exists in this scope; here it is.",
                    )
                return redirect(memory_url(space, memory.pk))
        return self._page(space, add_form=form, status=400)

    def _browse(self, space) -> dict:
        """The filter and search forms and the results they select."""
        request, actor = self.request, self.actor
        params = request.GET if request.GET else None
        filter_form = MemoryFilterForm(params)
        search_form = SearchForm(params)
        context = {
            "space": space,
            "filter_form": filter_form,
            "search_form": search_form,
            "results": [],
            "searched": False,
            "next_cursor": None,
            "cursor": request.GET.get("cursor", ""),
            "error": None,
        }
        if params is not None and not (
            filter_form.is_valid() and search_form.is_valid()
        ):
            context["error"] = "Check the filter and search fields below."
            return context
        filters = filter_form.filters() if params is not None else {}
        search = search_form.search_arguments() if params is not None else None
        try:
            if search is not None:
                context["results"] = selectors.memory_search(
                    actor=actor,
                    space=space,
                    filters=filters or None,
                    surface=SURFACE,
                    **search,
                )
                context["searched"] = True
            else:
                queryset = selectors.memories_list(
                    actor=actor,
                    space=space,
                    filters=filters,
                    states=filter_form.states() if params is not None else ("active",),
                )
                label, order = filter_form.sort_choice() if params else SORTS["newest"]
                context["order_label"] = label
                page, context["next_cursor"] = cursor_page(
                    queryset, context["cursor"] or None, **order
                )
                context["results"] = selectors.memory_page_decrypt(
                    actor=actor, space=space, memories=page, surface=SURFACE
                )
        except (NotFound, Forbidden):
            raise
        except DomainError as exc:  # a bad filter, an unavailable embedder
            context["error"] = exc.message
        narrowed = bool(filters) or (
            params is not None and filter_form.states() != ("active",)
        )
        context["empty_space"] = context["error"] is None and not (
            context["results"] or context["searched"] or context["cursor"] or narrowed
        )
        context["next_query"] = query_with_cursor(request.GET, context["next_cursor"])
        context["first_query"] = query_with_cursor(request.GET, None, keep=False)
        context["snippets"] = _snippets(request, space)
        perms = permissions.space_perms(actor, space)
        context["bulk_actions"] = [
            action
            for action, perm in (
                ("archive", permissions.CHANGE),
                ("delete", permissions.DELETE),
                ("erase", permissions.DELETE),
            )
            if perm in perms
        ]
        return context

    def _page(self, space, *, add_form, status: int = 200):
        perms = permissions.space_perms(self.actor, space)
        if add_form is None and permissions.ADD in perms:
            add_form = MemoryAddForm()
        context = {
            **self._browse(space),
            "perms": perms,
            "tabs": space_tabs(space, perms, "web:space"),
            "add_form": add_form,
            "crumbs": [(space.name or space.slug, None)],
        }
        return render(self.request, "web/space.html", context, status=status)


def _snippets(request, space) -> dict:
    """Where this space is reached from code: REST, mem0's client, MCP."""
    base = request.build_absolute_uri("/").rstrip("/")
    mcp = settings.MCP_PUBLIC_URL or (
        f"{request.scheme}://{request.get_host().rsplit(':', 1)[0]}:"
        f"{settings.MCP_PORT}/mcp"
    )
    return {
        "base": base,
        "rest": f"{base}/api/v1/spaces/{space.slug}/memories/?team={space.team.slug}",
        "mcp": mcp,
    }
