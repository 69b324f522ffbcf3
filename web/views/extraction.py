"""A space's extraction page: extract memories from a conversation, the
recent extractions, the space's settings and which model it uses; and one
extraction's page, polled by htmx until it finishes.

Extracting needs ``add_memory``, the settings ``manage_space``; the services
decide (:mod:`memories.services.extraction`), these pages show and ask.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from memories import permissions, selectors, services
from memories.extraction import llm
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.forms import ExtractForm, ExtractionSettingsForm, domain_error_to_form
from web.navigation import space_tabs
from web.views.base import SURFACE, SpaceMixin, WebView, space_url

TAB = "web:space_extraction"


def extraction_url(space) -> str:
    return reverse(TAB, kwargs={"team_slug": space.team.slug, "slug": space.slug})


def event_url(space, event) -> str:
    return reverse(
        "web:space_extraction_event",
        kwargs={"team_slug": space.team.slug, "slug": space.slug, "event_id": event.pk},
    )


def _model_status(space) -> dict:
    """Which model the space's team extracts with, and whether it may."""
    config = llm.model_for_team(space.team_id)
    if config is None:
        return {"ready": False, "why": "No model is configured for this team."}
    if not config.allows_content:
        return {
            "ready": False,
            "model": config.model,
            "why": "An operator has not allowed content to be sent to it.",
        }
    return {"ready": True, "model": config.model, "source": config.source}


class ExtractionView(SpaceMixin, WebView):
    """GET: the page; POST ``action=extract`` or ``action=settings``."""

    def get(self, request, team_slug, slug):
        return self._page(self.get_space())

    def post(self, request, team_slug, slug):
        if request.POST.get("action") == "settings":
            return self._settings(self.get_space(permissions.MANAGE))
        space = self.get_space(permissions.ADD)
        form = ExtractForm(request.POST)
        if form.is_valid():
            messages_ = form.messages()
            try:
                event = services.extraction_submit(
                    actor=self.actor,
                    space=space,
                    messages=messages_ or form.cleaned_data["conversation"],
                    scope={
                        "user_id": form.cleaned_data["user_id"],
                        "agent_id": form.cleaned_data["agent_id"],
                    },
                    surface=SURFACE,
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                domain_error_to_form(form, exc)
            else:
                messages.success(
                    request, f"Extracting from {event.message_count} messages."
                )
                return redirect(event_url(space, event))
        return self._page(space, extract_form=form, status=400)

    def _settings(self, space):
        form = ExtractionSettingsForm(self.request.POST)
        if form.is_valid():
            try:
                services.extraction_settings_update(
                    actor=self.actor, space=space, surface=SURFACE, **form.values()
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                domain_error_to_form(form, exc)
            else:
                messages.success(self.request, "Extraction settings saved.")
                return redirect(extraction_url(space))
        return self._page(space, settings_form=form, status=400)

    def _page(self, space, *, extract_form=None, settings_form=None, status=200):
        perms = permissions.space_perms(self.actor, space)
        current = services.extraction_settings(space)
        if permissions.MANAGE in perms and settings_form is None:
            settings_form = ExtractionSettingsForm(
                initial=ExtractionSettingsForm.initial_for(current)
            )
        if permissions.ADD in perms and extract_form is None:
            extract_form = ExtractForm()
        context = {
            "space": space,
            "model": _model_status(space),
            "current": current,
            "extract_form": extract_form if permissions.ADD in perms else None,
            "settings_form": settings_form if permissions.MANAGE in perms else None,
            "events": selectors.extraction_events_of(actor=self.actor, space=space),
            "tabs": space_tabs(space, perms, TAB),
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                ("Extraction", None),
            ],
        }
        return render(self.request, "web/space/extraction.html", context, status=status)


class ExtractionEventView(SpaceMixin, WebView):
    """One extraction: its state, then what it did (audited as a read)."""

    def get(self, request, team_slug, slug, event_id):
        space = self.get_space()
        event = selectors.extraction_event_get(
            actor=self.actor, space=space, event_id=event_id
        )
        results = []
        if event.state == event.State.SUCCEEDED:
            results = selectors.extraction_results(
                actor=self.actor, space=space, event=event, surface=SURFACE
            )
        context = {
            "space": space,
            "event": event,
            "results": results,
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                ("Extraction", extraction_url(space)),
                (f"Extraction {str(event.pk)[:8]}", None),
            ],
        }
        template = (
            "web/space/_extraction_event.html"
            if request.htmx and not request.htmx.history_restore_request
            else "web/space/extraction_event.html"
        )
        response = render(request, template, context)
        patch_vary_headers(response, ["HX-Request"])
        return response
