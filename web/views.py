"""The team app's pages: thin views over the services and selectors.

Each view parses a form, calls the same service or selector the REST API
calls (with the actor of the session and ``surface="ui"``), and renders.
Permissions are the services' and selectors': a space or memory the person
may not see is their ``NotFound`` (a 404 page), a write they may not make is
their ``Forbidden`` (403). What the templates show or hide (edit buttons)
follows ``memories.permissions.space_perms``, the same answer the services
give. Sign-in is required by :mod:`web.middleware`, not by each view.
"""

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views import View

from accounts import selectors as account_selectors
from accounts.actors import Actor, actor_from_request
from memories import permissions, selectors, services
from memories.models import MemoryState
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.forms import (
    MemoryAddForm,
    MemoryEditForm,
    MemoryFilterForm,
    SearchForm,
    domain_error_to_form,
)
from web.pagination import cursor_page

SURFACE = "ui"


class WebView(View):
    """Base of every page: the session's actor; domain refusals as HTTP pages."""

    @property
    def actor(self) -> Actor:
        return actor_from_request(self.request)

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None


class SpaceMixin:
    """Resolves ``<team_slug>/<slug>`` through the space selector."""

    def get_space(self, perm: str = permissions.VIEW):
        return selectors.space_get(
            actor=self.actor,
            team_slug=self.kwargs["team_slug"],
            slug=self.kwargs["slug"],
            perm=perm,
        )


def _space_url(space) -> str:
    return reverse(
        "web:space", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )


