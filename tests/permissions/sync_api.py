"""Matrix entries of the sync API (``/api/v1/sync/``).

Operators manage every job. A space's managers (its team's owners and
admins, signed in) see the jobs of their spaces, run them and cancel a run,
but cannot create, change or delete one; everyone else gets a 404 for a job
(as if it did not exist) and an empty list. API keys never run a job. A
space's sync status is for whoever may view the space.
"""

from accounts.actors import SYSTEM
from routing.models import Backend, SyncJob, SyncRun
from routing.sync import services as sync
from tests.permission_matrix import CALLERS, operates, reads
from tests.permissions.registry import Case, endpoint
from tests.permissions.routing_api import _kept_unless_operator, _slug, backend

SYNC = "api/v1/sync/"
JOB = SYNC + "jobs/<int:pk>/"
# Who sees acme/default's job: the hub's operators and acme's owner.
SEES_JOB = {
    **dict.fromkeys(CALLERS, 404),
    "anonymous": 401,
    "operator": 200,
    "owner": 200,
}


def job(w, name: str = "acme-pull", space=None) -> SyncJob:
    """A pull job of ``space`` (acme/default) from a peer nobody listens to."""
    peer = Backend.objects.filter(name="peer").first() or backend()
    return sync.sync_job_create(
        actor=SYSTEM, name=name, space=space or w.space, backend=peer, direction="pull"
    )


def _statuses(base: dict, **changes) -> dict:
    return {**base, **changes}


SIGNED_IN = {**dict.fromkeys(CALLERS, 200), "anonymous": 401}


@endpoint("GET", SYNC + "jobs/", "sync-job-list", SIGNED_IN)
def job_list(w):
    """Everyone signed in gets a list: the operator every job, each space's
    owner that space's, the others none of them."""
    mine = job(w)
    theirs = job(w, "other-pull", space=w.other_space)

    def sees(who, response):
        if response.status_code != 200:
            return
        ids = {j["id"] for j in response.json()["results"]}
        expected = {
            "operator": {mine.pk, theirs.pk},
            "owner": {mine.pk},
            "other_team_user": {theirs.pk},  # the owner of other/default
        }.get(who, set())
        assert ids == expected, who

    return Case(w.call(), after=sees)


@endpoint("POST", SYNC + "jobs/", "sync-job-list", operates(201))
def job_create(w):
    """Only operators create a job."""
    peer = backend()
    return Case(
        lambda who: w.call(
            {
                "name": f"job-{_slug(who)}",
                "space": "acme/default",
                "backend": peer.name,
                "direction": "pull",
            }
        )
    )


@endpoint("GET", JOB, "sync-job-detail", SEES_JOB)
def job_detail(w):
    """The operator and the space's owner see a job; the rest 404."""
    return Case(w.call(pk=job(w).pk))


@endpoint("PATCH", JOB, "sync-job-detail", _statuses(SEES_JOB, owner=403))
def job_patch(w):
    """Only operators change a job; the owner sees it but may not."""
    found = job(w)

    def only_the_operator(results):
        found.refresh_from_db()
        assert found.name == "renamed-operator"

    return Case(
        lambda who: w.call({"name": f"renamed-{_slug(who)}"}, pk=found.pk),
        then=only_the_operator,
    )


@endpoint(
    "DELETE", JOB, "sync-job-detail", _statuses(SEES_JOB, owner=403, operator=204)
)
def job_delete(w):
    """Only operators delete a job."""
    rows = {}

    def call(who):
        rows[who] = job(w, f"doomed-{_slug(who)}")
        return w.call(pk=rows[who].pk)

    return Case(call, after=_kept_unless_operator(SyncJob, rows))


@endpoint(
    "POST", JOB + "run/", "sync-job-run", _statuses(SEES_JOB, owner=202, operator=202)
)
def job_run(w):
    """The operator and the space's owner start a run."""
    found = job(w)

    def started(who, response):
        if response.status_code == 202:
            assert response.json()["job"] == found.pk

    return Case(w.call(pk=found.pk), after=started)


@endpoint(
    "POST",
    JOB + "cancel/",
    "sync-job-cancel",
    _statuses(SEES_JOB, owner=202, operator=202),
)
def job_cancel(w):
    """The operator and the space's owner cancel the running run."""
    found = job(w)
    running = SyncRun.objects.create(job=found, trigger="api")

    def asked(results):
        running.refresh_from_db()
        assert running.cancel_requested

    return Case(w.call(pk=found.pk), then=asked)


@endpoint("GET", JOB + "runs/", "sync-job-runs", SEES_JOB)
def job_runs(w):
    """The operator and the space's owner read a job's runs."""
    found = job(w)
    SyncRun.objects.create(job=found, trigger="api", state="succeeded")
    return Case(w.call(pk=found.pk))


@endpoint("GET", SYNC + "spaces/<slug:slug>/", "sync-space-status", reads())
def space_status(w):
    """A space's viewers see its sync status; outsiders 404."""
    found = job(w)

    def lists_it(who, response):
        if response.status_code == 200:
            assert [j["job"] for j in response.json()["results"]] == [found.pk]

    return Case(w.space_call(), after=lists_it)
