"""A space's import (in the background, with progress) and export pages."""

import json

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from memories import permissions, selectors, services
from memories.services.transfer import mem0_export_chunks
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.forms import ImportForm, domain_error_to_form
from web.navigation import space_tabs
from web.views.base import SURFACE, SpaceMixin, WebView, space_url


def _kwargs(space) -> dict:
    return {"team_slug": space.team.slug, "slug": space.slug}


class ImportView(SpaceMixin, WebView):
    """GET: recent imports, the upload form and the export link; POST: upload."""

    def get(self, request, team_slug, slug):
        return self._page(self.get_space(), ImportForm())

    def post(self, request, team_slug, slug):
        space = self.get_space(permissions.ADD)
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.import_job_create(
                    actor=self.actor,
                    space=space,
                    data=upload.read(),
                    filename=upload.name,
                    surface=SURFACE,
                    format=form.cleaned_data["format"],
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                domain_error_to_form(form, exc)
            else:
                messages.success(
                    request, f"Importing {job.total_lines} items ({job.format})."
                )
                return redirect(
                    reverse(
                        "web:space_import_job",
                        kwargs={**_kwargs(space), "job_pk": job.pk},
                    )
                )
        return self._page(space, form, status=400)

    def _page(self, space, form, status=200):
        perms = permissions.space_perms(self.actor, space)
        context = {
            "space": space,
            "jobs": selectors.import_jobs_of(actor=self.actor, space=space),
            "form": form if permissions.ADD in perms else None,
            "tabs": space_tabs(space, perms, "web:space_import"),
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                ("Import / export", None),
            ],
        }
        return render(self.request, "web/space/import.html", context, status=status)


class ImportJobView(SpaceMixin, WebView):
    """A job's progress; htmx polls the progress partial until it finishes."""

    def get(self, request, team_slug, slug, job_pk):
        space = self.get_space()
        job = selectors.import_job_get(actor=self.actor, space=space, job_pk=job_pk)
        results = sorted(job.results, key=lambda r: (r["status"] != "error", r["line"]))
        context = {
            "space": space,
            "job": job,
            "results": results,
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                ("Import / export", reverse("web:space_import", kwargs=_kwargs(space))),
                (f"Import {job.pk}", None),
            ],
        }
        template = (
            "web/space/_import_progress.html"
            if request.htmx and not request.htmx.history_restore_request
            else "web/space/import_job.html"
        )
        response = render(request, template, context)
        patch_vary_headers(response, ["HX-Request"])
        return response


class ExportView(SpaceMixin, WebView):
    """The space as a JSON Lines download, or mem0's export with ``?format=mem0``
    (``memories_export``, audited)."""

    def get(self, request, team_slug, slug):
        space = self.get_space()
        shape = "mem0" if request.GET.get("format") == "mem0" else "memoryhub"
        rows = services.memories_export(
            actor=self.actor, space=space, surface=SURFACE, shape=shape
        )
        stem = f"{space.team.slug}-{space.slug}-{timezone.now():%Y-%m-%d}"
        if shape == "mem0":
            response = StreamingHttpResponse(
                mem0_export_chunks(space, rows), content_type="application/json"
            )
            response["Content-Disposition"] = f'attachment; filename="{stem}-mem0.json"'
            add_never_cache_headers(response)
            return response
        lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        name = f"{stem}.jsonl"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        add_never_cache_headers(response)
        return response
