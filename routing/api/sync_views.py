"""Sync jobs API (``/api/v1/sync/``) and a space's sync status.

Operators create, change and delete jobs; people who manage a space see its
jobs, run them now and cancel a run; everyone else gets a 404 for a job, as
if it did not exist. A space's status is for whoever may view the space.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions as drf_permissions
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.viewsets import ActorViewSet
from memories.api.viewsets import SpaceViewSet
from memoryhub.errors import InvalidInput
from routing.api.serializers import (
    SyncJobSerializer,
    SyncJobWriteSerializer,
    SyncRunSerializer,
)
from routing.models import SyncTrigger
from routing.sync import selectors
from routing.sync import services as sync


class SyncJobViewSet(ActorViewSet):
    """Sync jobs: list, create, read, change, delete, run now, cancel, runs."""

    serializer_class = SyncJobSerializer
    permission_classes = [drf_permissions.IsAuthenticated]
    lookup_value_converter = "int"
    cursor_ordering = ("-id",)  # jobs and runs alike: newest first

    def list(self, request):
        """The jobs the caller may see, newest first."""
        return self.paginated(
            selectors.jobs_visible(self.actor).order_by("-id"),
            lambda page: SyncJobSerializer(page, many=True).data,
        )

    @extend_schema(request=SyncJobWriteSerializer, responses={201: SyncJobSerializer})
    def create(self, request):
        """A new job (operators); its schedule becomes a beat entry."""
        body = dict(self.body(SyncJobWriteSerializer))
        if "reset_cursors" in body:
            raise InvalidInput(
                "reset_cursors applies to a change of a job", field="reset_cursors"
            )
        job = sync.sync_job_create(actor=self.actor, **body)
        return Response(SyncJobSerializer(job).data, status=201)

    def retrieve(self, request, pk):
        """One job."""
        return Response(SyncJobSerializer(selectors.job_visible(self.actor, pk)).data)

    @extend_schema(request=SyncJobWriteSerializer, responses=SyncJobSerializer)
    def partial_update(self, request, pk):
        """Change a job (operators)."""
        job = selectors.job_visible(self.actor, pk)
        job = sync.sync_job_update(
            actor=self.actor, job=job, **self.body(SyncJobWriteSerializer)
        )
        return Response(
            SyncJobSerializer(selectors.job_visible(self.actor, job.pk)).data
        )

    def destroy(self, request, pk):
        """Remove a job, its runs and its schedule (operators)."""
        sync.sync_job_delete(
            actor=self.actor, job=selectors.job_visible(self.actor, pk)
        )
        return Response(status=204)

    @extend_schema(request=None, responses={202: SyncRunSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request, pk):
        """Start a run now; a job already running records a skipped run."""
        job = selectors.job_visible(self.actor, pk, manage=True)
        started = sync.sync_job_run(actor=self.actor, job=job, trigger=SyncTrigger.API)
        return Response(SyncRunSerializer(started).data, status=202)

    @extend_schema(request=None, responses={202: SyncRunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk):
        """Stop the running run after its current page (409 if none runs)."""
        job = selectors.job_visible(self.actor, pk, manage=True)
        return Response(
            SyncRunSerializer(sync.sync_run_cancel(actor=self.actor, job=job)).data,
            status=202,
        )

    @extend_schema(responses=SyncRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def runs(self, request, pk):
        """The job's runs, newest first."""
        return self.paginated(
            selectors.runs_of(actor=self.actor, job_pk=pk),
            lambda page: SyncRunSerializer(page, many=True).data,
        )


class SpaceSyncViewSet(SpaceViewSet):
    """A space's sync jobs with their last run, lag and errors."""

    @extend_schema(responses=dict)
    def list(self, request, slug):
        """Status of every sync job of the space."""
        return Response(
            {"results": selectors.space_sync_status(actor=self.actor, space=self.space)}
        )