def _memory_url(space, memory_id) -> str:
    return reverse(
        "web:memory",
        kwargs={
            "team_slug": space.team.slug,
            "slug": space.slug,
            "memory_id": memory_id,
        },
    )


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
                return redirect(_memory_url(space, memory.pk))
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
                page, context["next_cursor"] = cursor_page(
                    queryset, context["cursor"] or None
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
        context["next_query"] = _with_cursor(request.GET, context["next_cursor"])
        context["first_query"] = _with_cursor(request.GET, None, keep=False)
        context["snippets"] = _snippets(request, space)
        return context

    def _page(self, space, *, add_form, status: int = 200):
        perms = permissions.space_perms(self.actor, space)
        if add_form is None and permissions.ADD in perms:
            add_form = MemoryAddForm()
        context = {
            **self._browse(space),
            "perms": perms,
            "add_form": add_form,
            "crumbs": [(space.name or space.slug, None)],
        }
        return render(self.request, "web/space.html", context, status=status)


def _with_cursor(params, cursor: str | None, *, keep: bool = True) -> str | None:
    """The query string of another page: the same filters, ``cursor`` (the
    first page: ``keep=False``)."""
    if cursor is None and keep:
        return None
    query = params.copy()
    query.pop("cursor", None)
    if cursor is not None:
        query["cursor"] = cursor
    return query.urlencode()


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


class MemoryView(SpaceMixin, WebView):
    """One memory: its fields, its history, and (for those allowed) its edit
    form; a POST saves an edit against the version that was shown."""

    def get(self, request, team_slug, slug, memory_id):
        return self._page(self.get_space(), memory_id)

    def post(self, request, team_slug, slug, memory_id):
        space = self.get_space(permissions.CHANGE)
        current = self._memory(space, memory_id)
        form = MemoryEditForm(request.POST, initial=MemoryEditForm.initial_for(current))
        if form.is_valid():
            try:
                services.memory_update(
                    actor=self.actor,
                    space=space,
                    memory_id=memory_id,
                    expected_version=form.cleaned_data["version"],
                    surface=SURFACE,
                    **form.changes(),
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                if (
                    exc.status == 409
                    and current.version != form.cleaned_data["version"]
                ):
                    form = self._conflict_form(request.POST, current)
                else:
                    domain_error_to_form(form, exc)
            else:
                messages.success(request, "Memory saved.")
                return redirect(_memory_url(space, memory_id))
        return self._page(
            space,
            memory_id,
            edit_form=form,
            status=409 if form.errors.get("__all__") else 400,
        )

    @staticmethod
    def _conflict_form(data, current) -> MemoryEditForm:
        """The person's edit, kept, now against the current version (saving
        again replaces what changed meanwhile, knowingly)."""
        data = data.copy()
        data["version"] = current.version
        form = MemoryEditForm(data, initial=MemoryEditForm.initial_for(current))
        form.is_valid()
        form.add_error(
            None,
            f"This memory changed while you were editing it (it is now at "
            f"version {current.version}). Its current content is shown above; "
            "your text is kept below. Save again to replace it.",
        )
        return form

    def _memory(self, space, memory_id):
        return selectors.memory_get(
            actor=self.actor,
            space=space,
            memory_id=memory_id,
            surface=SURFACE,
            include_deleted=True,
        )

    def _page(self, space, memory_id, *, edit_form=None, status: int = 200):
        memory = self._memory(space, memory_id)
        history = selectors.memory_history(
            actor=self.actor, space=space, memory_id=memory_id, surface=SURFACE
        )
        perms = permissions.space_perms(self.actor, space)
        live = memory.state != MemoryState.DELETED
        can_change = live and permissions.CHANGE in perms
        editable = can_change and not memory.immutable
        if edit_form is None and editable:
            edit_form = MemoryEditForm(initial=MemoryEditForm.initial_for(memory))
        elif edit_form is not None and not editable:
            # No form to show the refusal next to (immutable, deleted meanwhile).
            for error in edit_form.non_field_errors():
                messages.error(self.request, error)
            edit_form = None
        context = {
            "space": space,
            "memory": memory,
            "metadata_json": json.dumps(memory.metadata, indent=2, ensure_ascii=False),
            "crumbs": [
                (space.name or space.slug, _space_url(space)),
                (f"Memory {str(memory.pk)[:8]}", None),
            ],
            "history": history,
            "edit_form": edit_form,
            "can_change": can_change,
            "can_delete": live and permissions.DELETE in perms,
        }
        return render(self.request, "web/memory/detail.html", context, status=status)


ACTIONS = {
    "archive": (
        permissions.CHANGE,
        "Archive",
        "Archived memories leave lists and searches; they can be restored.",
    ),
    "restore": (permissions.CHANGE, "Restore", "The memory becomes active again."),
    "delete": (
        permissions.DELETE,
        "Delete",
        "The memory is deleted; its history is kept.",
    ),
}


class MemoryActionView(SpaceMixin, WebView):
    """Archive, restore or delete a memory: GET asks to confirm, POST does it."""

    def get(self, request, team_slug, slug, memory_id, action):
        perm, label, explanation = self._action(action)
        space = self.get_space(perm)
        memory = selectors.memory_get(
            actor=self.actor, space=space, memory_id=memory_id, surface=SURFACE
        )
        context = {
            "space": space,
            "memory": memory,
            "action": action,
            "label": label,
            "crumbs": [
                (space.name or space.slug, _space_url(space)),
                (f"Memory {str(memory.pk)[:8]}", _memory_url(space, memory.pk)),
                (label, None),
            ],
            "explanation": explanation,
        }
        return render(request, "web/memory/confirm.html", context)

    def post(self, request, team_slug, slug, memory_id, action):
        perm, label, _ = self._action(action)
        space = self.get_space(perm)
        try:
            if action == "delete":
                services.memory_delete(
                    actor=self.actor, space=space, memory_id=memory_id, surface=SURFACE
                )
                messages.success(request, "Memory deleted.")
                return redirect(_space_url(space))
            services.memory_update(
                actor=self.actor,
                space=space,
                memory_id=memory_id,
                state=MemoryState.ARCHIVED
                if action == "archive"
                else MemoryState.ACTIVE,
                expected_version=_version(request.POST.get("version")),
                surface=SURFACE,
            )
        except (NotFound, Forbidden):
            raise
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Memory {label.lower()}d.")
        return redirect(_memory_url(space, memory_id))

    @staticmethod
    def _action(action: str) -> tuple:
        if action not in ACTIONS:
            raise Http404(f"no action {action!r}")
        return ACTIONS[action]


def _version(raw) -> int | None:
    """The version a confirmation page showed (None: whatever is current)."""
    return int(raw) if raw and raw.isdigit() else None
