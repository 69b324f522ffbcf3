"""A space's backends: which stores serve it, their circuits, its backlog,
and its sync jobs (last run, lag, errors; managers run them now)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from memories import permissions
from memoryhub.errors import Conflict
from routing import selectors as routing_selectors
from routing.models import SyncTrigger
from routing.sync import selectors as sync_selectors
from routing.sync import services as sync_services
from web.navigation import space_tabs
from web.views.base import SpaceMixin, WebView, space_url

SURFACE = "ui"


def backends_url(space) -> str:
    return reverse(
        "web:space_backends",
        kwargs={"team_slug": space.team.slug, "slug": space.slug},
    )


class BackendsView(SpaceMixin, WebView):
    """Read-only for teams; operators change routing in the admin."""

    def get(self, request, team_slug, slug):
        space = self.get_space()
        backends = routing_selectors.backends_serving(actor=self.actor, space=space)
        backlog = routing_selectors.space_backlog(actor=self.actor, space=space)
        for backend in backends:
            backend["backlog"] = backlog.get(backend["name"])
        perms = permissions.space_perms(self.actor, space)
        jobs = sync_selectors.space_sync_status(actor=self.actor, space=space)
        context = {
            "space": space,
            "backends": backends,
            "sync_jobs": jobs,
            "may_run": permissions.MANAGE in perms and self.actor.api_key is None,
            "only_local": [b["name"] for b in backends] == ["local"],
            "tabs": space_tabs(space, perms, "web:space_backends"),
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                ("Backends", None),
            ],
        }
        return render(request, "web/space/backends.html", context)


class SyncRunView(SpaceMixin, WebView):
    """Run one of the space's sync jobs now (people who manage the space)."""

    def post(self, request, team_slug, slug, job_pk):
        space = self.get_space()
        job = sync_selectors.job_visible(self.actor, job_pk, manage=True)
        if job.space_id != space.pk:
            job = sync_selectors.job_visible(self.actor, -1)  # 404, as elsewhere
        try:
            run = sync_services.sync_job_run(
                actor=self.actor, job=job, trigger=SyncTrigger.MANUAL
            )
        except Conflict as exc:
            messages.error(request, exc.message)
        else:
            text = {
                "skipped": f"Not started: {run.message}.",
                "running": f"Run {run.pk} of {job.name} started.",
            }.get(run.state, f"Run {run.pk} of {job.name}: {run.state}.")
            (messages.warning if run.state == "skipped" else messages.success)(
                request, text
            )
        return redirect(backends_url(space))
